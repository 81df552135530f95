namespace SafeRoute.Training;

/// <summary>
/// Chooses the routing threshold ε (an input goes to the large guard when its router score is above ε): for a target
/// share of inputs sent to the large guard, or for the best routed safety F1 on a validation set.
/// </summary>
/// <remarks>
/// Only thresholds that separate distinct scores are considered, so tied scores are always routed together; ε is
/// a score value (or just below the lowest score, to route everything). A NaN score is always routed, as the core's
/// routed guard escalates on NaN.
/// </remarks>
public static class ThresholdCalibrator
{
    /// <summary>
    /// Chooses ε so that the share of <paramref name="scores"/> above it is as close as possible to
    /// <paramref name="targetShare"/>. When ties make the target unreachable, the nearer achievable share wins; on equal
    /// distance, the smaller share (the cheaper threshold).
    /// </summary>
    /// <param name="scores">Router scores of representative inputs.</param>
    /// <param name="targetShare">The wanted share of inputs sent to the large guard, in [0, 1].</param>
    /// <returns>ε and the share it gives on <paramref name="scores"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="scores"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="targetShare"/> is outside [0, 1].</exception>
    public static ThresholdCalibration ForTargetShare(ReadOnlySpan<float> scores, double targetShare)
    {
        if (scores.IsEmpty)
        {
            throw new ArgumentException("Calibration needs at least one score.", nameof(scores));
        }

        if (!(targetShare is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(targetShare), targetShare, "The target share must be in [0, 1].");
        }

        (float[] sorted, int nan) = SortDescending(scores);
        int n = scores.Length;
        ThresholdCalibration best = Candidate(sorted, nan, n, 0, null);
        double bestDistance = Math.Abs(best.LargeShare - targetShare);
        int i = 0;
        while (i < sorted.Length)
        {
            i = EndOfGroup(sorted, i);
            ThresholdCalibration c = Candidate(sorted, nan, n, i, null);
            double distance = Math.Abs(c.LargeShare - targetShare);
            if (distance < bestDistance)
            {
                best = c;
                bestDistance = distance;
            }
        }

        return best;
    }

    /// <summary>
    /// Chooses ε to maximise the routed system's safety F1 (unsafe positive): below or at ε the small guard's verdict
    /// p_small &gt; 0.5 stands, above it the large guard's p_large &gt; 0.5. On equal F1 the smaller large-guard share wins.
    /// </summary>
    /// <param name="scores">Router scores.</param>
    /// <param name="smallUnsafeProbabilities">The small guard's p(unsafe) per row.</param>
    /// <param name="largeUnsafeProbabilities">The large guard's p(unsafe) per row.</param>
    /// <param name="labels">True labels, 1 = unsafe.</param>
    /// <param name="maxShare">The largest share of rows that may go to the large guard; 1 for no limit.</param>
    /// <returns>ε, its share and its safety F1.</returns>
    /// <exception cref="ArgumentException">The spans are empty or differ in length, or a label is not 0 or 1.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxShare"/> is outside [0, 1].</exception>
    public static ThresholdCalibration ForBestF1(ReadOnlySpan<float> scores, ReadOnlySpan<float> smallUnsafeProbabilities, ReadOnlySpan<float> largeUnsafeProbabilities, ReadOnlySpan<int> labels, double maxShare = 1.0)
    {
        int n = scores.Length;
        if (n == 0 || smallUnsafeProbabilities.Length != n || largeUnsafeProbabilities.Length != n || labels.Length != n)
        {
            throw new ArgumentException("Calibration needs the same non-zero number of scores, probabilities and labels.", nameof(scores));
        }

        if (!(maxShare is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(maxShare), maxShare, "The maximum share must be in [0, 1].");
        }

        // Order rows by score, highest first (NaN first: always routed); route groups of tied scores one at a time.
        float[] values = scores.ToArray();
        int[] order = new int[n];
        int nan = 0;
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
            nan += float.IsNaN(values[i]) ? 1 : 0;
            if (labels[i] is not (0 or 1))
            {
                throw new ArgumentException($"Label {i} is {labels[i]}; labels must be 0 or 1.", nameof(labels));
            }
        }

        Array.Sort(order, (a, b) =>
        {
            bool nanA = float.IsNaN(values[a]);
            bool nanB = float.IsNaN(values[b]);
            if (nanA != nanB)
            {
                return nanA ? -1 : 1;
            }

            int c = nanA ? 0 : values[b].CompareTo(values[a]);
            return c != 0 ? c : a.CompareTo(b);
        });

        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < n; i++)
        {
            bool unsafeVerdict = (i < nan ? largeUnsafeProbabilities[order[i]] : smallUnsafeProbabilities[order[i]]) > 0.5f;
            Tally(unsafeVerdict, labels[order[i]] == 1, +1, ref tp, ref fp, ref fn);
        }

        // NaN scores come first and are routed from the start; the other scores follow, highest first.
        float[] finite = new float[n - nan];
        for (int i = nan; i < n; i++)
        {
            finite[i - nan] = values[order[i]];
        }

        ThresholdCalibration best = Candidate(finite, nan, n, 0, F1(tp, fp, fn));
        int k = 0;
        while (k < finite.Length)
        {
            int end = EndOfGroup(finite, k);
            for (int j = k; j < end; j++)
            {
                int row = order[nan + j];
                bool truth = labels[row] == 1;
                Tally(smallUnsafeProbabilities[row] > 0.5f, truth, -1, ref tp, ref fp, ref fn);
                Tally(largeUnsafeProbabilities[row] > 0.5f, truth, +1, ref tp, ref fp, ref fn);
            }

            k = end;
            ThresholdCalibration c = Candidate(finite, nan, n, k, F1(tp, fp, fn));
            if (c.LargeShare <= maxShare + 1e-12 && c.SafetyF1 > best.SafetyF1)
            {
                best = c;
            }
        }

        return best;
    }

    private static void Tally(bool predictedUnsafe, bool isUnsafe, int delta, ref int tp, ref int fp, ref int fn)
    {
        if (predictedUnsafe && isUnsafe)
        {
            tp += delta;
        }
        else if (predictedUnsafe)
        {
            fp += delta;
        }
        else if (isUnsafe)
        {
            fn += delta;
        }
    }

    private static double F1(int tp, int fp, int fn) => tp == 0 ? 0 : 2.0 * tp / ((2 * tp) + fp + fn);

    // The candidate that routes the first `routed` finite scores of `sorted` (descending) plus the NaN ones.
    private static ThresholdCalibration Candidate(float[] sorted, int nan, int n, int routed, double? f1)
    {
        float threshold = routed < sorted.Length
            ? sorted[routed]
            : sorted.Length == 0 ? 0.5f : MathF.BitDecrement(sorted[^1]);
        return new ThresholdCalibration(threshold, (double)(routed + nan) / n, f1);
    }

    private static int EndOfGroup(float[] sorted, int start)
    {
        int end = start + 1;
        while (end < sorted.Length && sorted[end] == sorted[start])
        {
            end++;
        }

        return end;
    }

    private static (float[] Sorted, int NaN) SortDescending(ReadOnlySpan<float> scores)
    {
        var finite = new List<float>(scores.Length);
        int nan = 0;
        foreach (float s in scores)
        {
            if (float.IsNaN(s))
            {
                nan++;
            }
            else
            {
                finite.Add(s);
            }
        }

        float[] sorted = [.. finite];
        Array.Sort(sorted);
        Array.Reverse(sorted);
        return (sorted, nan);
    }
}
