namespace SafeRoute.Routing;

/// <summary>
/// The batch-calibration (BC) baseline of the SafeRoute paper: divides the small guard's distribution q
/// elementwise by [1 − m, m], where m is the mean q(unsafe) over training data (<see cref="EstimateMean"/>),
/// renormalises, and routes on the binary entropy of the result, in bits.
/// </summary>
/// <remarks>
/// Dividing by [1 − m, m] and renormalising is the same as subtracting ln(m / (1 − m)) from the logit difference,
/// which is how the score is computed (in double precision, finite for any finite logits).
/// Calibration only changes routing; the small guard's verdict is still its uncalibrated q(unsafe) &gt; 0.5.
/// Instances are immutable and safe for concurrent use.
/// </remarks>
public sealed class BatchCalibrationRouter : ISafetyRouter
{
    private readonly double _shift;

    /// <summary>Initializes a new instance of the <see cref="BatchCalibrationRouter"/> class.</summary>
    /// <param name="meanUnsafeProbability">The mean q(unsafe) over training data; must be in (0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="meanUnsafeProbability"/> is not strictly between 0 and 1.</exception>
    public BatchCalibrationRouter(float meanUnsafeProbability)
    {
        if (!(meanUnsafeProbability > 0 && meanUnsafeProbability < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(meanUnsafeProbability), meanUnsafeProbability, "The mean unsafe probability must be strictly between 0 and 1.");
        }

        MeanUnsafeProbability = meanUnsafeProbability;
        _shift = BinaryUncertainty.Logit(meanUnsafeProbability);
    }

    /// <summary>Gets the router's name, <c>"batch-calibration"</c>.</summary>
    /// <value>Always <c>"batch-calibration"</c>.</value>
    public string Name => "batch-calibration";

    /// <summary>Gets the feature size; this router reads only the two verdict logits.</summary>
    /// <value>Always <see langword="null"/>.</value>
    public int? FeatureSize => null;

    /// <summary>Gets the threshold to use when none is configured, in bits.</summary>
    /// <value>0.5, as in the paper.</value>
    public float DefaultThreshold => 0.5f;

    /// <summary>Gets the mean q(unsafe) the distribution is divided by.</summary>
    /// <value>The value given to the constructor.</value>
    public float MeanUnsafeProbability { get; }

    /// <summary>Scores one input as the binary entropy of the batch-calibrated distribution.</summary>
    /// <param name="features">Ignored by this router.</param>
    /// <param name="safeLogit">The small guard's logit for "safe".</param>
    /// <param name="unsafeLogit">The small guard's logit for "unsafe".</param>
    /// <returns>The entropy in bits, in [0, 1]; <see cref="float.NaN"/> only when a logit is NaN or both are the same infinity.</returns>
    public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) =>
        (float)BinaryUncertainty.EntropyBits(BinaryUncertainty.LogitDifference(safeLogit, unsafeLogit) - _shift);

    /// <summary>
    /// Estimates m, the mean of q(unsafe) = softmax([z_safe, z_unsafe])[1] over a data set, in double precision.
    /// </summary>
    /// <param name="safeLogits">The small guard's "safe" logits, one per example.</param>
    /// <param name="unsafeLogits">The small guard's "unsafe" logits, one per example.</param>
    /// <returns>
    /// The mean unsafe probability. It is 0 or 1 only for degenerate data (every example certain the same way),
    /// which the constructor rejects.
    /// </returns>
    /// <exception cref="ArgumentException">The spans are empty or of different lengths, or a logit is NaN.</exception>
    public static float EstimateMean(ReadOnlySpan<float> safeLogits, ReadOnlySpan<float> unsafeLogits)
    {
        if (safeLogits.IsEmpty || safeLogits.Length != unsafeLogits.Length)
        {
            throw new ArgumentException(
                $"Estimating the mean needs the same non-zero number of safe logits ({safeLogits.Length}) and unsafe logits ({unsafeLogits.Length}).",
                nameof(unsafeLogits));
        }

        double sum = 0;
        for (int i = 0; i < safeLogits.Length; i++)
        {
            double d = BinaryUncertainty.LogitDifference(safeLogits[i], unsafeLogits[i]);
            if (double.IsNaN(d))
            {
                throw new ArgumentException($"The logits of example {i} give no probability (NaN).", nameof(safeLogits));
            }

            sum += BinaryUncertainty.Sigmoid(d);
        }

        return (float)(sum / safeLogits.Length);
    }
}
