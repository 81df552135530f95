using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SafeRoute.Routing;
using SafeRoute.Tests.Guards;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.DependencyInjection;

/// <summary>Relative model and router paths resolve against the host's content root (DI with an
/// <see cref="IHostEnvironment"/>) or <see cref="AppContext.BaseDirectory"/>, never the current directory.</summary>
/// <remarks>Non-parallelizable: each test moves the process's current directory away from both bases.</remarks>
[TestFixture]
[NonParallelizable]
public sealed class ModelPathResolutionTests
{
    private readonly string _folderName = $"saferoute-relative-{Guid.NewGuid():N}";
    private string _folder = null!; // under AppContext.BaseDirectory: small/, large/, router.safetensors
    private TempDirectory _elsewhere = null!;
    private string _savedCurrentDirectory = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _folder = Path.Combine(AppContext.BaseDirectory, _folderName);
        TestGuard small = TestGuardFactory.Create(Path.Combine(_folder, "small"), TestGuardOptions.Small);
        TestGuardFactory.Create(Path.Combine(_folder, "large"), TestGuardOptions.Large);
        RouterFiles.Write(Path.Combine(_folder, "router.safetensors"), small.HiddenSize);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // best effort, as TempDirectory
        }
    }

    [SetUp]
    public void SetUp()
    {
        _savedCurrentDirectory = Environment.CurrentDirectory;
        _elsewhere = new TempDirectory("saferoute-cwd");
        Environment.CurrentDirectory = _elsewhere.Path;
    }

    [TearDown]
    public void TearDown()
    {
        Environment.CurrentDirectory = _savedCurrentDirectory;
        _elsewhere.Dispose();
    }

    private static void Configure(SafeRouteOptions o, string small, string large, string router)
    {
        o.SmallModel.Path = small;
        o.LargeModel.Path = large;
        o.Router.Kind = RouterKind.Mlp;
        o.Router.Path = router;
    }

    [Test]
    public async Task WithoutHost_RelativePaths_ResolveFromAppBaseDirectory()
    {
        string small = Path.Combine(_folderName, "small");
        string large = Path.Combine(_folderName, "large");
        string router = Path.Combine(_folderName, "router.safetensors");
        Assert.That(Directory.Exists(small), Is.False, "precondition: the current directory does not have the models");

        using (OnnxSafetyGuard guard = OnnxSafetyGuard.Create(small))
        {
            Assert.That(guard.ModelDirectory, Is.EqualTo(Path.Combine(_folder, "small")));
        }

        Assert.That(MlpRouter.Load(router).InputSize, Is.GreaterThan(0));

        var options = new SafeRouteOptions();
        Configure(options, small, large, router);
        using (RoutedSafetyGuard routed = RoutedSafetyGuard.Create(options))
        {
            Assert.That(((OnnxSafetyGuard)routed.Small).ModelDirectory, Is.EqualTo(Path.Combine(_folder, "small")));
            Assert.That(((OnnxSafetyGuard)routed.Large).ModelDirectory, Is.EqualTo(Path.Combine(_folder, "large")));
            Assert.That(routed.Router, Is.InstanceOf<MlpRouter>());
        }

        // DI without an IHostEnvironment: the same base.
        var services = new ServiceCollection();
        services.AddSafeRoute(o => Configure(o, small, large, router));
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();
        var fromContainer = provider.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(((OnnxSafetyGuard)fromContainer.Small).ModelDirectory, Is.EqualTo(Path.Combine(_folder, "small")));
        Assert.That(((OnnxSafetyGuard)fromContainer.Large).ModelDirectory, Is.EqualTo(Path.Combine(_folder, "large")));
        Assert.That(fromContainer.Router, Is.InstanceOf<MlpRouter>());
    }

    [Test]
    public void WithoutHost_MissingRelativePath_MessageShowsPathResolvedFromAppBaseDirectory()
    {
        var options = new SafeRouteOptions();
        Configure(options, "no-such-small", Path.Combine(_folderName, "large"), "no-such-router.safetensors");
        var ex = Assert.Throws<OptionsValidationException>(() => RoutedSafetyGuard.Create(options));
        Assert.That(ex!.Message, Does.Contain($"'{Path.Combine(AppContext.BaseDirectory, "no-such-small")}' does not exist"));
        Assert.That(ex.Message, Does.Contain($"'{Path.Combine(AppContext.BaseDirectory, "no-such-router.safetensors")}' does not exist"));
    }

    [Test]
    public async Task WithHostEnvironment_RelativePaths_ResolveFromContentRoot()
    {
        // "small" exists only under the content root: not in the current directory, not in AppContext.BaseDirectory.
        Assert.That(Directory.Exists(Path.Combine(AppContext.BaseDirectory, "small")), Is.False, "precondition");
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = _folder });
        builder.Services.AddSafeRoute(o => Configure(o, "small", "large", "router.safetensors"));
        using IHost host = builder.Build();
        await host.StartAsync();
        var routed = host.Services.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(((OnnxSafetyGuard)routed.Small).ModelDirectory, Is.EqualTo(Path.Combine(_folder, "small")));
        Assert.That(((OnnxSafetyGuard)routed.Large).ModelDirectory, Is.EqualTo(Path.Combine(_folder, "large")));
        Assert.That(routed.Router, Is.InstanceOf<MlpRouter>());
        Assert.That(((OnnxSafetyGuard)routed.Small).RunCount, Is.EqualTo(1), "warm-up ran");
        await host.StopAsync();
    }

    [Test]
    public void WithHostEnvironment_MissingRelativePath_MessageShowsPathResolvedFromContentRoot()
    {
        using var contentRoot = new TempDirectory("saferoute-content-root");
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = contentRoot.Path });
        builder.Services.AddSafeRoute(o => Configure(o, "small", "large", "router.safetensors"));
        using IHost host = builder.Build();
        var ex = Assert.ThrowsAsync<OptionsValidationException>(async () => await host.StartAsync());
        Assert.That(ex!.Message, Does.Contain($"'{Path.Combine(contentRoot.Path, "small")}' does not exist"));
        Assert.That(ex.Message, Does.Contain($"'{Path.Combine(contentRoot.Path, "router.safetensors")}' does not exist"));
    }
}
