namespace SafeRoute.Onnx;

/// <summary>What one forward pass of a guard yields for one row: the two verdict logits and the router's features.</summary>
internal readonly struct GuardOutput(float safeLogit, float unsafeLogit, float[]? features, bool truncated)
{
    public float SafeLogit { get; } = safeLogit;

    public float UnsafeLogit { get; } = unsafeLogit;

    /// <summary>The last-token final hidden state (H floats), or null when the guard has none or it was not asked for.</summary>
    public float[]? Features { get; } = features;

    public bool Truncated { get; } = truncated;

    /// <summary>p(unsafe) = softmax([z_safe, z_unsafe])[1], computed stably.</summary>
    public float UnsafeProbability => VerdictMath.UnsafeProbability(SafeLogit, UnsafeLogit);
}

internal static class VerdictMath
{
    /// <summary>The decision threshold δ of the method (p(unsafe) &gt; 0.5 is unsafe).</summary>
    public const float DecisionThreshold = 0.5f;

    public static float UnsafeProbability(float safeLogit, float unsafeLogit)
    {
        double d = (double)safeLogit - unsafeLogit;
        return (float)(1.0 / (1.0 + Math.Exp(d)));
    }
}
