using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SafeRoute.DependencyInjection;

namespace SafeRoute.Tests.DependencyInjection;

[TestFixture]
public sealed class SafeRouteOptionsValidationTests
{
    [Test]
    public void AddSafeRoute_ArgValidation()
    {
        var services = new ServiceCollection();
        Assert.Throws<ArgumentNullException>(() => services.AddSafeRoute((Action<SafeRouteOptions>)null!));
        Assert.Throws<ArgumentNullException>(() => services.AddSafeRoute((IConfiguration)null!));
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddSafeRoute(_ => { }));
        Assert.Throws<ArgumentNullException>(() => services.AddSafeRoute(_ => { }, null!));
    }

    [Test]
    public void StartupValidation_MissingSettings_NameEachSettingByConfigurationPath()
    {
        string message = StartupValidationMessage(new Dictionary<string, string?>
        {
            ["SafeRoute:SmallModel:Path"] = "/definitely/not/here",
            ["SafeRoute:SmallModel:MaxBatchSize"] = "0",
            ["SafeRoute:Router:Kind"] = "TemperatureScaling",
        });
        Assert.That(message, Does.Contain("SafeRoute:SmallModel:Path").And.Contain("/definitely/not/here"));
        Assert.That(message, Does.Contain("SafeRoute:SmallModel:MaxBatchSize"));
        Assert.That(message, Does.Contain("SafeRoute:LargeModel:Path"));
        Assert.That(message, Does.Contain("SafeRoute:Router:Temperature"));
    }

    [Test]
    public void StartupValidation_OnlySmallModelConfigured_SaysThatAConfiguredModelSwitchesTheDefaultsOff()
    {
        // The default models are present in the test output, but a configured model switches them off.
        string message = StartupValidationMessage(new Dictionary<string, string?> { ["SafeRoute:SmallModel:Path"] = "/definitely/not/here" });
        Assert.Multiple(() =>
        {
            Assert.That(message, Does.Contain("SafeRoute:LargeModel:Path is required because SafeRoute:SmallModel:Path is set (the default models are used only when no model is configured at all). Set it to the folder that holds the guard's saferoute.json."));
            Assert.That(message, Does.Contain("SafeRoute:Router:Path is required because SafeRoute:SmallModel:Path is set (the default models are used only when no model is configured at all) and SafeRoute:Router:Kind is Mlp."));
            Assert.That(message, Does.Not.Contain("No model is configured").And.Not.Contain(SafeRoute.DependencyInjection.DefaultModels.Directory));
        });
    }

    [Test]
    public void Validator_TwoModelSettings_NamesBothAsTheReason()
    {
        var options = new SafeRouteOptions { SmallModel = { Path = "/nope/small" }, Router = { Path = "/nope/router.safetensors" } };
        ValidateOptionsResult result = new SafeRouteOptionsValidator("", customLargeGuard: false).Validate(null, options);
        Assert.That(result.Failures, Has.Some.StartsWith("LargeModel:Path is required because SmallModel:Path and Router:Path are set (the default models are used only when no model is configured at all)."));
    }

    [Test]
    public void Validator_NothingConfiguredAndNoDefaultModels_SaysToReferenceTheDefaultModelsPackage()
    {
        // When the default models are missing DefaultModels.Apply fills in nothing, and the validator sees empty options.
        ValidateOptionsResult result = new SafeRouteOptionsValidator("SafeRoute", customLargeGuard: false).Validate(null, new SafeRouteOptions());
        Assert.That(result.Failures, Is.EqualTo(new[]
        {
            $"No model is configured and the default models were not found in '{SafeRoute.DependencyInjection.DefaultModels.Directory}': reference the SafeRoute.Models.Default package, " +
            "whose models are used when no model is configured at all, or set SafeRoute:SmallModel:Path, SafeRoute:LargeModel:Path and SafeRoute:Router:Path.",
        }));

        // Only the settings that would be needed: no large model with a custom large guard, no router file for Entropy.
        result = new SafeRouteOptionsValidator("", customLargeGuard: true).Validate(null, new SafeRouteOptions { Router = { Kind = RouterKind.Entropy } });
        Assert.That(result.Failures!.Single(), Does.EndWith("or set SmallModel:Path."));
    }

    [Test]
    public void StartupValidation_ProviderSettingsThatWouldBeIgnored_AreErrorsNamingTheSetting()
    {
        string message = StartupValidationMessage(new Dictionary<string, string?>
        {
            ["SafeRoute:SmallModel:ExecutionProviders:0:Provider"] = "DirectML",
            ["SafeRoute:SmallModel:ExecutionProviders:0:Options:disable_metacommands"] = "1",
            ["SafeRoute:SmallModel:ExecutionProviders:1:Provider"] = "OpenVino",
            ["SafeRoute:SmallModel:ExecutionProviders:1:DeviceId"] = "2",
            ["SafeRoute:SmallModel:ExecutionProviders:2:Provider"] = "Cuda",
            ["SafeRoute:SmallModel:ExecutionProviders:2:DeviceId"] = "1",
            ["SafeRoute:SmallModel:ExecutionProviders:2:Options:gpu_mem_limit"] = "1000000",
            ["SafeRoute:SmallModel:ExecutionProviders:3:Provider"] = "Cpu",
        });
        Assert.Multiple(() =>
        {
            Assert.That(message, Does.Contain("SafeRoute:SmallModel:ExecutionProviders:0:Options").And.Contain("disable_metacommands"));
            Assert.That(message, Does.Contain("SafeRoute:SmallModel:ExecutionProviders:1:DeviceId"));
            Assert.That(message, Does.Not.Contain("ExecutionProviders:2"), "CUDA takes both a device id and options");
            Assert.That(message, Does.Not.Contain("ExecutionProviders:3"));
        });
    }

    [Test]
    public void Create_ProviderSettingsThatWouldBeIgnored_ThrowArgumentException()
    {
        var options = new GuardModelOptions();
        var xnnpack = new ExecutionProviderOptions { Provider = ExecutionProvider.XnnPack, DeviceId = 1 };
        options.ExecutionProviders.Add(xnnpack);
        options.ExecutionProviders.Add(new ExecutionProviderOptions { Provider = ExecutionProvider.Cpu });
        // Checked before the folder is read, so no model is needed.
        var ex = Assert.Throws<ArgumentException>(() => OnnxSafetyGuard.Create("/not/read", options));
        Assert.That(ex!.Message, Does.Contain("ExecutionProviders[0].DeviceId").And.Contain("XnnPack"));

        xnnpack.DeviceId = 0;
        xnnpack.Provider = ExecutionProvider.Rocm;
        xnnpack.Options["tunable_op_enable"] = "1";
        ex = Assert.Throws<ArgumentException>(() => OnnxSafetyGuard.Create("/not/read", options));
        Assert.That(ex!.Message, Does.Contain("ExecutionProviders[0].Options").And.Contain("tunable_op_enable"));
    }

    [Test]
    public void StartupValidation_MlpWithoutPath_SuggestsEntropy()
    {
        var services = new ServiceCollection();
        services.AddSafeRoute(o => o.SmallModel.Path = "/nope/small"); // a configured model: the defaults are not used
        using ServiceProvider provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.That(ex!.Message, Does.Contain("Router:Path").And.Contain("Entropy"));
    }

    [Test]
    public void StartupValidation_CustomLargeGuard_DoesNotRequireLargeModel()
    {
        var services = new ServiceCollection();
        services.AddSafeRoute(
            o =>
            {
                o.Router.Kind = RouterKind.Entropy;
                o.SmallModel.Path = "/nope/small";
            },
            _ => throw new InvalidOperationException("not resolved during validation"));
        using ServiceProvider provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.That(ex!.Message, Does.Contain("SmallModel:Path"));
        Assert.That(ex.Message, Does.Not.Contain("LargeModel"));
    }

    [TestCase("00:00:00")]
    [TestCase("-00:00:01")]
    [TestCase("01:00:00.0000001")]
    [TestCase("10675199.02:48:05.4775807")]
    public void StartupValidation_LargeGuardTimeoutOutOfRange_NamesTheSetting(string value)
    {
        string message = StartupValidationMessage(new Dictionary<string, string?> { ["SafeRoute:LargeGuardTimeout"] = value });
        Assert.That(message, Does.Contain("SafeRoute:LargeGuardTimeout must be greater than zero and at most 01:00:00"));
    }

    [Test]
    public void Validator_LargeGuardTimeout_UnsetOrInRange_IsValid()
    {
        var validator = new SafeRouteOptionsValidator("SafeRoute", customLargeGuard: true);
        foreach (TimeSpan? timeout in new TimeSpan?[] { null, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(2), TimeSpan.FromHours(1) })
        {
            var options = new SafeRouteOptions { LargeGuardTimeout = timeout };
            ValidateOptionsResult result = validator.Validate(null, options);
            Assert.That(result.Failures ?? [], Has.None.Contain("LargeGuardTimeout"), $"{timeout}");
        }
    }

    [Test]
    public void LengthAwareRouting_WithARouterKindThatHasNoLength_FailsAtStartupNamingBoth()
    {
        string message = StartupValidationMessage(new Dictionary<string, string?>
        {
            ["SafeRoute:SmallModel:Path"] = "/definitely/not/here",
            ["SafeRoute:LargeModel:Path"] = "/definitely/not/here/either",
            ["SafeRoute:Router:Kind"] = "Entropy",
            ["SafeRoute:LengthAwareRouting"] = "true",
        });
        Assert.That(message, Does.Contain("SafeRoute:LengthAwareRouting is true, but SafeRoute:Router:Kind is Entropy"));
    }

    [Test]
    public void RoutedSafetyGuardCreate_InvalidOptions_ThrowsBeforeLoading()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => RoutedSafetyGuard.Create(new SafeRouteOptions { Threshold = float.NaN, SmallModel = new GuardModelOptions { Path = "/nope/small" } }));
        Assert.That(ex!.Message, Does.Contain("Threshold").And.Contain("SmallModel:Path"));
    }

    /// <summary>Binds the settings under "SafeRoute", runs startup validation, and returns the failure message (the
    /// validation must fail).</summary>
    private static string StartupValidationMessage(Dictionary<string, string?> settings)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSafeRoute(configuration.GetSection("SafeRoute"));
        using ServiceProvider provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        return ex!.Message;
    }
}
