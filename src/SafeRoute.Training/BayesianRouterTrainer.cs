using SafeRoute.Routing;
using SafeRoute.Training.Shared;

namespace SafeRoute.Training;

/// <summary>
/// Trains the SafeRoute router with the paper's recipe: a Bayesian MLP BayesLinear(H, 512) → LayerNorm → ReLU →
/// BayesLinear(512, 512) → LayerNorm → ReLU → BayesLinear(512, 1) over the small guard's features, fitted to the hard
/// labels with BCE-with-logits + 0.01 · KL(q ‖ N(0, 0.1²)) (KL summed over all weights and biases and divided by
/// their count), AdamW (lr 1e-3, β 0.9/0.999, ε 1e-8, weight decay 0.01), 100 warm-up steps then linear decay to 0,
/// minibatches of 512 drawn with replacement with class-balanced weights (1 / class count), a stratified 10%
/// validation split and the last epoch kept.
/// </summary>
/// <remarks>
/// <para>
/// Why hand-written on System.Numerics.Tensors rather than TorchSharp or ML.NET: the network is three dense layers, so
/// its forward and backward passes are a few hundred lines of dot products and axpys that
/// <see cref="System.Numerics.Tensors.TensorPrimitives"/> vectorises (AVX2/AVX-512/NEON). That keeps the package
/// small and free of native dependencies (TorchSharp brings libtorch, hundreds of MB per platform), runs wherever
/// .NET runs, and gives bit-exact reproducibility we control. ML.NET has no Bayesian layers, no reparameterised KL
/// loss and no custom training loop of this kind. The backward pass is checked against finite differences in the
/// tests.
/// </para>
/// <para>
/// Reproducibility: every random choice (Kaiming-normal / uniform initialisation, the split, the balanced sampling,
/// one ε per weight per minibatch) comes from one <see cref="Random"/> seeded with
/// <see cref="BayesianRouterTrainerOptions.Seed"/>, whose seeded algorithm is stable across .NET versions. By default
/// training is single-threaded; with <see cref="BayesianRouterTrainerOptions.MaxDegreeOfParallelism"/> above 1 the
/// matrix products of a minibatch are split across threads by output row, each output element still reduced by one
/// thread in a fixed order, so the weights are bit-identical for any thread count. Bitwise equality holds on one
/// machine and runtime; a different SIMD width (say AVX-512 against AVX2) may change the last bits.
/// </para>
/// <para>An instance holds only its options and may be used for several trainings, one at a time or concurrently.</para>
/// </remarks>
public sealed class BayesianRouterTrainer
{
    /// <summary>Initializes a new instance of the <see cref="BayesianRouterTrainer"/> class.</summary>
    /// <param name="options">The settings; <see langword="null"/> for the paper's defaults. Copied by value at each <c>Train</c> call.</param>
    public BayesianRouterTrainer(BayesianRouterTrainerOptions? options = null)
    {
        Options = options ?? new BayesianRouterTrainerOptions();
    }

    /// <summary>Gets the settings.</summary>
    public BayesianRouterTrainerOptions Options { get; }

    /// <summary>Trains a router on a feature set's features and hard labels.</summary>
    /// <param name="data">The rows; both hard-label classes must be present.</param>
    /// <param name="progress">Told after each epoch, on the calling thread.</param>
    /// <param name="cancellationToken">Stops training between minibatches.</param>
    /// <returns>The router and its validation measurements.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">The set has no features, or one hard-label class is missing from the training split.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public RouterTrainingResult Train(FeatureSet data, IProgress<RouterTrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Train(data.Features, data.HiddenSize, data.HardLabels, progress, cancellationToken);
    }

    /// <summary>Trains a router on raw features and targets.</summary>
    /// <param name="features">Row-major features, <c>rows × featureSize</c>.</param>
    /// <param name="featureSize">The feature-vector length H.</param>
    /// <param name="targets">The hard label of each row (true: the large guard is needed).</param>
    /// <param name="progress">Told after each epoch, on the calling thread.</param>
    /// <param name="cancellationToken">Stops training between minibatches.</param>
    /// <returns>The router and its validation measurements.</returns>
    /// <exception cref="ArgumentException">The lengths disagree, a feature is not finite, or one class is missing from the training split.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="featureSize"/> is not positive, or an option is out of range.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public RouterTrainingResult Train(ReadOnlySpan<float> features, int featureSize, ReadOnlySpan<bool> targets, IProgress<RouterTrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureSize);
        Options.Validate();
        BayesianRouterTrainerOptions o = Options;
        int n = targets.Length;
        if (features.Length != (long)n * featureSize)
        {
            throw new ArgumentException($"The features hold {features.Length} values; {n} rows × {featureSize} need {(long)n * featureSize}.", nameof(features));
        }

        for (int i = 0; i < features.Length; i++)
        {
            if (!float.IsFinite(features[i]))
            {
                throw new ArgumentException($"Feature {i % featureSize} of row {i / featureSize} is not finite.", nameof(features));
            }
        }

        var random = new GaussianRandom(o.Seed);
        (int[] train, int[] validation) = StratifiedSplit(targets, o.ValidationFraction, random);
        bool[] targetArray = targets.ToArray();
        int[] positives = [.. train.Where(i => targetArray[i])];
        int[] negatives = [.. train.Where(i => !targetArray[i])];
        if (positives.Length == 0 || negatives.Length == 0)
        {
            throw new ArgumentException($"The training split needs both classes; it has {positives.Length} hard and {negatives.Length} other rows.", nameof(targets));
        }

        int batchSize = o.BatchSize;
        var net = new BayesianMlp(featureSize, o.HiddenSize, o.HiddenSize, batchSize, o.MaxDegreeOfParallelism)
        {
            KlWeight = (float)o.KlWeight,
            PriorSigma = (float)o.PriorSigma,
        };
        net.Initialize(random, (float)Math.Log(o.InitialSigma));
        var optimizer = new AdamW(net.Parameters.Length, o.Beta1, o.Beta2, o.AdamEpsilon, o.WeightDecay);

        int stepsPerEpoch = (train.Length + batchSize - 1) / batchSize;
        int totalSteps = checked(stepsPerEpoch * o.Epochs);
        double[] epochLosses = new double[o.Epochs];
        float[] batchTargets = new float[batchSize];
        float[] x = net.Input;
        int step = 0;
        for (int epoch = 0; epoch < o.Epochs; epoch++)
        {
            double lossSum = 0;
            for (int s = 0; s < stepsPerEpoch; s++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int rows = Math.Min(batchSize, train.Length - (s * batchSize));

                // Class-balanced sampling with replacement: with weight 1/count per example each class holds half the
                // total weight, so a draw picks a class with probability ½ and then a uniform example within it.
                for (int b = 0; b < rows; b++)
                {
                    int[] pool = random.NextDouble() < 0.5 ? positives : negatives;
                    int row = pool[random.Next(pool.Length)];
                    features.Slice(row * featureSize, featureSize).CopyTo(x.AsSpan(b * featureSize, featureSize));
                    batchTargets[b] = targets[row] ? 1f : 0f;
                }

                net.SampleEpsilon(random);
                net.MaterializeWeights();
                lossSum += net.LossAndGradients(batchTargets, rows);
                optimizer.Step(net.Parameters, net.Gradients, o.LearningRate * LearningRateFactor(step, o.WarmupSteps, totalSteps));
                step++;
            }

            epochLosses[epoch] = lossSum / stepsPerEpoch;
            progress?.Report(new RouterTrainingProgress(epoch + 1, o.Epochs, epochLosses[epoch]));
        }

        MlpRouter router = ToRouter(net.ToWeights());
        float[] validationScores = Score(net, features, featureSize, validation);
        double validationLoss = double.NaN;
        bool[] predicted = new bool[validation.Length];
        bool[] actual = new bool[validation.Length];
        if (validation.Length > 0)
        {
            double sum = 0;
            for (int k = 0; k < validation.Length; k++)
            {
                double p = Math.Clamp(validationScores[k], 1e-12, 1 - 1e-12);
                actual[k] = targets[validation[k]];
                predicted[k] = validationScores[k] > 0.5f;
                sum -= actual[k] ? Math.Log(p) : Math.Log(1 - p);
            }

            validationLoss = sum / validation.Length;
        }

        return new RouterTrainingResult(router, epochLosses, train, validation, validationScores, validationLoss, BinaryCounts.Count(predicted, actual), step);
    }

    /// <summary>The linear warm-up then linear decay schedule (Hugging Face's get_linear_schedule_with_warmup), for step 0, 1, ….</summary>
    internal static double LearningRateFactor(int step, int warmupSteps, int totalSteps)
    {
        if (step < warmupSteps)
        {
            return (double)step / Math.Max(1, warmupSteps);
        }

        return Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps));
    }

    /// <summary>Scores rows with the network's mean weights (what the saved router computes).</summary>
    internal static float[] Score(BayesianMlp net, ReadOnlySpan<float> features, int featureSize, IReadOnlyList<int> rows)
    {
        net.UseMeanWeights();
        net.MaterializeWeights();
        float[] scores = new float[rows.Count];
        for (int start = 0; start < rows.Count; start += net.MaxBatch)
        {
            int count = Math.Min(net.MaxBatch, rows.Count - start);
            for (int b = 0; b < count; b++)
            {
                features.Slice(rows[start + b] * featureSize, featureSize).CopyTo(net.Input.AsSpan(b * featureSize, featureSize));
            }

            ReadOnlySpan<double> z = net.Forward(count);
            for (int b = 0; b < count; b++)
            {
                scores[start + b] = (float)(1.0 / (1.0 + Math.Exp(-z[b])));
            }
        }

        return scores;
    }

    private static (int[] Train, int[] Validation) StratifiedSplit(ReadOnlySpan<bool> targets, double fraction, GaussianRandom random)
    {
        var train = new List<int>(targets.Length);
        var validation = new List<int>();
        foreach (bool cls in (ReadOnlySpan<bool>)[true, false])
        {
            var members = new List<int>();
            for (int i = 0; i < targets.Length; i++)
            {
                if (targets[i] == cls)
                {
                    members.Add(i);
                }
            }

            // Fisher–Yates shuffle, then the first round(fraction · count) go to validation.
            for (int i = members.Count - 1; i > 0; i--)
            {
                int j = random.Next(i + 1);
                (members[i], members[j]) = (members[j], members[i]);
            }

            int held = (int)Math.Round(fraction * members.Count, MidpointRounding.AwayFromZero);
            validation.AddRange(members.Take(held));
            train.AddRange(members.Skip(held));
        }

        train.Sort();
        validation.Sort();
        return ([.. train], [.. validation]);
    }

    /// <summary>The trained weights as a router, through the router file format (the public contract with the core).</summary>
    private static MlpRouter ToRouter(MlpRouterWeights weights)
    {
        using var stream = new MemoryStream();
        Safetensors.Write(stream, weights.ToTensors(), MlpRouterWeights.Metadata(weights.LayerNormEps, threshold: null));
        stream.Position = 0;
        return MlpRouter.Load(stream, "trained router");
    }
}
