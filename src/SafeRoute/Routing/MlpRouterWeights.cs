using System.Numerics.Tensors;

#if SAFEROUTE_TRAINING
namespace SafeRoute.Training.Shared; // compiled into SafeRoute.Training too (internal there), under its own namespace
#else
namespace SafeRoute.Routing;
#endif

/// <summary>
/// The parameters of one BayesLinear layer: mean weights and biases (used at inference) and, optionally, the
/// log standard deviations of the weight posterior (used only by training and written back by
/// <c>MlpRouter.Save</c>).
/// </summary>
/// <remarks>Weights are row-major [outputs, inputs], as in the reference checkpoint.</remarks>
internal sealed class BayesLinearWeights
{
    public BayesLinearWeights(int outputs, int inputs)
    {
        Outputs = outputs;
        Inputs = inputs;
        WeightMu = new float[checked(outputs * inputs)];
        BiasMu = new float[outputs];
    }

    public int Outputs { get; }

    public int Inputs { get; }

    /// <summary>Gets the mean weights, row-major [outputs, inputs].</summary>
    public float[] WeightMu { get; }

    /// <summary>Gets the mean biases, [outputs].</summary>
    public float[] BiasMu { get; }

    /// <summary>Gets or sets log σ of the weights, [outputs, inputs], or <see langword="null"/> when unknown.</summary>
    public float[]? WeightLogSigma { get; set; }

    /// <summary>Gets or sets log σ of the biases, [outputs], or <see langword="null"/> when unknown.</summary>
    public float[]? BiasLogSigma { get; set; }

    public BayesLinearWeights Clone() => new(Outputs, Inputs, (float[])WeightMu.Clone(), (float[])BiasMu.Clone(), (float[]?)WeightLogSigma?.Clone(), (float[]?)BiasLogSigma?.Clone());

    private BayesLinearWeights(int outputs, int inputs, float[] weightMu, float[] biasMu, float[]? weightLogSigma, float[]? biasLogSigma)
    {
        Outputs = outputs;
        Inputs = inputs;
        WeightMu = weightMu;
        BiasMu = biasMu;
        WeightLogSigma = weightLogSigma;
        BiasLogSigma = biasLogSigma;
    }

    internal static BayesLinearWeights Wrap(int outputs, int inputs, float[] weightMu, float[] biasMu) => new(outputs, inputs, weightMu, biasMu, null, null);
}

/// <summary>The affine parameters of one LayerNorm (γ initialised to 1, β to 0).</summary>
internal sealed class LayerNormWeights
{
    public LayerNormWeights(int size)
    {
        Weight = new float[size];
        Bias = new float[size];
        Weight.AsSpan().Fill(1f);
    }

    private LayerNormWeights(float[] weight, float[] bias)
    {
        Weight = weight;
        Bias = bias;
    }

    public int Size => Weight.Length;

    /// <summary>Gets γ, [size].</summary>
    public float[] Weight { get; }

    /// <summary>Gets β, [size].</summary>
    public float[] Bias { get; }

    public LayerNormWeights Clone() => new((float[])Weight.Clone(), (float[])Bias.Clone());

    internal static LayerNormWeights Wrap(float[] weight, float[] bias) => new(weight, bias);
}

/// <summary>
/// All parameters of the SafeRoute router network H → A → B → 1, laid out like the reference PyTorch module
/// (<c>cls.0</c> BayesLinear, <c>cls.1</c> LayerNorm, <c>cls.3</c> BayesLinear, <c>cls.4</c> LayerNorm, <c>cls.6</c> BayesLinear).
/// The trainer fills the arrays in place and hands the object to <c>MlpRouter.FromWeights</c> (or writes it as a router file, which <c>MlpRouter.Load</c> reads),
/// which copies it.
/// </summary>
internal sealed class MlpRouterWeights
{
    /// <summary>The PyTorch LayerNorm default.</summary>
    public const float DefaultLayerNormEps = 1e-5f;

    public MlpRouterWeights(int inputSize, int hidden1, int hidden2)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden2);
        Layer1 = new BayesLinearWeights(hidden1, inputSize);
        Norm1 = new LayerNormWeights(hidden1);
        Layer2 = new BayesLinearWeights(hidden2, hidden1);
        Norm2 = new LayerNormWeights(hidden2);
        Layer3 = new BayesLinearWeights(1, hidden2);
    }

    internal MlpRouterWeights(BayesLinearWeights layer1, LayerNormWeights norm1, BayesLinearWeights layer2, LayerNormWeights norm2, BayesLinearWeights layer3, float layerNormEps)
    {
        Layer1 = layer1;
        Norm1 = norm1;
        Layer2 = layer2;
        Norm2 = norm2;
        Layer3 = layer3;
        LayerNormEps = layerNormEps;
    }

    public int InputSize => Layer1.Inputs;

    public int Hidden1 => Layer1.Outputs;

    public int Hidden2 => Layer2.Outputs;

    /// <summary>Gets <c>cls.0</c>: BayesLinear(H, A).</summary>
    public BayesLinearWeights Layer1 { get; }

    /// <summary>Gets <c>cls.1</c>: LayerNorm(A).</summary>
    public LayerNormWeights Norm1 { get; }

    /// <summary>Gets <c>cls.3</c>: BayesLinear(A, B).</summary>
    public BayesLinearWeights Layer2 { get; }

    /// <summary>Gets <c>cls.4</c>: LayerNorm(B).</summary>
    public LayerNormWeights Norm2 { get; }

    /// <summary>Gets <c>cls.6</c>: BayesLinear(B, 1).</summary>
    public BayesLinearWeights Layer3 { get; }

    /// <summary>Gets or sets the LayerNorm ε.</summary>
    public float LayerNormEps { get; set; } = DefaultLayerNormEps;

    public MlpRouterWeights Clone() => new(Layer1.Clone(), Norm1.Clone(), Layer2.Clone(), Norm2.Clone(), Layer3.Clone(), LayerNormEps);

    /// <summary>The tensors of a router file, with the reference checkpoint's names; <c>*_log_sigma</c> are the known ones,
    /// or log 0.1 (the reference initialisation) when the weights have none.</summary>
    public List<(string Name, int[] Shape, float[] Data)> ToTensors()
    {
        var tensors = new List<(string Name, int[] Shape, float[] Data)>();
        AddLinear(tensors, "cls.0", Layer1);
        tensors.Add(("cls.1.weight", [Norm1.Size], Norm1.Weight));
        tensors.Add(("cls.1.bias", [Norm1.Size], Norm1.Bias));
        AddLinear(tensors, "cls.3", Layer2);
        tensors.Add(("cls.4.weight", [Norm2.Size], Norm2.Weight));
        tensors.Add(("cls.4.bias", [Norm2.Size], Norm2.Bias));
        AddLinear(tensors, "cls.6", Layer3);
        return tensors;

        static void AddLinear(List<(string Name, int[] Shape, float[] Data)> tensors, string prefix, BayesLinearWeights layer)
        {
            float logSigma = MathF.Log(0.1f);
            tensors.Add(($"{prefix}.weight_mu", [layer.Outputs, layer.Inputs], layer.WeightMu));
            tensors.Add(($"{prefix}.weight_log_sigma", [layer.Outputs, layer.Inputs], layer.WeightLogSigma ?? Filled(layer.WeightMu.Length, logSigma)));
            tensors.Add(($"{prefix}.bias_mu", [layer.Outputs], layer.BiasMu));
            tensors.Add(($"{prefix}.bias_log_sigma", [layer.Outputs], layer.BiasLogSigma ?? Filled(layer.BiasMu.Length, logSigma)));
        }

        static float[] Filled(int length, float value)
        {
            float[] data = new float[length];
            data.AsSpan().Fill(value);
            return data;
        }
    }

    /// <summary>The metadata of a router file: the LayerNorm ε and, when given, the threshold.</summary>
    public static Dictionary<string, string> Metadata(float layerNormEps, float? threshold)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["layer_norm_eps"] = layerNormEps.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        };
        if (threshold is float value)
        {
            metadata["threshold"] = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        }

        return metadata;
    }
}

/// <summary>Router arithmetic shared (as source) by the router and its trainer.</summary>
internal static class RouterMath
{
    /// <summary>
    /// LayerNorm then ReLU, shared with the router trainer: centres <paramref name="values"/> in place, writes the
    /// normalised x̂ to <paramref name="xhat"/> and ReLU(x̂·γ + β) to <paramref name="output"/> (both may alias
    /// <paramref name="values"/>), and returns 1/σ for a backward pass.
    /// </summary>
    public static float LayerNormRelu(Span<float> values, Span<float> xhat, Span<float> output, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps)
    {
        float mean = TensorPrimitives.Sum<float>(values) / values.Length;
        TensorPrimitives.Subtract(values, mean, values);
        float variance = TensorPrimitives.SumOfSquares<float>(values) / values.Length;
        float scale = 1f / MathF.Sqrt(variance + eps);
        TensorPrimitives.Multiply(values, scale, xhat);
        TensorPrimitives.MultiplyAdd(xhat, gamma, beta, output);
        TensorPrimitives.Max(output, 0f, output);
        return scale;
    }
}
