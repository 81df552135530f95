using SafeRoute.Onnx;

namespace SafeRoute.Tests.Onnx;

[TestFixture]
public sealed class ExecutionProviderTests
{
    [Test]
    public void AvailableProviders_IncludeCpu()
    {
        Assert.That(OnnxSessionFactory.AvailableProviders, Does.Contain("CPUExecutionProvider"));
    }

    [Test]
    public void ChooseProvider_Empty_IsCpu()
    {
        Assert.That(OnnxSessionFactory.ChooseProvider([], "m").Provider, Is.EqualTo(ExecutionProvider.Cpu));
    }

    [Test]
    public void ChooseProvider_UnavailableThenCpu_FallsBackToCpu()
    {
        Assume.That(OnnxSessionFactory.AvailableProviders, Does.Not.Contain("CUDAExecutionProvider"), "this test needs the CPU-only ONNX Runtime package");
        var chosen = OnnxSessionFactory.ChooseProvider(
            [new ExecutionProviderOptions { Provider = ExecutionProvider.Cuda }, new ExecutionProviderOptions { Provider = ExecutionProvider.DirectML }, new ExecutionProviderOptions { Provider = ExecutionProvider.Cpu }],
            "m");
        Assert.That(chosen.Provider, Is.EqualTo(ExecutionProvider.Cpu));
    }

    [Test]
    public void ChooseProvider_OnlyUnavailable_ErrorNamesProviderAndPackage()
    {
        Assume.That(OnnxSessionFactory.AvailableProviders, Does.Not.Contain("CUDAExecutionProvider"), "this test needs the CPU-only ONNX Runtime package");
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSessionFactory.ChooseProvider(
            [new ExecutionProviderOptions { Provider = ExecutionProvider.Cuda, DeviceId = 1 }, new ExecutionProviderOptions { Provider = ExecutionProvider.OpenVino }],
            "my-guard"));
        Assert.That(ex!.Message, Does.Contain("Cuda").And.Contain("Microsoft.ML.OnnxRuntime.Gpu").And.Contain("OpenVino").And.Contain("Intel.ML.OnnxRuntime.OpenVino").And.Contain("my-guard").And.Contain("CPUExecutionProvider"));
    }

    [Test]
    public void CreateSessionOptions_AppliesDefaultsAndHook()
    {
        bool hookSawOptions = false;
        var options = new GuardModelOptions
        {
            IntraOpNumThreads = 3,
            ConfigureSessionOptions = so =>
            {
                hookSawOptions = so.IntraOpNumThreads == 3;
                so.InterOpNumThreads = 2;
            },
        };
        var (sessionOptions, provider) = OnnxSessionFactory.CreateSessionOptions(options, "m");
        using (sessionOptions)
        {
            Assert.That(provider, Is.EqualTo(ExecutionProvider.Cpu));
            Assert.That(hookSawOptions, Is.True, "the hook runs after SafeRoute's defaults are set");
            Assert.That(sessionOptions.InterOpNumThreads, Is.EqualTo(2));
            Assert.That(sessionOptions.GraphOptimizationLevel, Is.EqualTo(Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL));
        }
    }

    [Test]
    public void OrtName_CoversEveryProvider()
    {
        foreach (ExecutionProvider provider in Enum.GetValues<ExecutionProvider>())
        {
            Assert.That(OnnxSessionFactory.OrtName(provider), Does.EndWith("ExecutionProvider"));
            Assert.That(OnnxSessionFactory.PackageFor(provider), Is.Not.Empty);
        }
    }
}
