using System.Globalization;

namespace SafeRoute.Routing;

/// <summary>
/// The temperature-scaling (TS) baseline of the SafeRoute paper: routes on the binary entropy, in bits, of
/// softmax([z_safe, z_unsafe] / τ), with τ fitted by maximum likelihood (<see cref="FitTemperature"/>).
/// </summary>
/// <remarks>
/// Calibration only changes routing; the small guard's verdict is still its uncalibrated q(unsafe) &gt; 0.5.
/// The score is computed in double precision from log-probabilities and is finite for any finite logits.
/// Instances are immutable and safe for concurrent use.
/// </remarks>
public sealed class TemperatureScalingRouter : ISafetyRouter
{
    private const double MinLogTemperature = -4.6051701859880914; // ln 0.01
    private const double MaxLogTemperature = 4.6051701859880914;  // ln 100

    private readonly double _inverseTemperature;

    /// <summary>Initializes a new instance of the <see cref="TemperatureScalingRouter"/> class.</summary>
    /// <param name="temperature">The temperature τ; must be positive and finite.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is not a positive finite number.</exception>
    public TemperatureScalingRouter(float temperature)
    {
        if (!(float.IsFinite(temperature) && temperature > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be a positive finite number.");
        }

        Temperature = temperature;
        _inverseTemperature = 1.0 / temperature;
    }

    /// <summary>Gets the router's name, <c>"temperature-scaling"</c>.</summary>
    /// <value>Always <c>"temperature-scaling"</c>.</value>
    public string Name => "temperature-scaling";

    /// <summary>Gets the feature size; this router reads only the two verdict logits.</summary>
    /// <value>Always <see langword="null"/>.</value>
    public int? FeatureSize => null;

    /// <summary>Gets the threshold to use when none is configured, in bits.</summary>
    /// <value>0.5, as in the paper.</value>
    public float DefaultThreshold => 0.5f;

    /// <summary>Gets the temperature τ the logits are divided by.</summary>
    /// <value>The value given to the constructor.</value>
    public float Temperature { get; }

    /// <summary>Scores one input as the binary entropy of softmax(z / τ).</summary>
    /// <param name="features">Ignored by this router.</param>
    /// <param name="safeLogit">The small guard's logit for "safe".</param>
    /// <param name="unsafeLogit">The small guard's logit for "unsafe".</param>
    /// <returns>The entropy in bits, in [0, 1]; <see cref="float.NaN"/> only when a logit is NaN or both are the same infinity.</returns>
    public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) =>
        (float)BinaryUncertainty.EntropyBits(BinaryUncertainty.LogitDifference(safeLogit, unsafeLogit) * _inverseTemperature);

    /// <summary>
    /// Fits τ by maximum likelihood: minimises the mean negative log-likelihood of the labels under
    /// softmax(z / τ). The NLL is convex in 1/τ, hence unimodal in ln τ, so a golden-section search over
    /// ln τ ∈ [ln 0.01, ln 100] (to a width of 1e-7) finds the minimum; data the logits already separate perfectly
    /// drive τ to the lower bound 0.01.
    /// </summary>
    /// <param name="safeLogits">The small guard's "safe" logits, one per example.</param>
    /// <param name="unsafeLogits">The small guard's "unsafe" logits, one per example.</param>
    /// <param name="labels">The true labels: 1 for unsafe, 0 for safe.</param>
    /// <returns>The fitted temperature, in [0.01, 100].</returns>
    /// <exception cref="ArgumentException">
    /// The spans are empty or of different lengths, a logit is not finite, or a label is neither 0 nor 1.
    /// </exception>
    public static float FitTemperature(ReadOnlySpan<float> safeLogits, ReadOnlySpan<float> unsafeLogits, ReadOnlySpan<int> labels)
    {
        if (safeLogits.IsEmpty || safeLogits.Length != unsafeLogits.Length || safeLogits.Length != labels.Length)
        {
            throw new ArgumentException(
                $"Fitting a temperature needs the same non-zero number of safe logits ({safeLogits.Length}), unsafe logits ({unsafeLogits.Length}) and labels ({labels.Length}).",
                nameof(labels));
        }

        // s_i = ±d_i, signed so that the example's NLL is softplus(−s_i / τ).
        double[] signed = new double[labels.Length];
        for (int i = 0; i < signed.Length; i++)
        {
            if (!float.IsFinite(safeLogits[i]) || !float.IsFinite(unsafeLogits[i]))
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The logits of example {i} are not finite."), nameof(safeLogits));
            }

            double d = BinaryUncertainty.LogitDifference(safeLogits[i], unsafeLogits[i]);
            signed[i] = labels[i] switch
            {
                1 => d,
                0 => -d,
                _ => throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Label {i} is {labels[i]}; labels must be 0 (safe) or 1 (unsafe)."), nameof(labels)),
            };
        }

        double invPhi = (Math.Sqrt(5) - 1) / 2;
        double a = MinLogTemperature;
        double b = MaxLogTemperature;
        double c = b - (invPhi * (b - a));
        double e = a + (invPhi * (b - a));
        double fc = Nll(signed, c);
        double fe = Nll(signed, e);
        while (b - a > 1e-7)
        {
            if (fc <= fe)
            {
                b = e;
                e = c;
                fe = fc;
                c = b - (invPhi * (b - a));
                fc = Nll(signed, c);
            }
            else
            {
                a = c;
                c = e;
                fc = fe;
                e = a + (invPhi * (b - a));
                fe = Nll(signed, e);
            }
        }

        return (float)Math.Exp((a + b) / 2);

        static double Nll(double[] signed, double logTemperature)
        {
            double inverse = Math.Exp(-logTemperature);
            double sum = 0;
            foreach (double s in signed)
            {
                sum += BinaryUncertainty.Softplus(-s * inverse);
            }

            return sum / signed.Length;
        }
    }
}
