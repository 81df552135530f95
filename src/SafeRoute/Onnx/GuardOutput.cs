namespace SafeRoute.Onnx;

/// <summary>What one forward pass of a guard yields for one row: the two verdict logits and the router's features.</summary>
internal readonly struct GuardOutput(float safeLogit, float unsafeLogit, float[]? features, bool truncated, IReadOnlyList<CategoryScore>? categories = null)
{
    /// <summary>Category scores (Llama Guard 3 on an unsafe verdict, multi-label classifiers), or null.</summary>
    public IReadOnlyList<CategoryScore>? Categories { get; } = categories;

    public float SafeLogit { get; } = safeLogit;

    public float UnsafeLogit { get; } = unsafeLogit;

    /// <summary>The last-token final hidden state (H floats), or null when the guard has none or it was not asked for.</summary>
    public float[]? Features { get; } = features;

    public bool Truncated { get; } = truncated;

    /// <summary>p(unsafe) = softmax([z_safe, z_unsafe])[1], computed stably.</summary>
    public float UnsafeProbability => VerdictMath.UnsafeProbability(SafeLogit, UnsafeLogit);

    /// <summary>The public form of this output.</summary>
    public GuardScore ToScore() => new(SafeLogit, UnsafeLogit, Features, Truncated, Categories);
}

internal static class VerdictMath
{
    /// <summary>The decision threshold δ of the method (p(unsafe) &gt; 0.5 is unsafe).</summary>
    public const float DecisionThreshold = SafetyVerdict.DecisionThreshold;

    public static float UnsafeProbability(float safeLogit, float unsafeLogit) => GuardScore.ProbabilityFromLogits(safeLogit, unsafeLogit);
}
