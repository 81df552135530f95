namespace SafeRoute.Routing;

/// <summary>
/// The contextual-calibration (CC) baseline of the SafeRoute paper: divides the small guard's distribution q
/// elementwise by q(content-free input), the guard's distribution for the input " ", renormalises, and routes on the
/// binary entropy of the result, in bits.
/// </summary>
/// <remarks>
/// Dividing by [1 − p, p] and renormalising is the same as subtracting ln(p / (1 − p)) from the logit difference,
/// which is how the score is computed (in double precision, finite for any finite logits).
/// Calibration only changes routing; the small guard's verdict is still its uncalibrated q(unsafe) &gt; 0.5.
/// Instances are immutable and safe for concurrent use.
/// </remarks>
public sealed class ContextualCalibrationRouter : ISafetyRouter
{
    private readonly double _shift;

    /// <summary>Initializes a new instance of the <see cref="ContextualCalibrationRouter"/> class.</summary>
    /// <param name="contentFreeUnsafeProbability">The small guard's q(unsafe) for the content-free input " "; must be in (0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="contentFreeUnsafeProbability"/> is not strictly between 0 and 1.</exception>
    public ContextualCalibrationRouter(float contentFreeUnsafeProbability)
    {
        if (!(contentFreeUnsafeProbability > 0 && contentFreeUnsafeProbability < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(contentFreeUnsafeProbability), contentFreeUnsafeProbability, "The content-free unsafe probability must be strictly between 0 and 1.");
        }

        ContentFreeUnsafeProbability = contentFreeUnsafeProbability;
        _shift = BinaryUncertainty.Logit(contentFreeUnsafeProbability);
    }

    /// <summary>The content-free input of contextual calibration (method doc §3): a single space.</summary>
    public const string ContentFreeInput = " ";

    /// <summary>Runs <paramref name="small"/> on the content-free input <see cref="ContentFreeInput"/> (through its template, which
    /// <see cref="SafetyRequest"/> cannot express) and returns its p(unsafe), clamped into [1e-6, 1 − 1e-6].</summary>
    /// <param name="small">The small guard.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>q(unsafe | " "), for the constructor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="small"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The guard has been disposed.</exception>
    public static float MeasureContentFree(OnnxSafetyGuard small, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(small);
        float p = small.ForwardRaw(ContentFreeInput, null, cancellationToken).UnsafeProbability;
        return Math.Clamp(p, 1e-6f, 1f - 1e-6f);
    }

    /// <summary>Gets the router's name, <c>"contextual-calibration"</c>.</summary>
    /// <value>Always <c>"contextual-calibration"</c>.</value>
    public string Name => "contextual-calibration";

    /// <summary>Gets the feature size; this router reads only the two verdict logits.</summary>
    /// <value>Always <see langword="null"/>.</value>
    public int? FeatureSize => null;

    /// <summary>Gets the threshold to use when none is configured, in bits.</summary>
    /// <value>0.5, as in the paper.</value>
    public float DefaultThreshold => 0.5f;

    /// <summary>Gets the small guard's q(unsafe) for the content-free input.</summary>
    /// <value>The value given to the constructor.</value>
    public float ContentFreeUnsafeProbability { get; }

    /// <summary>Scores one input as the binary entropy of the contextually calibrated distribution.</summary>
    /// <param name="features">Ignored by this router.</param>
    /// <param name="safeLogit">The small guard's logit for "safe".</param>
    /// <param name="unsafeLogit">The small guard's logit for "unsafe".</param>
    /// <returns>The entropy in bits, in [0, 1]; <see cref="float.NaN"/> only when a logit is NaN or both are the same infinity.</returns>
    public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) =>
        (float)BinaryUncertainty.EntropyBits(BinaryUncertainty.LogitDifference(safeLogit, unsafeLogit) - _shift);
}
