using System.Diagnostics.CodeAnalysis;

namespace SafeRoute;

/// <summary>
/// What a scoring guard yields for one request: its two verdict logits (from which p(unsafe) follows), the feature
/// vector a router reads, and optional category scores.
/// </summary>
/// <remarks>
/// A guard with a two-way softmax reports its own logits. Any other guard reports the log-odds of its p(unsafe):
/// <see cref="FromProbability"/> does that (safe logit 0, unsafe logit log(p / (1 − p))), which every router shipped with
/// SafeRoute reads exactly as it reads a softmax guard's logits (they depend only on the difference).
/// </remarks>
[Experimental(DiagnosticIds.Scoring)]
public readonly struct GuardScore
{
    /// <summary>Creates a score from two verdict logits.</summary>
    /// <param name="safeLogit">The logit of the "safe" verdict.</param>
    /// <param name="unsafeLogit">The logit of the "unsafe" verdict.</param>
    /// <param name="features">The router's feature vector (for example a last-token or pooled hidden state); empty when the guard exposes none or none was asked for.</param>
    /// <param name="wasTruncated">Whether the input was shortened to fit the guard's context.</param>
    /// <param name="categories">Category scores, or <see langword="null"/> when the guard reports none.</param>
    /// <exception cref="ArgumentOutOfRangeException">A logit is not a finite number.</exception>
    public GuardScore(float safeLogit, float unsafeLogit, ReadOnlyMemory<float> features = default, bool wasTruncated = false, IReadOnlyList<CategoryScore>? categories = null)
    {
        if (!float.IsFinite(safeLogit))
        {
            throw new ArgumentOutOfRangeException(nameof(safeLogit), safeLogit, "A verdict logit must be a finite number.");
        }

        if (!float.IsFinite(unsafeLogit))
        {
            throw new ArgumentOutOfRangeException(nameof(unsafeLogit), unsafeLogit, "A verdict logit must be a finite number.");
        }

        SafeLogit = safeLogit;
        UnsafeLogit = unsafeLogit;
        Features = features;
        WasTruncated = wasTruncated;
        Categories = categories;
    }

    /// <summary>Gets the logit of the "safe" verdict.</summary>
    public float SafeLogit { get; }

    /// <summary>Gets the logit of the "unsafe" verdict.</summary>
    public float UnsafeLogit { get; }

    /// <summary>Gets p(unsafe) = softmax([<see cref="SafeLogit"/>, <see cref="UnsafeLogit"/>])[1].</summary>
    public float UnsafeProbability => ProbabilityFromLogits(SafeLogit, UnsafeLogit);

    /// <summary>Gets the router's feature vector; empty when the guard exposes none or none was asked for.</summary>
    public ReadOnlyMemory<float> Features { get; }

    /// <summary>Gets a value indicating whether the input was shortened to fit the guard's context.</summary>
    public bool WasTruncated { get; }

    /// <summary>Gets the category scores, or <see langword="null"/> when the guard reports none (or did not compute them,
    /// as Llama Guard 3 does not for a safe verdict).</summary>
    public IReadOnlyList<CategoryScore>? Categories { get; }

    /// <summary>Creates a score from a probability, as its log-odds.</summary>
    /// <param name="unsafeProbability">p(unsafe), in [0, 1]; it is clamped into [1e-7, 1 − 1e-7] so that the logits stay finite.</param>
    /// <param name="features">The router's feature vector, or empty.</param>
    /// <param name="wasTruncated">Whether the input was shortened to fit the guard's context.</param>
    /// <param name="categories">Category scores, or <see langword="null"/>.</param>
    /// <returns>The score.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="unsafeProbability"/> is not a number in [0, 1].</exception>
    public static GuardScore FromProbability(float unsafeProbability, ReadOnlyMemory<float> features = default, bool wasTruncated = false, IReadOnlyList<CategoryScore>? categories = null)
    {
        if (!(unsafeProbability >= 0f && unsafeProbability <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(unsafeProbability), unsafeProbability, "p(unsafe) must be a number in [0, 1].");
        }

        double p = Math.Clamp((double)unsafeProbability, 1e-7, 1 - 1e-7);
        return new GuardScore(0f, (float)Math.Log(p / (1 - p)), features, wasTruncated, categories);
    }

    /// <summary>The numerically stable two-way softmax: p(unsafe) = 1 / (1 + exp(safe − unsafe)).</summary>
    /// <param name="safeLogit">The logit of the "safe" verdict.</param>
    /// <param name="unsafeLogit">The logit of the "unsafe" verdict.</param>
    /// <returns>p(unsafe).</returns>
    public static float ProbabilityFromLogits(float safeLogit, float unsafeLogit)
    {
        double d = (double)safeLogit - unsafeLogit;
        return (float)(1.0 / (1.0 + Math.Exp(d)));
    }
}
