using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using SafeRoute;
using SafeRoute.Remote;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the remote large guard and SafeRoute's health check.</summary>
public static class RemoteServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="RemoteSafetyGuard"/> as a singleton, with the named <see cref="HttpClient"/>
    /// <see cref="RemoteSafetyGuardOptions.HttpClientName"/> from <see cref="IHttpClientFactory"/> behind
    /// Microsoft.Extensions.Http.Resilience's standard pipeline, configured from the options: total timeout, retry with
    /// exponential back-off and jitter, circuit breaker and attempt timeout. The answer's body is read inside each attempt
    /// (up to <see cref="RemoteSafetyGuardOptions.MaxResponseBytes"/>), so both timeouts cover headers and body.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The HTTP client builder, to add handlers (for example authentication) or change the pipeline.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IHttpClientBuilder AddSafeRouteRemoteGuard(this IServiceCollection services, Action<RemoteSafetyGuardOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<RemoteSafetyGuardOptions>().Configure(configure).Validate(
            static o =>
            {
                o.Validate();
                return true;
            });
        services.AddSingleton(static sp => new RemoteSafetyGuard(
            sp.GetRequiredService<IHttpClientFactory>(),
            sp.GetRequiredService<IOptions<RemoteSafetyGuardOptions>>().Value,
            sp.GetService<ILogger<RemoteSafetyGuard>>()));
        // The standard resilience handler sets HttpClient.Timeout to infinite; the guard enforces TotalTimeout itself over
        // the whole call (headers and body), and the buffering handler below puts the body inside each attempt.
        IHttpClientBuilder builder = services.AddHttpClient(RemoteSafetyGuardOptions.HttpClientName);
        builder.AddStandardResilienceHandler().Configure(static (HttpStandardResilienceOptions r, IServiceProvider sp) =>
        {
            RemoteSafetyGuardOptions o = sp.GetRequiredService<IOptions<RemoteSafetyGuardOptions>>().Value;
            r.TotalRequestTimeout.Timeout = o.TotalTimeout;
            r.AttemptTimeout.Timeout = o.AttemptTimeout;
            r.Retry.MaxRetryAttempts = Math.Max(1, o.MaxRetryAttempts);
            r.Retry.Delay = o.RetryDelay;
            r.Retry.BackoffType = DelayBackoffType.Exponential;
            r.Retry.UseJitter = true;
            if (o.MaxRetryAttempts == 0)
            {
                r.Retry.ShouldHandle = static _ => ValueTask.FromResult(false);
            }

            r.CircuitBreaker.FailureRatio = o.CircuitBreakerFailureRatio;
            r.CircuitBreaker.BreakDuration = o.CircuitBreakerBreakDuration;
            r.CircuitBreaker.MinimumThroughput = o.CircuitBreakerMinimumThroughput;
            r.CircuitBreaker.SamplingDuration = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(30).Ticks, 2 * o.AttemptTimeout.Ticks));
        });

        // Inside the pipeline (added after it, so it runs within each attempt): the body is read before the attempt
        // returns, so the attempt and total timeouts, the retries and the circuit breaker cover a stalled body too.
        builder.AddHttpMessageHandler(static sp => new ResponseBufferingHandler(
            sp.GetRequiredService<IOptions<RemoteSafetyGuardOptions>>().Value.MaxResponseBytes,
            sp.GetService<ILogger<RemoteSafetyGuard>>()));
        return builder;
    }

    /// <summary>
    /// Registers SafeRoute (<c>AddSafeRoute</c>) with the small guard and router in-process and a
    /// <see cref="RemoteSafetyGuard"/> as the large tier. The routed guard's <see cref="SafeRouteOptions.FailurePolicy"/>
    /// decides what a failing server means.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets SafeRoute's options (small model, router, threshold, failure policy).</param>
    /// <param name="configureRemote">Sets the remote guard's options.</param>
    /// <returns>The HTTP client builder of the remote guard.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IHttpClientBuilder AddSafeRouteWithRemoteLargeGuard(this IServiceCollection services, Action<SafeRouteOptions> configure, Action<RemoteSafetyGuardOptions> configureRemote)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(configureRemote);
        IHttpClientBuilder builder = services.AddSafeRouteRemoteGuard(configureRemote);
        services.AddSafeRoute(configure, static sp => sp.GetRequiredService<RemoteSafetyGuard>());
        return builder;
    }

    /// <summary>Adds <see cref="SafeRouteHealthCheck"/> for the registered <see cref="RoutedSafetyGuard"/>.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="tags">Tags for filtering.</param>
    /// <param name="timeout">How long the check may take; <see langword="null"/> for no limit.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IHealthChecksBuilder AddSafeRoute(this IHealthChecksBuilder builder, string name = "saferoute", IEnumerable<string>? tags = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            static sp => new SafeRouteHealthCheck(() => sp.GetRequiredService<RoutedSafetyGuard>()),
            HealthStatus.Unhealthy,
            tags,
            timeout));
    }
}
