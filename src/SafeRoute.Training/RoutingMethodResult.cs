namespace SafeRoute.Training;

/// <summary>One method's row of a <see cref="RoutingEvaluationReport"/>. Metrics with no positives to count are 0.</summary>
public sealed class RoutingMethodResult
{
    /// <summary>Gets the method.</summary>
    public required RoutingMethod Method { get; init; }

    /// <summary>Gets the short name used in tables: Small, Large, Random, Entropy, TS, CC, BC, SafeRoute, Oracle.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the routing threshold used, for score-based methods.</summary>
    /// <value><see langword="null"/> for Small, Large, Random and Oracle.</value>
    public float? Threshold { get; init; }

    /// <summary>Gets the safety F1 (unsafe is the positive class).</summary>
    public double SafetyF1 { get; init; }

    /// <summary>Gets the safety precision.</summary>
    public double SafetyPrecision { get; init; }

    /// <summary>Gets the safety recall.</summary>
    public double SafetyRecall { get; init; }

    /// <summary>Gets the area under the precision–recall curve: average precision over the deciding guard's p(unsafe).</summary>
    public double SafetyAuprc { get; init; }

    /// <summary>Gets the routing F1 against the hard labels.</summary>
    public double RoutingF1 { get; init; }

    /// <summary>Gets the routing precision against the hard labels.</summary>
    public double RoutingPrecision { get; init; }

    /// <summary>Gets the routing recall against the hard labels.</summary>
    public double RoutingRecall { get; init; }

    /// <summary>Gets the share of rows sent to the large guard.</summary>
    public double LargeShare { get; init; }

    /// <summary>Gets the mean latency per row in milliseconds: small + share × large (the large guard's alone for Large).</summary>
    /// <value><see langword="null"/> when no latencies were given.</value>
    public double? LatencyMs { get; init; }

    /// <summary>Gets <see cref="LatencyMs"/> relative to the small guard alone.</summary>
    /// <value><see langword="null"/> when no latencies were given.</value>
    public double? RelativeLatency { get; init; }

    /// <summary>Gets the estimated FLOPs per row, computed like <see cref="LatencyMs"/>.</summary>
    /// <value><see langword="null"/> when no FLOPs were given.</value>
    public double? Flops { get; init; }

    /// <summary>Gets <see cref="Flops"/> relative to the small guard alone.</summary>
    /// <value><see langword="null"/> when no FLOPs were given.</value>
    public double? RelativeFlops { get; init; }
}
