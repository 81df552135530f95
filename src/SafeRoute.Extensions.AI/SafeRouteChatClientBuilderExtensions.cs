using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SafeRoute;
using SafeRoute.Extensions.AI;

namespace Microsoft.Extensions.AI;

/// <summary>Adds SafeRoute to a Microsoft.Extensions.AI chat pipeline.</summary>
public static class SafeRouteChatClientBuilderExtensions
{
    /// <summary>Adds <see cref="SafeRouteChatClient"/> with the <see cref="ISafetyGuard"/> registered in the service
    /// provider (for example by <c>services.AddSafeRoute()</c>).</summary>
    /// <param name="builder">The chat client builder.</param>
    /// <param name="configure">Sets the options; <see langword="null"/> for the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static ChatClientBuilder UseSafeRoute(this ChatClientBuilder builder, Action<SafeRouteChatOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) => Create(inner, services.GetRequiredService<ISafetyGuard>(), services, configure));
    }

    /// <summary>Adds <see cref="SafeRouteChatClient"/> with the given guard.</summary>
    /// <param name="builder">The chat client builder.</param>
    /// <param name="guard">The guard.</param>
    /// <param name="configure">Sets the options; <see langword="null"/> for the defaults.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="guard"/> is <see langword="null"/>.</exception>
    public static ChatClientBuilder UseSafeRoute(this ChatClientBuilder builder, ISafetyGuard guard, Action<SafeRouteChatOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(guard);
        return builder.Use((inner, services) => Create(inner, guard, services, configure));
    }

    private static SafeRouteChatClient Create(IChatClient inner, ISafetyGuard guard, IServiceProvider services, Action<SafeRouteChatOptions>? configure)
    {
        var options = new SafeRouteChatOptions();
        configure?.Invoke(options);
        return new SafeRouteChatClient(inner, guard, options, services.GetService<ILoggerFactory>()?.CreateLogger<SafeRouteChatClient>());
    }
}
