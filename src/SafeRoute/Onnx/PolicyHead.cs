using SafeRoute.Models;

namespace SafeRoute.Onnx;

/// <summary>
/// The verdict of a per-policy guard (ShieldGemma, Granite Guardian): each policy's pass gives p(violation) of that
/// policy (the normalised softmax mass of its Yes tokens, <see cref="VerdictHead"/>); every policy is reported as a
/// category (flagged when p ≥ its threshold and it is not ignored), and p(unsafe) is the largest p among the policies
/// that are not ignored, so the verdict is unsafe when any policy is violated. With every policy ignored nothing can make
/// the input unsafe.
/// </summary>
internal sealed class PolicyHead
{
    private readonly string[] _codes;
    private readonly bool[] _ignored;
    private readonly float[] _thresholds;

    public PolicyHead(IReadOnlyList<ResolvedPolicy> policies, CategoryOptions options)
    {
        _codes = [.. policies.Select(p => p.Code)];
        _ignored = [.. _codes.Select(options.Ignore.Contains)];
        _thresholds = [.. _codes.Select(options.ThresholdOf)];
    }

    /// <summary>Gets the number of policies (passes per input).</summary>
    public int Count => _codes.Length;

    /// <summary>The verdict logits and the categories of one input, from the outputs of its policy passes (in policy order).</summary>
    public (float Safe, float Unsafe, CategoryScore[] Categories) Score(ReadOnlySpan<GuardOutput> passes)
    {
        var categories = new CategoryScore[_codes.Length];
        int best = -1;
        for (int k = 0; k < _codes.Length; k++)
        {
            float p = passes[k].UnsafeProbability;
            categories[k] = new CategoryScore(_codes[k], p, !_ignored[k] && p >= _thresholds[k]);
            if (!_ignored[k] && (best < 0 || p > passes[best].UnsafeProbability))
            {
                best = k;
            }
        }

        // The worst policy's own logits, so p(unsafe) is exactly its p.
        return best < 0 ? (0f, -30f, categories) : (passes[best].SafeLogit, passes[best].UnsafeLogit, categories);
    }
}
