using System.Diagnostics;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SafeRoute.Remote;

/// <summary>
/// Health of a <see cref="RoutedSafetyGuard"/>: Healthy when the small guard's model is loaded and answers a fixed probe
/// and the large tier (local model or remote server) answers it too; Degraded when only the large tier fails (the routed
/// guard still answers, under its <see cref="LargeGuardFailurePolicy"/>); the registration's failure status (Unhealthy by
/// default) when the small guard fails.
/// The probe is a constant benign text; no user text is involved.
/// </summary>
public sealed class SafeRouteHealthCheck : IHealthCheck
{
    private static readonly SafetyRequest Probe = new("Hello!");
    private readonly Func<RoutedSafetyGuard> _guard;

    /// <summary>Creates the check.</summary>
    /// <param name="guard">Resolves the routed guard (resolving it loads the models).</param>
    /// <exception cref="ArgumentNullException"><paramref name="guard"/> is <see langword="null"/>.</exception>
    public SafeRouteHealthCheck(Func<RoutedSafetyGuard> guard)
    {
        ArgumentNullException.ThrowIfNull(guard);
        _guard = guard;
    }

    /// <inheritdoc/>
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        RoutedSafetyGuard guard;
        long started = Stopwatch.GetTimestamp();
        try
        {
            guard = _guard();
            await guard.Small.EvaluateAsync(Probe, cancellationToken).ConfigureAwait(false);
            data["small_ms"] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            data["small_model"] = guard.Small.Name;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy, "The small guard is not loaded or does not answer.", ex, data);
        }

        started = Stopwatch.GetTimestamp();
        try
        {
            SafetyVerdict large = guard.Large is RemoteSafetyGuard remote
                ? await remote.ProbeAsync(cancellationToken).ConfigureAwait(false)
                : await guard.Large.EvaluateAsync(Probe, cancellationToken).ConfigureAwait(false);
            data["large_ms"] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (large.ModelName is { } name)
            {
                data["large_model"] = name;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            data["failure_policy"] = guard.FailurePolicy.ToString();
            return new HealthCheckResult(
                HealthStatus.Degraded,
                $"The large guard tier does not answer; routed inputs are handled by the {guard.FailurePolicy} policy.",
                ex,
                data);
        }

        return HealthCheckResult.Healthy("Both guard tiers answer.", data);
    }
}
