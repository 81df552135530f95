namespace SafeRoute.Training;

/// <summary>
/// The SafeRoute paper's hard labels (Eq. 1): an example is hard (t = 1) when the large guard is right and the small
/// guard is wrong, that is [p_large &gt; δ] == label and [p_small &gt; δ] != label, with δ = 0.5.
/// </summary>
public static class HardLabels
{
    /// <summary>The decision threshold δ: p(unsafe) &gt; 0.5 is an unsafe verdict.</summary>
    public const double DecisionThreshold = 0.5;

    /// <summary>Computes one hard label.</summary>
    /// <param name="smallUnsafeProbability">The small guard's p(unsafe).</param>
    /// <param name="largeUnsafeProbability">The large guard's p(unsafe).</param>
    /// <param name="label">The true label, 1 for unsafe and 0 for safe.</param>
    /// <returns><see langword="true"/> when the large guard is right and the small guard is wrong.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="label"/> is neither 0 nor 1.</exception>
    public static bool IsHard(double smallUnsafeProbability, double largeUnsafeProbability, int label)
    {
        if (label is not (0 or 1))
        {
            throw new ArgumentOutOfRangeException(nameof(label), label, "The label must be 0 (safe) or 1 (unsafe).");
        }

        bool truth = label == 1;
        return (largeUnsafeProbability > DecisionThreshold) == truth && (smallUnsafeProbability > DecisionThreshold) != truth;
    }

    /// <summary>Computes the hard labels of many examples.</summary>
    /// <param name="smallUnsafeProbabilities">The small guard's p(unsafe), one per example.</param>
    /// <param name="largeUnsafeProbabilities">The large guard's p(unsafe), one per example.</param>
    /// <param name="labels">The true labels.</param>
    /// <returns>One hard label per example.</returns>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is neither 0 nor 1.</exception>
    public static bool[] Compute(ReadOnlySpan<float> smallUnsafeProbabilities, ReadOnlySpan<float> largeUnsafeProbabilities, ReadOnlySpan<int> labels)
    {
        if (smallUnsafeProbabilities.Length != labels.Length || largeUnsafeProbabilities.Length != labels.Length)
        {
            throw new ArgumentException("The probabilities and labels must have the same length.", nameof(labels));
        }

        bool[] hard = new bool[labels.Length];
        for (int i = 0; i < hard.Length; i++)
        {
            hard[i] = IsHard(smallUnsafeProbabilities[i], largeUnsafeProbabilities[i], labels[i]);
        }

        return hard;
    }
}
