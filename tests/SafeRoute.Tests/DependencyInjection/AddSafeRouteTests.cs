using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SafeRoute.Routing;
using SafeRoute.Tests.Guards;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.DependencyInjection;

[TestFixture]
public sealed class AddSafeRouteTests
{
    private TempDirectory _temp = null!;
    private TestGuard _small = null!;
    private TestGuard _large = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _temp = new TempDirectory("saferoute-di");
        _small = TestGuardFactory.Create(_temp.Sub("small"), TestGuardOptions.Small);
        _large = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown() => _temp.Dispose();

    private void Configure(SafeRouteOptions o)
    {
        o.SmallModel.Path = _small.Directory;
        o.LargeModel.Path = _large.Directory;
        o.Router.Kind = RouterKind.Entropy;
    }

    [Test]
    public async Task Resolve_UnkeyedIsRouted_KeyedAreTiers_SameInstances()
    {
        var services = new ServiceCollection();
        services.AddSafeRoute(Configure);
        ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        var guard = provider.GetRequiredService<ISafetyGuard>();
        var routed = provider.GetRequiredService<RoutedSafetyGuard>();
        var small = provider.GetRequiredKeyedService<ISafetyGuard>(SafeRouteServiceKeys.Small);
        var large = provider.GetRequiredKeyedService<ISafetyGuard>(SafeRouteServiceKeys.Large);
        Assert.That(guard, Is.SameAs(routed));
        Assert.That(small, Is.SameAs(routed.Small));
        Assert.That(large, Is.SameAs(routed.Large));
        Assert.That(((OnnxSafetyGuard)small).Tier, Is.EqualTo(GuardTier.Small));
        Assert.That(((OnnxSafetyGuard)large).Tier, Is.EqualTo(GuardTier.Large));
        Assert.That(provider.GetRequiredService<ISafetyRouter>(), Is.InstanceOf<EntropyRouter>());

        SafetyVerdict verdict = await guard.EvaluateAsync(new SafetyRequest(TestGuard.TriggerWords[0]));
        Assert.That(verdict.IsUnsafe, Is.True);

        await provider.DisposeAsync();
        Assert.ThrowsAsync<ObjectDisposedException>(async () => await small.EvaluateAsync(new SafetyRequest("x")), "the container disposes the sessions it created");
    }

    [Test]
    public async Task ConfigurationOverload_BindsNestedSettings()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Guards:SmallModel:Path"] = _small.Directory,
            ["Guards:SmallModel:MaxBatchSize"] = "3",
            ["Guards:SmallModel:ExecutionProviders:0:Provider"] = "DirectML",
            ["Guards:SmallModel:ExecutionProviders:1:Provider"] = "Cpu",
            ["Guards:LargeModel:Path"] = _large.Directory,
            ["Guards:Router:Kind"] = "BatchCalibration",
            ["Guards:Router:MeanUnsafeProbability"] = "0.3",
            ["Guards:Threshold"] = "0.25",
            ["Guards:FailurePolicy"] = "FallBackToSmall",
        }).Build();
        var services = new ServiceCollection();
        services.AddSafeRoute(configuration.GetSection("Guards"));
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        SafeRouteOptions options = provider.GetRequiredService<IOptions<SafeRouteOptions>>().Value;
        Assert.That(options.SmallModel.ExecutionProviders.Select(p => p.Provider), Is.EqualTo(new[] { ExecutionProvider.DirectML, ExecutionProvider.Cpu }));
        var routed = provider.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(routed.Threshold, Is.EqualTo(0.25f));
        Assert.That(routed.FailurePolicy, Is.EqualTo(LargeGuardFailurePolicy.FallBackToSmall));
        Assert.That(routed.Router, Is.InstanceOf<BatchCalibrationRouter>());
        Assert.That(((OnnxSafetyGuard)routed.Small).Provider, Is.EqualTo(ExecutionProvider.Cpu));
    }

    [Test]
    public async Task ConfigurationOverload_BindsLargeGuardTimeout_RunByTheContainersTimeProvider()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SafeRoute:SmallModel:Path"] = _small.Directory,
            ["SafeRoute:LargeModel:Path"] = _large.Directory,
            ["SafeRoute:Router:Kind"] = "Entropy",
            ["SafeRoute:Threshold"] = "-1",
            ["SafeRoute:FailurePolicy"] = "FallBackToSmall",
            ["SafeRoute:LargeGuardTimeout"] = "00:00:02",
        }).Build();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var large = new ControlledGuard();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddKeyedSingleton<ISafetyGuard>(SafeRouteServiceKeys.Large, large); // AddSafeRoute keeps an existing registration
        services.AddSafeRoute(configuration.GetSection(SafeRouteOptions.SectionName));
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        var routed = provider.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(provider.GetRequiredService<IOptions<SafeRouteOptions>>().Value.LargeGuardTimeout, Is.EqualTo(TimeSpan.FromSeconds(2)));
        Assert.That(routed.LargeGuardTimeout, Is.EqualTo(TimeSpan.FromSeconds(2)));
        Task<SafetyVerdict> call = routed.EvaluateAsync(new SafetyRequest(TestGuard.TriggerWords[0])).AsTask();
        await RoutedLargeGuardContractTests.HangGuard(large.Entered);
        time.Advance(TimeSpan.FromSeconds(2));
        SafetyVerdict verdict = await RoutedLargeGuardContractTests.HangGuard(call);
        Assert.That(verdict.IsDegraded, Is.True, "the container's TimeProvider ran the timeout");
        Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Small));
    }

    [Test]
    public async Task Host_StartAsync_ValidatesAndWarmsUpBothModels()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSafeRoute(Configure);
        using IHost host = builder.Build();
        await host.StartAsync();
        var routed = host.Services.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(((OnnxSafetyGuard)routed.Small).RunCount, Is.EqualTo(1), "warm-up ran the small model once");
        Assert.That(((OnnxSafetyGuard)routed.Large).RunCount, Is.EqualTo(1), "warm-up ran the large model once");
        await host.StopAsync();
    }

    [Test]
    public void Host_StartAsync_BadPath_FailsAtStartupNamingSetting()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSafeRoute(o =>
        {
            Configure(o);
            o.LargeModel.Path = _temp.Sub("missing-large");
        });
        using IHost host = builder.Build();
        var ex = Assert.ThrowsAsync<OptionsValidationException>(async () => await host.StartAsync());
        Assert.That(ex!.Message, Does.Contain("LargeModel:Path").And.Contain("missing-large"));
    }

    [Test]
    public void Host_StartAsync_RouterSizeMismatch_FailsAtStartup()
    {
        string routerPath = RouterFiles.Write(_temp.Sub("mismatch.safetensors"), _small.HiddenSize * 2);
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSafeRoute(o =>
        {
            Configure(o);
            o.Router.Kind = RouterKind.Mlp;
            o.Router.Path = routerPath;
        });
        using IHost host = builder.Build();
        var ex = Assert.ThrowsAsync<SafeRouteException>(async () => await host.StartAsync());
        Assert.That(ex!.Message, Does.Contain((_small.HiddenSize * 2).ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [TestCase(null, 80f)]
    [TestCase("false", null)]
    [TestCase("true", 80f)]
    public async Task ConfigurationOverload_BindsLengthAwareRouting(string? setting, float? expected)
    {
        string routerPath = RouterFiles.Write(_temp.Sub($"length-{setting ?? "unset"}.safetensors"), _small.HiddenSize, threshold: 0.3f, lengthReference: 80f);
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Guards:SmallModel:Path"] = _small.Directory,
            ["Guards:LargeModel:Path"] = _large.Directory,
            ["Guards:Router:Kind"] = "Mlp",
            ["Guards:Router:Path"] = routerPath,
            ["Guards:LengthAwareRouting"] = setting,
        }).Build();
        var services = new ServiceCollection();
        services.AddSafeRoute(configuration.GetSection("Guards"));
        await using ServiceProvider provider = services.BuildServiceProvider();

        var routed = provider.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(routed.LengthReference, Is.EqualTo(expected));
        Assert.That(routed.Threshold, Is.EqualTo(0.3f));
    }

    [Test]
    public async Task CustomLargeGuard_IsUsedAndLargeModelIgnored()
    {
        var failing = new FailingGuard(new InvalidOperationException("remote down"));
        var services = new ServiceCollection();
        services.AddSafeRoute(
            o =>
            {
                o.SmallModel.Path = _small.Directory;
                o.Router.Kind = RouterKind.Entropy;
                o.Threshold = -1f;
            },
            _ => failing);
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();
        SafetyVerdict verdict = await provider.GetRequiredService<ISafetyGuard>().EvaluateAsync(new SafetyRequest(TestGuard.BenignWords[0]));
        Assert.That(failing.Calls, Is.EqualTo(1));
        Assert.That(verdict.IsDegraded && verdict.IsUnsafe, Is.True, "fail closed by default");
    }

    [Test]
    public async Task ContextualCalibration_MeasuresContentFreeInputAtStartup()
    {
        var services = new ServiceCollection();
        services.AddSafeRoute(o =>
        {
            Configure(o);
            o.Router.Kind = RouterKind.ContextualCalibration;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        var router = provider.GetRequiredService<ISafetyRouter>();
        Assert.That(router, Is.InstanceOf<ContextualCalibrationRouter>());
        var small = provider.GetRequiredKeyedService<OnnxSafetyGuard>(SafeRouteServiceKeys.Small);
        float p = ContextualCalibrationRouter.MeasureContentFree(small);
        var expected = new ContextualCalibrationRouter(p);
        Assert.That(router.Score([], 0.3f, 0.1f), Is.EqualTo(expected.Score([], 0.3f, 0.1f)));
    }

    [Test]
    public void AddSafeRoute_Twice_RegistersServicesOnce()
    {
        var services = new ServiceCollection();
        services.AddSafeRoute(Configure);
        services.AddSafeRoute(Configure);
        Assert.That(services.Count(d => d.ServiceType == typeof(ISafetyGuard) && !d.IsKeyedService), Is.EqualTo(1));
        Assert.That(services.Count(d => d.ServiceType == typeof(IHostedService)), Is.EqualTo(1));
    }
}
