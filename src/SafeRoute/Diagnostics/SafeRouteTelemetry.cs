using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace SafeRoute.Diagnostics;

/// <summary>
/// The "SafeRoute" meter and activity source. Instrument names (all tagged with low-cardinality values only; never text):
/// <c>saferoute.guard.duration</c> (histogram, s; tag <c>saferoute.tier</c>), <c>saferoute.requests</c> (counter; tag
/// <c>saferoute.routed</c> = true/false: routed share = routed / all), <c>saferoute.verdicts</c> (counter; tags
/// <c>saferoute.tier</c> = the deciding tier and <c>saferoute.outcome</c> = safe/unsafe/degraded),
/// <c>saferoute.large_guard.failures</c> (counter; tag <c>saferoute.policy</c>) and <c>saferoute.batch.size</c>
/// (histogram of inputs per call).
/// </summary>
internal sealed class SafeRouteTelemetry
{
    public const string Name = "SafeRoute";

    public const string TierTag = "saferoute.tier";

    public const string RoutedTag = "saferoute.routed";

    public const string OutcomeTag = "saferoute.outcome";

    public const string PolicyTag = "saferoute.policy";

    /// <summary>The first flagged category of an unsafe verdict ("none" when it has none); a code such as S1, never user text.</summary>
    public const string CategoryTag = "saferoute.category";

    private static readonly Lazy<SafeRouteTelemetry> SharedInstance = new(() => new SafeRouteTelemetry(new Meter(Name, Version)));

    private SafeRouteTelemetry(Meter meter)
    {
        GuardDuration = meter.CreateHistogram<double>("saferoute.guard.duration", "s", "Time one guard tier took for one call (a batch counts once).");
        Requests = meter.CreateCounter<long>("saferoute.requests", "{input}", "Inputs checked by the routed guard, tagged by whether the router sent them to the large guard.");
        Verdicts = meter.CreateCounter<long>("saferoute.verdicts", "{verdict}", "Verdicts by deciding tier and outcome.");
        LargeGuardFailures = meter.CreateCounter<long>("saferoute.large_guard.failures", "{input}", "Routed inputs whose large-guard call failed, by the failure policy applied.");
        BatchSize = meter.CreateHistogram<int>("saferoute.batch.size", "{input}", "Inputs per routed-guard call.");
    }

    /// <summary>Gets the activity source for the small guard, router and large guard spans.</summary>
    public static ActivitySource ActivitySource { get; } = new(Name, Version);

    /// <summary>Gets the process-wide instance used when no <see cref="IMeterFactory"/> is given.</summary>
    public static SafeRouteTelemetry Shared => SharedInstance.Value;

    public Histogram<double> GuardDuration { get; }

    public Counter<long> Requests { get; }

    public Counter<long> Verdicts { get; }

    public Counter<long> LargeGuardFailures { get; }

    public Histogram<int> BatchSize { get; }

    private static string? Version => typeof(SafeRouteTelemetry).Assembly.GetName().Version?.ToString();

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>, or returns <see cref="Shared"/>.</summary>
    public static SafeRouteTelemetry Create(IMeterFactory? meterFactory) =>
        meterFactory is null ? Shared : new SafeRouteTelemetry(meterFactory.Create(Name, Version));

    public static string TierName(GuardTier tier) => tier == GuardTier.Large ? "large" : "small";
}

/// <summary>Source-generated log messages. None of them takes user text.</summary>
internal static partial class SafeRouteLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "The large guard failed for {Count} routed input(s); failure policy {Policy} applied.")]
    public static partial void LargeGuardFailed(ILogger logger, int count, LargeGuardFailurePolicy policy, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Routed guard checked {Count} input(s): {Routed} routed to the large guard, {Unsafe} unsafe.")]
    public static partial void Checked(ILogger logger, int count, int routed, int @unsafe);
}
