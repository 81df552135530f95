namespace SafeRoute.Training;

/// <summary>Settings of <see cref="RoutingEvaluator.Evaluate"/>: thresholds, the baselines' fitted parameters, and cost figures.</summary>
/// <remarks>A baseline whose parameter is not set (and SafeRoute without scores) is left out of the report.</remarks>
public sealed class RoutingEvaluationOptions
{
    /// <summary>Gets or sets ε of the SafeRoute router (route when the score is above it).</summary>
    /// <value>The default is 0.5, the reference code's ε.</value>
    public float SafeRouteThreshold { get; set; } = 0.5f;

    /// <summary>Gets or sets the entropy threshold, in bits, of the Entropy, TS, CC and BC baselines.</summary>
    /// <value>The default is 0.5, as in the paper.</value>
    public float UncertaintyThreshold { get; set; } = 0.5f;

    /// <summary>Gets or sets the temperature τ of the TS baseline (see <see cref="RoutingEvaluator.FitBaselines"/>).</summary>
    /// <value>The default is <see langword="null"/>: TS is left out.</value>
    public float? Temperature { get; set; }

    /// <summary>Gets or sets m, the mean small-guard p(unsafe) over training data, of the BC baseline.</summary>
    /// <value>The default is <see langword="null"/>: BC is left out.</value>
    public float? MeanUnsafeProbability { get; set; }

    /// <summary>Gets or sets the small guard's p(unsafe) for the content-free input " ", of the CC baseline (see <see cref="RoutingEvaluator.MeasureContentFree"/>).</summary>
    /// <value>The default is <see langword="null"/>: CC is left out.</value>
    public float? ContentFreeUnsafeProbability { get; set; }

    /// <summary>Gets or sets the seed of the Random baseline.</summary>
    /// <value>The default is 0.</value>
    public int RandomSeed { get; set; }

    /// <summary>Gets or sets the probability with which the Random baseline uses the large guard.</summary>
    /// <value>The default is 0.5, as in the paper.</value>
    public double RandomShare { get; set; } = 0.5;

    /// <summary>Gets or sets the measured mean latency of the small guard per row, in milliseconds.</summary>
    /// <value>The default is <see langword="null"/>: no latency columns.</value>
    public double? SmallLatencyMs { get; set; }

    /// <summary>Gets or sets the measured mean latency of the large guard per row, in milliseconds.</summary>
    /// <value>The default is <see langword="null"/>: no latency columns.</value>
    public double? LargeLatencyMs { get; set; }

    /// <summary>Gets or sets the small guard's FLOPs per row (an estimate, for example 2 × parameters × tokens).</summary>
    /// <value>The default is <see langword="null"/>: no FLOPs columns.</value>
    public double? SmallFlops { get; set; }

    /// <summary>Gets or sets the large guard's FLOPs per row.</summary>
    /// <value>The default is <see langword="null"/>: no FLOPs columns.</value>
    public double? LargeFlops { get; set; }
}
