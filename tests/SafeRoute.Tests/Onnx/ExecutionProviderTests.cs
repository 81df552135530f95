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
        Assert.That(ex.Message, Does.EndWith(
            "Reference that package (such as Microsoft.ML.OnnxRuntime.Gpu or Microsoft.ML.OnnxRuntime.DirectML) instead of the CPU package Microsoft.ML.OnnxRuntime, " +
            "and end ExecutionProviders with Cpu to fall back to the CPU."));
    }

    [Test]
    public void LoadingNativeLibrary_NativeLibraryMissing_OneClearSafeRouteExceptionWithTheCause()
    {
        // What the first ONNX Runtime call throws when the app references only Microsoft.ML.OnnxRuntime.Managed.
        var missing = new TypeInitializationException("Microsoft.ML.OnnxRuntime.NativeMethods", new DllNotFoundException("Unable to load shared library 'onnxruntime'"));
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSessionFactory.LoadingNativeLibrary<int>(() => throw missing));
        Assert.That(ex!.Message, Is.EqualTo(
            "ONNX Runtime's native library could not be loaded: reference Microsoft.ML.OnnxRuntime (CPU; SafeRoute.Models.Default brings it) " +
            "or a GPU package such as Microsoft.ML.OnnxRuntime.Gpu."));
        Assert.That(ex.InnerException, Is.SameAs(missing));

        var notFound = new DllNotFoundException("onnxruntime");
        ex = Assert.Throws<SafeRouteException>(() => OnnxSessionFactory.LoadingNativeLibrary<int>(() => throw notFound));
        Assert.That(ex!.InnerException, Is.SameAs(notFound));

        // Other failures (an unavailable provider) keep their own message.
        var other = new SafeRouteException("no provider");
        Assert.That(Assert.Throws<SafeRouteException>(() => OnnxSessionFactory.LoadingNativeLibrary<int>(() => throw other)), Is.SameAs(other));
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
