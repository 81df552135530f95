namespace SafeRoute.Routing;

/// <summary>
/// Decides, from the small guard's output, how much an input needs the large guard. Higher scores mean "harder";
/// a routed guard sends an input to the large guard when the score is above its threshold.
/// </summary>
/// <remarks>Implementations must be safe for concurrent use.</remarks>
public interface ISafetyRouter
{
    /// <summary>Gets a short name for logs and metrics (for example "mlp" or "entropy").</summary>
    string Name { get; }

    /// <summary>Gets the feature-vector length the router reads, or <see langword="null"/> when it reads only the two verdict logits.</summary>
    int? FeatureSize { get; }

    /// <summary>Gets the threshold to use when none is configured.</summary>
    float DefaultThreshold { get; }

    /// <summary>Scores one input.</summary>
    /// <param name="features">The small guard's last-token final hidden state (empty when the guard exposes none).</param>
    /// <param name="safeLogit">The small guard's logit for its "safe" token.</param>
    /// <param name="unsafeLogit">The small guard's logit for its "unsafe" token.</param>
    /// <returns>The routing score.</returns>
    float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit);
}
