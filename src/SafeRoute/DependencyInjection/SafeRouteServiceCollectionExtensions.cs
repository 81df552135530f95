using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SafeRoute;
using SafeRoute.DependencyInjection;
using SafeRoute.Routing;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers SafeRoute's adaptive guard with a service collection.</summary>
public static class SafeRouteServiceCollectionExtensions
{
    /// <summary>Registers SafeRoute with the default demonstration models (small and large guard and a trained router)
    /// that the SafeRoute.Models.Default package copies next to the app. Startup fails with a clear message when they are
    /// not there. See the model card before relying on them: they are demonstrations, not a production safety filter.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddSafeRoute(this IServiceCollection services) => services.AddSafeRoute(static _ => { });

    /// <summary>
    /// Registers the routed guard as <see cref="ISafetyGuard"/> (and <see cref="RoutedSafetyGuard"/>), the tiers as keyed
    /// <see cref="ISafetyGuard"/> services (<see cref="SafeRouteServiceKeys.Small"/>, <see cref="SafeRouteServiceKeys.Large"/>),
    /// the router as <see cref="ISafetyRouter"/>, options validated at startup, and a warm-up hosted service. All are
    /// singletons owned and disposed by the container. A second call adds its configuration but no second set of services.
    /// Relative model and router paths are resolved against the host's content root
    /// (<see cref="IHostEnvironment.ContentRootPath"/>) when the container has an <see cref="IHostEnvironment"/>, else
    /// against <see cref="AppContext.BaseDirectory"/>; never against the current directory.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IServiceCollection AddSafeRoute(this IServiceCollection services, Action<SafeRouteOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SafeRouteOptions>().Configure(configure);
        return AddCore(services, sectionPath: "", largeGuardFactory: null);
    }

    /// <summary>Registers SafeRoute with options bound from a configuration section (for example <c>configuration.GetSection("SafeRoute")</c>).
    /// Validation messages name settings by their configuration path.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section that holds <see cref="SafeRouteOptions"/>.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IServiceCollection AddSafeRoute(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<SafeRouteOptions>().Bind(configuration);
        return AddCore(services, (configuration as IConfigurationSection)?.Path ?? "", largeGuardFactory: null);
    }

    /// <summary>Registers SafeRoute with any <see cref="ISafetyGuard"/> as the large tier (for example a remote guard);
    /// <see cref="SafeRouteOptions.LargeModel"/> is then ignored.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <param name="largeGuardFactory">Creates the large guard. If it returns an <see cref="IDisposable"/>, the container disposes it.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IServiceCollection AddSafeRoute(this IServiceCollection services, Action<SafeRouteOptions> configure, Func<IServiceProvider, ISafetyGuard> largeGuardFactory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(largeGuardFactory);
        services.AddOptions<SafeRouteOptions>().Configure(configure);
        return AddCore(services, sectionPath: "", largeGuardFactory);
    }

    private static IServiceCollection AddCore(IServiceCollection services, string sectionPath, Func<IServiceProvider, ISafetyGuard>? largeGuardFactory)
    {
        services.AddOptions<SafeRouteOptions>().ValidateOnStart();

        // No model configured at all: use the default demonstration models when the app ships them.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<SafeRouteOptions>, DefaultModelsPostConfigure>());
        // Relative model paths: against the host's content root when there is a host, else the app's base directory.
        bool customLargeGuard = largeGuardFactory is not null;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SafeRouteOptions>, SafeRouteOptionsValidator>(
            sp => new SafeRouteOptionsValidator(sectionPath, customLargeGuard, ModelPaths.BaseDirectory(sp))));

        services.TryAddKeyedSingleton<OnnxSafetyGuard>(SafeRouteServiceKeys.Small, static (sp, _) =>
        {
            SafeRouteOptions options = sp.GetRequiredService<IOptions<SafeRouteOptions>>().Value;
            return OnnxSafetyGuard.Create(ModelPaths.Resolve(options.SmallModel.Path!, ModelPaths.BaseDirectory(sp)), options.SmallModel, GuardTier.Small);
        });
        services.TryAddKeyedSingleton<IScoringSafetyGuard>(SafeRouteServiceKeys.Small, static (sp, _) => sp.GetRequiredKeyedService<OnnxSafetyGuard>(SafeRouteServiceKeys.Small));
        services.TryAddKeyedSingleton<ISafetyGuard>(SafeRouteServiceKeys.Small, static (sp, _) => sp.GetRequiredKeyedService<IScoringSafetyGuard>(SafeRouteServiceKeys.Small));
        if (largeGuardFactory is not null)
        {
            services.TryAddKeyedSingleton<ISafetyGuard>(SafeRouteServiceKeys.Large, (sp, _) => largeGuardFactory(sp));
        }
        else
        {
            services.TryAddKeyedSingleton<ISafetyGuard>(SafeRouteServiceKeys.Large, static (sp, _) =>
            {
                SafeRouteOptions options = sp.GetRequiredService<IOptions<SafeRouteOptions>>().Value;
                return OnnxSafetyGuard.Create(ModelPaths.Resolve(options.LargeModel.Path!, ModelPaths.BaseDirectory(sp)), options.LargeModel, GuardTier.Large);
            });
        }

        services.TryAddSingleton<ISafetyRouter>(static sp =>
        {
            SafeRouteOptions options = sp.GetRequiredService<IOptions<SafeRouteOptions>>().Value;
            return RouterFactory.Create(options.Router, sp.GetRequiredKeyedService<IScoringSafetyGuard>(SafeRouteServiceKeys.Small), ModelPaths.BaseDirectory(sp));
        });
        services.TryAddSingleton(static sp =>
        {
            SafeRouteOptions options = sp.GetRequiredService<IOptions<SafeRouteOptions>>().Value;
            return new RoutedSafetyGuard(
                sp.GetRequiredKeyedService<IScoringSafetyGuard>(SafeRouteServiceKeys.Small),
                sp.GetRequiredKeyedService<ISafetyGuard>(SafeRouteServiceKeys.Large),
                sp.GetRequiredService<ISafetyRouter>(),
                new RoutedSafetyGuardOptions
                {
                    Threshold = options.Threshold,
                    LengthAwareRouting = options.LengthAwareRouting,
                    FailurePolicy = options.FailurePolicy,
                    LargeGuardTimeout = options.LargeGuardTimeout,
                    TimeProvider = sp.GetService<TimeProvider>(),
                    OwnsGuards = false,
                    MeterFactory = sp.GetService<System.Diagnostics.Metrics.IMeterFactory>(),
                    LoggerFactory = sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>(),
                });
        });
        services.TryAddSingleton<ISafetyGuard>(static sp => sp.GetRequiredService<RoutedSafetyGuard>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SafeRouteWarmUpService>());
        return services;
    }
}

/// <summary>Applies <see cref="DefaultModels"/> after all configuration has run.</summary>
internal sealed class DefaultModelsPostConfigure : IPostConfigureOptions<SafeRouteOptions>
{
    public void PostConfigure(string? name, SafeRouteOptions options) => DefaultModels.Apply(options);
}
