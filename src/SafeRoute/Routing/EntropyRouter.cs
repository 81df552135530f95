namespace SafeRoute.Routing;

/// <summary>
/// The entropy baseline of the SafeRoute paper: routes on the binary entropy, in bits, of the small guard's
/// two-way distribution q = softmax([z_safe, z_unsafe]). An input goes to the large guard when the entropy is above
/// the threshold (0.5 bits by default).
/// </summary>
/// <remarks>
/// The score only decides routing; the small guard's verdict is still its uncalibrated q(unsafe) &gt; 0.5.
/// The score is computed in double precision from log-probabilities and is finite for any finite logits.
/// Instances are immutable and safe for concurrent use.
/// </remarks>
public sealed class EntropyRouter : ISafetyRouter
{
    /// <summary>Gets the router's name, <c>"entropy"</c>.</summary>
    /// <value>Always <c>"entropy"</c>.</value>
    public string Name => "entropy";

    /// <summary>Gets the feature size; this router reads only the two verdict logits.</summary>
    /// <value>Always <see langword="null"/>.</value>
    public int? FeatureSize => null;

    /// <summary>Gets the threshold to use when none is configured, in bits.</summary>
    /// <value>0.5, as in the paper.</value>
    public float DefaultThreshold => 0.5f;

    /// <summary>Scores one input as the binary entropy of the small guard's distribution.</summary>
    /// <param name="features">Ignored by this router.</param>
    /// <param name="safeLogit">The small guard's logit for "safe".</param>
    /// <param name="unsafeLogit">The small guard's logit for "unsafe".</param>
    /// <returns>The entropy in bits, in [0, 1]; <see cref="float.NaN"/> only when a logit is NaN or both are the same infinity.</returns>
    public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) =>
        (float)BinaryUncertainty.EntropyBits(BinaryUncertainty.LogitDifference(safeLogit, unsafeLogit));
}
