using System.Numerics.Tensors;
using SafeRoute.Routing;
using SafeRoute.Training.Shared;

namespace SafeRoute.Training;

/// <summary>
/// The SafeRoute router network H → A → C → 1 (BayesLinear → LayerNorm → ReLU → BayesLinear → LayerNorm → ReLU →
/// BayesLinear) with a hand-written forward and backward pass over a minibatch, on System.Numerics.Tensors primitives.
/// </summary>
/// <remarks>
/// <para>
/// All trainable parameters live in one flat array (<see cref="Parameters"/>; gradients in <see cref="Gradients"/>, same
/// layout) so that the optimiser is one loop. A training forward uses sampled weights w = μ + exp(log σ)·ε with one ε
/// per parameter per minibatch (<see cref="SampleEpsilon"/>); <see cref="UseMeanWeights"/> sets ε = 0, which is the
/// inference network. The inference forward mirrors <see cref="MlpRouter.Score"/> operation for operation.
/// </para>
/// <para>
/// Determinism: every output element (a dot product, a row of a weight gradient, a bias-gradient entry) is reduced
/// by exactly one thread in a fixed order, so results are bit-identical for any degree of parallelism on a given
/// machine and runtime (SIMD width can differ between machines).
/// </para>
/// </remarks>
internal sealed class BayesianMlp
{
    public const float LayerNormEps = 1e-5f;

    private readonly ParallelOptions _parallel;

    // Workspace, sized for MaxBatch rows.
    private readonly float[] _x;
    private readonly float[] _a1;    // pre-activation of layer 1, then its gradient
    private readonly float[] _xhat1;
    private readonly float[] _r1;
    private readonly float[] _invStd1;
    private readonly float[] _a2;
    private readonly float[] _xhat2;
    private readonly float[] _r2;
    private readonly float[] _invStd2;
    private readonly double[] _z3;
    private readonly float[] _dz3;

    public BayesianMlp(int inputSize, int hidden1, int hidden2, int maxBatch, int degreeOfParallelism)
    {
        InputSize = inputSize;
        Hidden1 = hidden1;
        Hidden2 = hidden2;
        MaxBatch = maxBatch;
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = degreeOfParallelism };

        int offset = 0;
        int sampled = 0;
        W1 = Tensor(hidden1 * inputSize);
        B1 = Tensor(hidden1);
        Gamma1 = offset;
        offset += hidden1;
        Beta1 = offset;
        offset += hidden1;
        W2 = Tensor(hidden2 * hidden1);
        B2 = Tensor(hidden2);
        Gamma2 = offset;
        offset += hidden2;
        Beta2 = offset;
        offset += hidden2;
        W3 = Tensor(hidden2);
        B3 = Tensor(1);

        Parameters = new float[offset];
        Gradients = new float[offset];
        Sampled = new float[sampled];
        Epsilon = new float[sampled];
        SampledGradients = new float[sampled];
        MeanCount = sampled;

        _x = new float[maxBatch * inputSize];
        _a1 = new float[maxBatch * hidden1];
        _xhat1 = new float[maxBatch * hidden1];
        _r1 = new float[maxBatch * hidden1];
        _invStd1 = new float[maxBatch];
        _a2 = new float[maxBatch * hidden2];
        _xhat2 = new float[maxBatch * hidden2];
        _r2 = new float[maxBatch * hidden2];
        _invStd2 = new float[maxBatch];
        _z3 = new double[maxBatch];
        _dz3 = new float[maxBatch];

        BayesTensor Tensor(int length)
        {
            var t = new BayesTensor(offset, offset + length, sampled, length);
            offset += 2 * length;
            sampled += length;
            return t;
        }
    }

    public int InputSize { get; }

    public int Hidden1 { get; }

    public int Hidden2 { get; }

    public int MaxBatch { get; }

    public float[] Parameters { get; }

    public float[] Gradients { get; }

    /// <summary>The sampled weights and biases (μ + σ·ε), in the layout W1, B1, W2, B2, W3, B3.</summary>
    public float[] Sampled { get; }

    /// <summary>ε of the current minibatch, same layout as <see cref="Sampled"/>.</summary>
    public float[] Epsilon { get; }

    public float[] SampledGradients { get; }

    /// <summary>The number of weight and bias means: the KL divisor ("divided by the parameter count").</summary>
    public int MeanCount { get; }

    public BayesTensor W1 { get; }

    public BayesTensor B1 { get; }

    public BayesTensor W2 { get; }

    public BayesTensor B2 { get; }

    public BayesTensor W3 { get; }

    public BayesTensor B3 { get; }

    public int Gamma1 { get; }

    public int Beta1 { get; }

    public int Gamma2 { get; }

    public int Beta2 { get; }

    public float KlWeight { get; set; } = 0.01f;

    public float PriorSigma { get; set; } = 0.1f;

    public IEnumerable<BayesTensor> BayesTensors => [W1, B1, W2, B2, W3, B3];

    /// <summary>
    /// PyTorch-style initialisation: weight μ Kaiming-normal (fan-in, gain √2, std √(2 / fan_in)), bias μ uniform
    /// ±1/√fan_in, log σ = <paramref name="initialLogSigma"/>, LayerNorm γ = 1 and β = 0.
    /// </summary>
    public void Initialize(GaussianRandom random, float initialLogSigma)
    {
        InitLayer(W1, B1, InputSize);
        InitLayer(W2, B2, Hidden1);
        InitLayer(W3, B3, Hidden2);
        Parameters.AsSpan(Gamma1, Hidden1).Fill(1f);
        Parameters.AsSpan(Beta1, Hidden1).Clear();
        Parameters.AsSpan(Gamma2, Hidden2).Fill(1f);
        Parameters.AsSpan(Beta2, Hidden2).Clear();

        void InitLayer(BayesTensor w, BayesTensor b, int fanIn)
        {
            double std = Math.Sqrt(2.0 / fanIn);
            for (int i = 0; i < w.Length; i++)
            {
                Parameters[w.Mu + i] = (float)(std * random.NextGaussian());
            }

            double bound = 1.0 / Math.Sqrt(fanIn);
            for (int i = 0; i < b.Length; i++)
            {
                Parameters[b.Mu + i] = (float)(((2 * random.NextDouble()) - 1) * bound);
            }

            Parameters.AsSpan(w.LogSigma, w.Length).Fill(initialLogSigma);
            Parameters.AsSpan(b.LogSigma, b.Length).Fill(initialLogSigma);
        }
    }

    /// <summary>Draws a fresh ε ~ N(0, 1) for every weight and bias.</summary>
    public void SampleEpsilon(GaussianRandom random)
    {
        for (int i = 0; i < Epsilon.Length; i++)
        {
            Epsilon[i] = (float)random.NextGaussian();
        }
    }

    /// <summary>Sets ε = 0, so the sampled weights are the means (the inference network).</summary>
    public void UseMeanWeights() => Array.Clear(Epsilon);

    /// <summary>Computes the sampled weights w = μ + exp(log σ)·ε from <see cref="Parameters"/> and <see cref="Epsilon"/>.</summary>
    public void MaterializeWeights()
    {
        foreach (BayesTensor t in BayesTensors)
        {
            Span<float> w = Sampled.AsSpan(t.Sampled, t.Length);
            TensorPrimitives.Exp(Parameters.AsSpan(t.LogSigma, t.Length), w);
            TensorPrimitives.MultiplyAdd(w, Epsilon.AsSpan(t.Sampled, t.Length), Parameters.AsSpan(t.Mu, t.Length), w);
        }
    }

    /// <summary>The input buffer: row-major [batch, InputSize]; fill the first rows before <see cref="Forward"/>.</summary>
    public float[] Input => _x;

    /// <summary>Runs the network on the first <paramref name="batch"/> rows of <see cref="Input"/> with the materialised weights; returns the logits.</summary>
    public ReadOnlySpan<double> Forward(int batch)
    {
        int h = InputSize;
        int a = Hidden1;
        int c = Hidden2;
        float[] s = Sampled;
        For(batch, b =>
        {
            LinearRow(_x.AsSpan(b * h, h), s.AsSpan(W1.Sampled, a * h), s.AsSpan(B1.Sampled, a), _a1.AsSpan(b * a, a));
            _invStd1[b] = NormRelu(_a1.AsSpan(b * a, a), _xhat1.AsSpan(b * a, a), _r1.AsSpan(b * a, a), Parameters.AsSpan(Gamma1, a), Parameters.AsSpan(Beta1, a));
            LinearRow(_r1.AsSpan(b * a, a), s.AsSpan(W2.Sampled, c * a), s.AsSpan(B2.Sampled, c), _a2.AsSpan(b * c, c));
            _invStd2[b] = NormRelu(_a2.AsSpan(b * c, c), _xhat2.AsSpan(b * c, c), _r2.AsSpan(b * c, c), Parameters.AsSpan(Gamma2, c), Parameters.AsSpan(Beta2, c));
            _z3[b] = (double)TensorPrimitives.Dot(s.AsSpan(W3.Sampled, c), (ReadOnlySpan<float>)_r2.AsSpan(b * c, c)) + s[B3.Sampled];
        });
        return _z3.AsSpan(0, batch);
    }

    /// <summary>
    /// Forward and backward on the first <paramref name="batch"/> rows of <see cref="Input"/>: returns the loss
    /// mean BCE-with-logits(z, t) + KlWeight · KL(q ‖ N(0, PriorSigma²)) / MeanCount and overwrites <see cref="Gradients"/>.
    /// Call <see cref="MaterializeWeights"/> first.
    /// </summary>
    public double LossAndGradients(ReadOnlySpan<float> targets, int batch)
    {
        ReadOnlySpan<double> z = Forward(batch);
        double bce = 0;
        for (int b = 0; b < batch; b++)
        {
            double t = targets[b];
            bce += Math.Max(z[b], 0) - (z[b] * t) + Math.Log(1 + Math.Exp(-Math.Abs(z[b])));
            _dz3[b] = (float)((Sigmoid(z[b]) - t) / batch);
        }

        Backward(batch);
        double kl = KlAndGradients();
        return (bce / batch) + kl;
    }

    /// <summary>Forward only: the same loss as <see cref="LossAndGradients"/> (for gradient checks).</summary>
    public double Loss(ReadOnlySpan<float> targets, int batch)
    {
        ReadOnlySpan<double> z = Forward(batch);
        double bce = 0;
        for (int b = 0; b < batch; b++)
        {
            bce += Math.Max(z[b], 0) - (z[b] * targets[b]) + Math.Log(1 + Math.Exp(-Math.Abs(z[b])));
        }

        double kl = 0;
        foreach (BayesTensor t in BayesTensors)
        {
            for (int i = 0; i < t.Length; i++)
            {
                kl += Kl(Parameters[t.Mu + i], Parameters[t.LogSigma + i]);
            }
        }

        return (bce / batch) + (KlWeight * kl / MeanCount);
    }

    /// <summary>Copies the parameters into the core's weights container (with log σ).</summary>
    public MlpRouterWeights ToWeights()
    {
        var weights = new MlpRouterWeights(InputSize, Hidden1, Hidden2);
        Copy(W1, B1, weights.Layer1);
        Parameters.AsSpan(Gamma1, Hidden1).CopyTo(weights.Norm1.Weight);
        Parameters.AsSpan(Beta1, Hidden1).CopyTo(weights.Norm1.Bias);
        Copy(W2, B2, weights.Layer2);
        Parameters.AsSpan(Gamma2, Hidden2).CopyTo(weights.Norm2.Weight);
        Parameters.AsSpan(Beta2, Hidden2).CopyTo(weights.Norm2.Bias);
        Copy(W3, B3, weights.Layer3);
        weights.LayerNormEps = LayerNormEps;
        return weights;

        void Copy(BayesTensor w, BayesTensor b, BayesLinearWeights layer)
        {
            Parameters.AsSpan(w.Mu, w.Length).CopyTo(layer.WeightMu);
            Parameters.AsSpan(b.Mu, b.Length).CopyTo(layer.BiasMu);
            layer.WeightLogSigma = Parameters.AsSpan(w.LogSigma, w.Length).ToArray();
            layer.BiasLogSigma = Parameters.AsSpan(b.LogSigma, b.Length).ToArray();
        }
    }

    private static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    // As MlpRouter.Linear: one dot product per output, then the bias added.
    private static void LinearRow(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output)
    {
        int inputs = input.Length;
        for (int o = 0; o < output.Length; o++)
        {
            output[o] = TensorPrimitives.Dot(weight.Slice(o * inputs, inputs), input);
        }

        TensorPrimitives.Add(output, bias, output);
    }

    // The core router's LayerNorm + ReLU, keeping x̂ and 1/σ for the backward pass.
    private static float NormRelu(Span<float> values, Span<float> xhat, Span<float> relu, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta) =>
        RouterMath.LayerNormRelu(values, xhat, relu, gamma, beta, LayerNormEps);

    private void Backward(int batch)
    {
        int h = InputSize;
        int a = Hidden1;
        int c = Hidden2;
        float[] s = Sampled;
        float[] g = SampledGradients;
        float[] pg = Gradients;
        Array.Clear(pg);

        // Layer 3: z = w3 · r2 + b3. dR2[b] = dz[b]·w3 (into _a2, reused as the gradient buffer).
        For(c, j =>
        {
            double sum = 0;
            for (int b = 0; b < batch; b++)
            {
                sum += _dz3[b] * _r2[(b * c) + j];
            }

            g[W3.Sampled + j] = (float)sum;
        });
        double db3 = 0;
        for (int b = 0; b < batch; b++)
        {
            db3 += _dz3[b];
        }

        g[B3.Sampled] = (float)db3;
        For(batch, b =>
        {
            Span<float> d = _a2.AsSpan(b * c, c);
            TensorPrimitives.Multiply(s.AsSpan(W3.Sampled, c), _dz3[b], d);
            MaskRelu(d, _r2.AsSpan(b * c, c));
        });
        NormBackward(batch, c, _a2, _xhat2, _invStd2, Gamma2, Beta2);
        LinearBackward(batch, a, c, _r1, _a2, W2, B2, _a1);
        For(batch, b => MaskRelu(_a1.AsSpan(b * a, a), _r1.AsSpan(b * a, a)));
        NormBackward(batch, a, _a1, _xhat1, _invStd1, Gamma1, Beta1);
        LinearBackward(batch, h, a, _x, _a1, W1, B1, null);

        // Sampled weights → μ and log σ: ∂w/∂μ = 1, ∂w/∂log σ = σ·ε.
        foreach (BayesTensor t in BayesTensors)
        {
            for (int i = 0; i < t.Length; i++)
            {
                float dw = g[t.Sampled + i];
                pg[t.Mu + i] += dw;
                pg[t.LogSigma + i] += dw * MathF.Exp(Parameters[t.LogSigma + i]) * Epsilon[t.Sampled + i];
            }
        }
    }

    // dOut holds ∂L/∂y (after ReLU masking) on entry and ∂L/∂(pre-norm) on exit.
    private void NormBackward(int batch, int width, float[] dOut, float[] xhat, float[] invStd, int gamma, int beta)
    {
        float[] pg = Gradients;
        For(width, j =>
        {
            double dg = 0;
            double db = 0;
            for (int b = 0; b < batch; b++)
            {
                float d = dOut[(b * width) + j];
                dg += d * xhat[(b * width) + j];
                db += d;
            }

            pg[gamma + j] = (float)dg;
            pg[beta + j] = (float)db;
        });
        For(batch, b =>
        {
            Span<float> d = dOut.AsSpan(b * width, width);
            ReadOnlySpan<float> xh = xhat.AsSpan(b * width, width);
            TensorPrimitives.Multiply(d, Parameters.AsSpan(gamma, width), d); // ∂L/∂x̂
            float meanD = TensorPrimitives.Sum<float>(d) / width;
            float meanDx = TensorPrimitives.Dot<float>(d, xh) / width;
            for (int j = 0; j < width; j++)
            {
                d[j] = invStd[b] * (d[j] - meanD - (xh[j] * meanDx));
            }
        });
    }

    // out = W·in + bias, W [outputs, inputs]. Given dOut [batch, outputs], writes dW and db (sampled layout) and, if
    // dIn is not null, dIn = dOut·W [batch, inputs].
    private void LinearBackward(int batch, int inputs, int outputs, float[] input, float[] dOut, BayesTensor w, BayesTensor bias, float[]? dIn)
    {
        float[] s = Sampled;
        float[] g = SampledGradients;
        For(outputs, o =>
        {
            Span<float> row = g.AsSpan(w.Sampled + (o * inputs), inputs);
            row.Clear();
            double db = 0;
            for (int b = 0; b < batch; b++)
            {
                float d = dOut[(b * outputs) + o];
                db += d;
                if (d != 0)
                {
                    TensorPrimitives.MultiplyAdd(input.AsSpan(b * inputs, inputs), d, row, row);
                }
            }

            g[bias.Sampled + o] = (float)db;
        });
        if (dIn is not null)
        {
            For(batch, b =>
            {
                Span<float> row = dIn.AsSpan(b * inputs, inputs);
                row.Clear();
                for (int o = 0; o < outputs; o++)
                {
                    float d = dOut[(b * outputs) + o];
                    if (d != 0)
                    {
                        TensorPrimitives.MultiplyAdd(s.AsSpan(w.Sampled + (o * inputs), inputs), d, row, row);
                    }
                }
            });
        }
    }

    private static void MaskRelu(Span<float> gradient, ReadOnlySpan<float> output)
    {
        for (int j = 0; j < gradient.Length; j++)
        {
            if (!(output[j] > 0))
            {
                gradient[j] = 0;
            }
        }
    }

    // KL(N(μ, σ²) ‖ N(0, σp²)) = log σp − log σ + (σ² + μ²) / (2σp²) − ½, summed, times KlWeight / MeanCount.
    private double KlAndGradients()
    {
        double scale = (double)KlWeight / MeanCount;
        double inversePrior = 1.0 / ((double)PriorSigma * PriorSigma);
        double sum = 0;
        float[] p = Parameters;
        float[] pg = Gradients;
        foreach (BayesTensor t in BayesTensors)
        {
            for (int i = 0; i < t.Length; i++)
            {
                double mu = p[t.Mu + i];
                double ls = p[t.LogSigma + i];
                sum += Kl(mu, ls);
                pg[t.Mu + i] += (float)(scale * mu * inversePrior);
                pg[t.LogSigma + i] += (float)(scale * (-1 + (Math.Exp(2 * ls) * inversePrior)));
            }
        }

        return scale * sum;
    }

    private double Kl(double mu, double logSigma)
    {
        double prior = PriorSigma;
        return Math.Log(prior) - logSigma + ((Math.Exp(2 * logSigma) + (mu * mu)) / (2 * prior * prior)) - 0.5;
    }

    private void For(int count, Action<int> body)
    {
        if (_parallel.MaxDegreeOfParallelism == 1 || count < 2)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }
        }
        else
        {
            Parallel.For(0, count, _parallel, body);
        }
    }

    /// <summary>One Bayesian tensor: offsets of μ and log σ in the parameters and of the sampled values.</summary>
    internal readonly record struct BayesTensor(int Mu, int LogSigma, int Sampled, int Length);
}

/// <summary>A seeded generator of uniform and standard-normal numbers (System.Random's seeded algorithm, stable across .NET versions, plus Box–Muller).</summary>
internal sealed class GaussianRandom(int seed)
{
    private readonly Random _random = new(seed);
    private double _spare;
    private bool _hasSpare;

    public double NextDouble() => _random.NextDouble();

    public int Next(int maxExclusive) => _random.Next(maxExclusive);

    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }

        double u1;
        do
        {
            u1 = _random.NextDouble();
        }
        while (u1 <= double.Epsilon);

        double u2 = _random.NextDouble();
        double r = Math.Sqrt(-2 * Math.Log(u1));
        double theta = 2 * Math.PI * u2;
        _spare = r * Math.Sin(theta);
        _hasSpare = true;
        return r * Math.Cos(theta);
    }
}
