using System.Buffers;
using System.Globalization;
using System.Numerics.Tensors;

namespace SafeRoute.Routing;

/// <summary>
/// The learned SafeRoute router: a small MLP over the small guard's last-token final hidden state that predicts
/// whether the input is one the large guard gets right and the small guard gets wrong.
/// </summary>
/// <remarks>
/// <para>
/// The network is BayesLinear(H, A) → LayerNorm(A) → ReLU → BayesLinear(A, B) → LayerNorm(B) → ReLU →
/// BayesLinear(B, 1) → sigmoid (the paper uses H → 512 → 512 → 1). At inference only the posterior means
/// (<c>weight_mu</c>, <c>bias_mu</c>) are used, so the router is an ordinary deterministic MLP; the
/// <c>*_log_sigma</c> tensors of a checkpoint may be present; they do not affect scoring and are written back by <see cref="Save(string, float?)"/>.
/// </para>
/// <para>
/// <see cref="Load(string)"/> reads a safetensors file with the reference checkpoint's tensor names
/// (<c>cls.0.*</c>, <c>cls.1.weight/bias</c>, <c>cls.3.*</c>, <c>cls.4.weight/bias</c>, <c>cls.6.*</c>; weights
/// [out, in]; F32, F16, BF16 or F64), so routers trained with the reference Python code run unchanged. Optional
/// metadata: <c>threshold</c> (the calibrated routing threshold, an invariant-culture number in [0, 1]),
/// <c>length_reference</c> (the reference length L of length-aware routing, in characters, a positive finite number; see
/// <see cref="LengthReference"/>), <c>uniform_threshold</c> (with <c>length_reference</c>: the threshold calibrated the same
/// way for the paper's rule, used when length-aware routing is turned off) and <c>layer_norm_eps</c> (default 1e-5, PyTorch's default).
/// </para>
/// <para>
/// An instance is immutable and safe for concurrent use. <see cref="Score"/> allocates nothing on the heap:
/// its scratch space is on the stack when A + B ≤ 1024 and rented from <see cref="ArrayPool{T}.Shared"/> otherwise.
/// </para>
/// </remarks>
public sealed class MlpRouter : ISafetyRouter
{
    private const int StackallocLimit = 1024;
    private const float DefaultRoutingThreshold = 0.5f;

    private readonly float[] _weight1;
    private readonly float[] _bias1;
    private readonly float[] _norm1Weight;
    private readonly float[] _norm1Bias;
    private readonly float[] _weight2;
    private readonly float[] _bias2;
    private readonly float[] _norm2Weight;
    private readonly float[] _norm2Bias;
    private readonly float[] _weight3;
    private readonly float _bias3;
    private readonly float _layerNormEps;
    private readonly int _hidden1;
    private readonly int _hidden2;
    private readonly MlpRouterWeights _weights;

    private MlpRouter(MlpRouterWeights weights, float? calibratedThreshold, float? lengthReference = null, float? uniformThreshold = null)
    {
        LengthReference = lengthReference;
        UniformThreshold = uniformThreshold;
        _weights = weights;
        InputSize = weights.InputSize;
        _hidden1 = weights.Hidden1;
        _hidden2 = weights.Hidden2;
        _weight1 = weights.Layer1.WeightMu;
        _bias1 = weights.Layer1.BiasMu;
        _norm1Weight = weights.Norm1.Weight;
        _norm1Bias = weights.Norm1.Bias;
        _weight2 = weights.Layer2.WeightMu;
        _bias2 = weights.Layer2.BiasMu;
        _norm2Weight = weights.Norm2.Weight;
        _norm2Bias = weights.Norm2.Bias;
        _weight3 = weights.Layer3.WeightMu;
        _bias3 = weights.Layer3.BiasMu[0];
        _layerNormEps = weights.LayerNormEps;
        CalibratedThreshold = calibratedThreshold;
    }

    /// <summary>Gets the router's name, <c>"mlp"</c>.</summary>
    /// <value>Always <c>"mlp"</c>.</value>
    public string Name => "mlp";

    /// <summary>Gets the feature-vector length the router reads (H, the small guard's hidden size).</summary>
    /// <value>The input width of the first layer, read from the file.</value>
    public int InputSize { get; }

    /// <summary>Gets the feature-vector length the router reads; the same as <see cref="InputSize"/>.</summary>
    /// <value>Never <see langword="null"/> for this router.</value>
    public int? FeatureSize => InputSize;

    /// <summary>Gets the threshold to use when none is configured.</summary>
    /// <value>The file's calibrated <c>threshold</c> metadata when present; otherwise 0.5, the reference code's ε.</value>
    public float DefaultThreshold => CalibratedThreshold ?? DefaultRoutingThreshold;

    /// <summary>Gets the routing threshold stored in the file's <c>threshold</c> metadata, if any.</summary>
    /// <value>The calibrated threshold in [0, 1], or <see langword="null"/> when the file has none.</value>
    public float? CalibratedThreshold { get; }

    /// <summary>Gets the reference length L of length-aware routing, stored in the file's <c>length_reference</c>
    /// metadata when the threshold was calibrated with it (the median length of the calibration inputs, in characters).</summary>
    /// <value>A positive number of characters, or <see langword="null"/> when the file has none (the paper's rule: one
    /// threshold for every input). <see cref="RoutedSafetyGuard"/> uses it unless
    /// <see cref="RoutedSafetyGuardOptions.LengthAwareRouting"/> is <see langword="false"/>.</value>
    public float? LengthReference { get; }

    /// <summary>Gets the file's <c>uniform_threshold</c> metadata: for a router calibrated for length-aware routing, the
    /// threshold calibrated the same way for the paper's rule (one ε for every input), which <see cref="RoutedSafetyGuard"/>
    /// uses when length-aware routing is turned off and no threshold is configured.</summary>
    /// <value>A threshold in [0, 1], or <see langword="null"/> when the file has none.</value>
    public float? UniformThreshold { get; }

    /// <summary>Loads a router from a safetensors file.</summary>
    /// <param name="path">The path of the safetensors file. A relative path is resolved against
    /// <see cref="AppContext.BaseDirectory"/>, not the current directory; an absolute path is used as is.</param>
    /// <returns>The loaded router.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="SafeRouteException">
    /// The file cannot be read or is corrupt, a tensor is missing, shapes are wrong or disagree between layers,
    /// a weight is not finite, or the metadata is invalid. The message names the file and the problem.
    /// </exception>
    public static MlpRouter Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = ModelPaths.Resolve(path);
        (Dictionary<string, SafetensorsTensor> tensors, Dictionary<string, string> metadata) = Safetensors.Read(fullPath);
        return FromTensors(tensors, metadata, fullPath);
    }

    /// <summary>Loads a router from a stream holding a safetensors file. The stream is read to its end and not disposed.</summary>
    /// <param name="stream">The stream to read.</param>
    /// <param name="name">A name for the source, used in error messages; <c>"(stream)"</c> when <see langword="null"/>.</param>
    /// <returns>The loaded router.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is <see langword="null"/>.</exception>
    /// <exception cref="SafeRouteException">
    /// The stream cannot be read or is corrupt, a tensor is missing, shapes are wrong or disagree between layers,
    /// a weight is not finite, or the metadata is invalid. The message names the source and the problem.
    /// </exception>
    public static MlpRouter Load(Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        string source = name ?? "(stream)";
        using var buffer = new MemoryStream();
        try
        {
            stream.CopyTo(buffer);
        }
        catch (Exception ex) when (ex is IOException or NotSupportedException or ObjectDisposedException)
        {
            throw new SafeRouteException($"The router file '{source}' could not be read: {ex.Message}", ex);
        }

        (Dictionary<string, SafetensorsTensor> tensors, Dictionary<string, string> metadata) =
            Safetensors.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), source);
        return FromTensors(tensors, metadata, source);
    }

    /// <summary>Scores one input: the router's probability that the large guard is needed.</summary>
    /// <param name="features">The small guard's last-token final hidden state; exactly <see cref="InputSize"/> values.</param>
    /// <param name="safeLogit">Ignored by this router.</param>
    /// <param name="unsafeLogit">Ignored by this router.</param>
    /// <returns>
    /// sigmoid of the network's output, in [0, 1]. Non-finite features give <see cref="float.NaN"/>, which callers
    /// should treat as "escalate" rather than compare against a threshold.
    /// </returns>
    /// <exception cref="ArgumentException">The length of <paramref name="features"/> is not <see cref="InputSize"/>.</exception>
    public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit)
    {
        if (features.Length != InputSize)
        {
            throw new ArgumentException(
                $"The MLP router expects {InputSize} features (its input size) but received {features.Length}.", nameof(features));
        }

        int scratchLength = _hidden1 + _hidden2;
        float[]? rented = null;
        Span<float> scratch = scratchLength <= StackallocLimit
            ? stackalloc float[StackallocLimit]
            : (rented = ArrayPool<float>.Shared.Rent(scratchLength));
        try
        {
            Span<float> hidden1 = scratch[.._hidden1];
            Span<float> hidden2 = scratch.Slice(_hidden1, _hidden2);

            Linear(_weight1, _bias1, features, hidden1);
            LayerNormRelu(hidden1, _norm1Weight, _norm1Bias, _layerNormEps);
            Linear(_weight2, _bias2, hidden1, hidden2);
            LayerNormRelu(hidden2, _norm2Weight, _norm2Bias, _layerNormEps);
            double logit = (double)TensorPrimitives.Dot(_weight3, (ReadOnlySpan<float>)hidden2) + _bias3;
            return (float)(1.0 / (1.0 + Math.Exp(-logit)));
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Builds a router from in-memory weights (for the trainer). The weights are copied.</summary>
    /// <param name="weights">The network's parameters.</param>
    /// <param name="calibratedThreshold">The calibrated routing threshold, or <see langword="null"/> for 0.5.</param>
    /// <returns>The router.</returns>
    /// <exception cref="SafeRouteException">A weight is not finite, or the threshold or ε is invalid.</exception>
    internal static MlpRouter FromWeights(MlpRouterWeights weights, float? calibratedThreshold = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        const string Source = "(in-memory weights)";
        MlpRouterWeights copy = weights.Clone();
        CheckFinite(copy.Layer1.WeightMu, "cls.0.weight_mu", Source);
        CheckFinite(copy.Layer1.BiasMu, "cls.0.bias_mu", Source);
        CheckFinite(copy.Norm1.Weight, "cls.1.weight", Source);
        CheckFinite(copy.Norm1.Bias, "cls.1.bias", Source);
        CheckFinite(copy.Layer2.WeightMu, "cls.3.weight_mu", Source);
        CheckFinite(copy.Layer2.BiasMu, "cls.3.bias_mu", Source);
        CheckFinite(copy.Norm2.Weight, "cls.4.weight", Source);
        CheckFinite(copy.Norm2.Bias, "cls.4.bias", Source);
        CheckFinite(copy.Layer3.WeightMu, "cls.6.weight_mu", Source);
        CheckFinite(copy.Layer3.BiasMu, "cls.6.bias_mu", Source);
        if (!(float.IsFinite(copy.LayerNormEps) && copy.LayerNormEps > 0))
        {
            throw Invalid(Source, $"the LayerNorm epsilon {copy.LayerNormEps.ToString("R", CultureInfo.InvariantCulture)} is not a positive finite number");
        }

        if (calibratedThreshold is float t && !(t >= 0 && t <= 1))
        {
            throw Invalid(Source, $"the threshold {t.ToString("R", CultureInfo.InvariantCulture)} is not in [0, 1]");
        }

        return new MlpRouter(copy, calibratedThreshold);
    }

    /// <summary>Returns a copy of the router's parameters (log σ is <see langword="null"/> for routers read by <see cref="Load(string)"/>).</summary>
    internal MlpRouterWeights GetWeights() => _weights.Clone();

    /// <summary>
    /// Writes the router as a safetensors file with the reference checkpoint's tensor names, so that
    /// <see cref="Load(string)"/> (and the reference Python code) read it back. The threshold given is one for the paper's
    /// rule (one ε for every input), so a loaded file's length-aware metadata (<see cref="LengthReference"/>,
    /// <c>uniform_threshold</c>) is not written: that ε was calibrated with it, the new one was not. The <c>*_log_sigma</c> tensors are
    /// the known ones when the router was built from weights that had them, and log 0.1 (the reference
    /// initialisation) otherwise; <see cref="Load(string)"/> does not keep them.
    /// </summary>
    /// <param name="path">The file to create or overwrite (it may be the file the router was loaded from).</param>
    /// <param name="threshold">The threshold ε to store as <c>threshold</c> metadata (<see cref="CalibratedThreshold"/> when loaded), or <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is outside [0, 1].</exception>
    public void Save(string path, float? threshold)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        CheckThreshold(threshold);
        Safetensors.Write(path, _weights.ToTensors(), MlpRouterWeights.Metadata(_layerNormEps, threshold));
    }

    /// <summary>Writes the router to a stream, as <see cref="Save(string, float?)"/> writes a file.</summary>
    /// <param name="stream">The stream to write to; left open.</param>
    /// <param name="threshold">The threshold ε to store, or <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is outside [0, 1].</exception>
    public void Save(Stream stream, float? threshold)
    {
        ArgumentNullException.ThrowIfNull(stream);
        CheckThreshold(threshold);
        Safetensors.Write(stream, _weights.ToTensors(), MlpRouterWeights.Metadata(_layerNormEps, threshold));
    }

    private static void CheckThreshold(float? threshold)
    {
        if (threshold is float t && !(t >= 0 && t <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), t, "The routing threshold must be in [0, 1].");
        }
    }

    private static void Linear(float[] weight, float[] bias, ReadOnlySpan<float> input, Span<float> output)
    {
        int inputs = input.Length;
        for (int i = 0; i < output.Length; i++)
        {
            output[i] = TensorPrimitives.Dot(new ReadOnlySpan<float>(weight, i * inputs, inputs), input);
        }

        TensorPrimitives.Add(output, bias, output);
    }

    // PyTorch LayerNorm: y = (x − E[x]) / sqrt(Var[x] + ε) · γ + β with the biased variance; then ReLU.
    // Two passes (centre first, then the sum of squares) avoid the cancellation of E[x²] − E[x]².
    private static void LayerNormRelu(Span<float> values, float[] gamma, float[] beta, float eps) =>
        RouterMath.LayerNormRelu(values, values, values, gamma, beta, eps);


    private static MlpRouter FromTensors(Dictionary<string, SafetensorsTensor> tensors, Dictionary<string, string> metadata, string source)
    {
        float eps = ReadMetadata(metadata, "layer_norm_eps", source) ?? MlpRouterWeights.DefaultLayerNormEps;
        if (!(eps > 0))
        {
            throw Invalid(source, $"metadata 'layer_norm_eps' is {eps.ToString("R", CultureInfo.InvariantCulture)}; it must be a positive finite number");
        }

        float? threshold = ReadMetadata(metadata, "threshold", source);
        if (threshold is float t && !(t >= 0 && t <= 1))
        {
            throw Invalid(source, $"metadata 'threshold' is {t.ToString("R", CultureInfo.InvariantCulture)}; it must be in [0, 1]");
        }

        BayesLinearWeights layer1 = ReadLinear(tensors, "cls.0", source, null, null);
        LayerNormWeights norm1 = ReadNorm(tensors, "cls.1", layer1.Outputs, "cls.0.weight_mu", source);
        BayesLinearWeights layer2 = ReadLinear(tensors, "cls.3", source, layer1.Outputs, "cls.0.weight_mu");
        LayerNormWeights norm2 = ReadNorm(tensors, "cls.4", layer2.Outputs, "cls.3.weight_mu", source);
        BayesLinearWeights layer3 = ReadLinear(tensors, "cls.6", source, layer2.Outputs, "cls.3.weight_mu");
        if (layer3.Outputs != 1)
        {
            throw Invalid(source, $"tensor 'cls.6.weight_mu' has shape {ShapeText([layer3.Outputs, layer3.Inputs])}; the last layer must have exactly 1 output");
        }

        float? lengthReference = ReadMetadata(metadata, "length_reference", source);
        if (lengthReference is float l && !(l > 0))
        {
            throw Invalid(source, $"metadata 'length_reference' is {l.ToString("R", CultureInfo.InvariantCulture)}; it must be a positive finite number of characters");
        }

        float? uniformThreshold = ReadMetadata(metadata, "uniform_threshold", source);
        if (uniformThreshold is float u && !(u >= 0 && u <= 1))
        {
            throw Invalid(source, $"metadata 'uniform_threshold' is {u.ToString("R", CultureInfo.InvariantCulture)}; it must be in [0, 1]");
        }

        return new MlpRouter(new MlpRouterWeights(layer1, norm1, layer2, norm2, layer3, eps), threshold, lengthReference, uniformThreshold);
    }

    private static BayesLinearWeights ReadLinear(Dictionary<string, SafetensorsTensor> tensors, string prefix, string source, int? expectedInputs, string? previousName)
    {
        SafetensorsTensor weight = Require(tensors, $"{prefix}.weight_mu", source);
        SafetensorsTensor bias = Require(tensors, $"{prefix}.bias_mu", source);
        if (weight.Shape.Length != 2 || weight.Shape[0] <= 0 || weight.Shape[1] <= 0)
        {
            throw Invalid(source, $"tensor '{weight.Name}' has shape {ShapeText(weight.Shape)}; expected a non-empty matrix [out, in]");
        }

        int outputs = weight.Shape[0];
        int inputs = weight.Shape[1];
        if (expectedInputs is int expected && inputs != expected)
        {
            throw Invalid(source, $"tensor '{weight.Name}' has shape {ShapeText(weight.Shape)}, so it takes {inputs} inputs, but '{previousName}' gives {expected} outputs");
        }

        if (bias.Shape.Length != 1 || bias.Shape[0] != outputs)
        {
            throw Invalid(source, $"tensor '{bias.Name}' has shape {ShapeText(bias.Shape)} but '{weight.Name}' has {outputs} outputs (expected [{outputs}])");
        }

        CheckFinite(weight.Data, weight.Name, source);
        CheckFinite(bias.Data, bias.Name, source);
        BayesLinearWeights layer = BayesLinearWeights.Wrap(outputs, inputs, weight.Data, bias.Data);

        // The log σ of a Bayesian checkpoint are kept when present and well formed, so that Save round-trips them.
        if (tensors.TryGetValue($"{prefix}.weight_log_sigma", out SafetensorsTensor? weightSigma) && weightSigma.Data.Length == weight.Data.Length
            && tensors.TryGetValue($"{prefix}.bias_log_sigma", out SafetensorsTensor? biasSigma) && biasSigma.Data.Length == bias.Data.Length)
        {
            layer.WeightLogSigma = weightSigma.Data;
            layer.BiasLogSigma = biasSigma.Data;
        }

        return layer;
    }

    private static LayerNormWeights ReadNorm(Dictionary<string, SafetensorsTensor> tensors, string prefix, int size, string previousName, string source)
    {
        SafetensorsTensor weight = Require(tensors, $"{prefix}.weight", source);
        SafetensorsTensor bias = Require(tensors, $"{prefix}.bias", source);
        foreach (SafetensorsTensor tensor in (ReadOnlySpan<SafetensorsTensor>)[weight, bias])
        {
            if (tensor.Shape.Length != 1 || tensor.Shape[0] != size)
            {
                throw Invalid(source, $"tensor '{tensor.Name}' has shape {ShapeText(tensor.Shape)} but '{previousName}' gives {size} outputs (expected [{size}])");
            }

            CheckFinite(tensor.Data, tensor.Name, source);
        }

        return LayerNormWeights.Wrap(weight.Data, bias.Data);
    }

    private static SafetensorsTensor Require(Dictionary<string, SafetensorsTensor> tensors, string name, string source) =>
        tensors.TryGetValue(name, out SafetensorsTensor? tensor)
            ? tensor
            : throw Invalid(source, $"tensor '{name}' is missing (an MLP router needs cls.0, cls.3 and cls.6 weight_mu/bias_mu and cls.1, cls.4 weight/bias)");

    private static void CheckFinite(float[] data, string name, string source)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
            {
                throw Invalid(source, $"tensor '{name}' holds a non-finite value ({data[i].ToString(CultureInfo.InvariantCulture)}) at flat index {i}");
            }
        }
    }

    private static float? ReadMetadata(Dictionary<string, string> metadata, string key, string source)
    {
        if (!metadata.TryGetValue(key, out string? text))
        {
            return null;
        }

        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
        {
            throw Invalid(source, $"metadata '{key}' is '{text}', which is not a finite invariant-culture number");
        }

        return value;
    }

    private static string ShapeText(int[] shape) => "[" + string.Join(", ", shape) + "]";

    private static SafeRouteException Invalid(string source, string problem) =>
        new($"The router file '{source}' is not a valid MLP router: {problem}.");
}
