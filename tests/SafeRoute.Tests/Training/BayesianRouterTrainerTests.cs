using SafeRoute.Routing;
using SafeRoute.Training;

namespace SafeRoute.Tests.Training;

[TestFixture]
public sealed class BayesianRouterTrainerTests
{
    private const int Features = 8;
    private string _directory = "";

    [OneTimeSetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "saferoute-trainer-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [OneTimeTearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    // Planted rule: features ~ N(0, 1); an example is hard exactly when feature 0 > 0.8 (about 20% of rows).
    // Rows within 0.15 of the boundary are redrawn, so the classes are linearly separable with a margin.
    private static (float[] X, bool[] T) Planted(int rows, int seed)
    {
        var random = new GaussianRandom(seed);
        float[] x = new float[rows * Features];
        bool[] t = new bool[rows];
        for (int r = 0; r < rows; r++)
        {
            do
            {
                for (int j = 0; j < Features; j++)
                {
                    x[(r * Features) + j] = (float)random.NextGaussian();
                }
            }
            while (Math.Abs(x[r * Features] - 0.8f) < 0.15f);

            t[r] = x[r * Features] > 0.8f;
        }

        return (x, t);
    }

    private static BayesianRouterTrainerOptions Small(int seed, int epochs = 40) => new()
    {
        Epochs = epochs,
        HiddenSize = 16,
        BatchSize = 128,
        WarmupSteps = 20,
        LearningRate = 5e-3,
        Seed = seed,
    };

    [Test]
    public void Backward_MatchesFiniteDifferences_OnTinyNetwork()
    {
        // 3 → 4 → 5 → 1 with a strong KL term, perturbed log σ and LayerNorm affine parameters, and one fixed ε.
        var net = new BayesianMlp(3, 4, 5, maxBatch: 6, degreeOfParallelism: 1) { KlWeight = 0.5f, PriorSigma = 0.3f };
        var random = new GaussianRandom(11);
        net.Initialize(random, MathF.Log(0.2f));
        for (int i = 0; i < net.Parameters.Length; i++)
        {
            net.Parameters[i] += (float)(0.3 * random.NextGaussian());
        }

        net.SampleEpsilon(random);
        for (int i = 0; i < 6 * 3; i++)
        {
            net.Input[i] = (float)random.NextGaussian();
        }

        float[] targets = [1, 0, 0, 1, 1, 0];
        net.MaterializeWeights();
        double loss = net.LossAndGradients(targets, 6);
        float[] analytic = (float[])net.Gradients.Clone();
        Assert.That(net.Loss(targets, 6), Is.EqualTo(loss).Within(1e-9), "Loss and LossAndGradients agree");

        const float H = 1e-3f;
        var failures = new List<string>();
        double largest = 0;
        for (int k = 0; k < net.Parameters.Length; k++)
        {
            float original = net.Parameters[k];
            net.Parameters[k] = original + H;
            net.MaterializeWeights();
            double plus = net.Loss(targets, 6);
            net.Parameters[k] = original - H;
            net.MaterializeWeights();
            double minus = net.Loss(targets, 6);
            net.Parameters[k] = original;
            double numeric = (plus - minus) / (2 * (double)H);
            largest = Math.Max(largest, Math.Abs(numeric));
            if (Math.Abs(numeric - analytic[k]) > 1e-3 + (1e-2 * Math.Abs(numeric)))
            {
                failures.Add($"parameter {k}: analytic {analytic[k]:G6}, numeric {numeric:G6}");
            }
        }

        Assert.That(failures, Is.Empty);
        Assert.That(largest, Is.GreaterThan(0.01), "the check must exercise non-trivial gradients");
        Assert.That(net.Parameters, Has.Length.EqualTo((2 * ((3 * 4) + 4 + (4 * 5) + 5 + 5 + 1)) + (2 * 4) + (2 * 5)));
    }

    [Test]
    public void Train_PlantedLinearRule_RoutingF1AtLeast095OnHeldOutRows()
    {
        (float[] x, bool[] t) = Planted(1600, seed: 5);
        (float[] testX, bool[] testT) = Planted(800, seed: 6);

        RouterTrainingResult result = new BayesianRouterTrainer(Small(seed: 1)).Train(x, Features, t);

        bool[] predicted = new bool[testT.Length];
        for (int r = 0; r < testT.Length; r++)
        {
            predicted[r] = result.Router.Score(testX.AsSpan(r * Features, Features), 0, 0) > 0.5f;
        }

        double f1 = BinaryCounts.Count(predicted, testT).F1;
        TestContext.Out.WriteLine($"held-out routing F1 {f1:F4}; validation F1 {result.ValidationRoutingF1:F4}; loss {result.EpochLosses[0]:F4} → {result.EpochLosses[^1]:F4}");
        Assert.Multiple(() =>
        {
            Assert.That(f1, Is.GreaterThanOrEqualTo(0.95));
            Assert.That(result.EpochLosses[^1], Is.LessThan(result.EpochLosses[0]));
            Assert.That(result.Steps, Is.EqualTo(40 * 12)); // 1440 training rows / 128 → 12 steps an epoch
        });
    }

    [Test]
    public void Train_StratifiedValidationSplit_HoldsTenPercentOfEachClass()
    {
        (float[] x, bool[] t) = Planted(500, seed: 9);
        RouterTrainingResult result = new BayesianRouterTrainer(Small(seed: 2, epochs: 1)).Train(x, Features, t);

        int hard = t.Count(v => v);
        int heldHard = result.ValidationIndices.Count(i => t[i]);
        Assert.Multiple(() =>
        {
            Assert.That(heldHard, Is.EqualTo((int)Math.Round(0.1 * hard, MidpointRounding.AwayFromZero)));
            Assert.That(result.ValidationIndices.Count - heldHard, Is.EqualTo((int)Math.Round(0.1 * (500 - hard), MidpointRounding.AwayFromZero)));
            Assert.That(result.TrainIndices.Concat(result.ValidationIndices).Order(), Is.EqualTo(Enumerable.Range(0, 500)));
        });
    }

    [Test]
    public void Train_SameSeed_BitIdenticalWeights_DifferentSeed_Different_AnyThreadCount()
    {
        (float[] x, bool[] t) = Planted(400, seed: 3);

        byte[] Run(int seed, int threads)
        {
            BayesianRouterTrainerOptions options = Small(seed, epochs: 5);
            options.MaxDegreeOfParallelism = threads;
            string path = Path.Combine(_directory, $"det-{seed}-{threads}-{Guid.NewGuid():N}.safetensors");
            new BayesianRouterTrainer(options).Train(x, Features, t).Save(path);
            return File.ReadAllBytes(path);
        }

        byte[] first = Run(7, 1);
        Assert.Multiple(() =>
        {
            Assert.That(Run(7, 1), Is.EqualTo(first), "same seed, same bytes");
            Assert.That(Run(7, 2), Is.EqualTo(first), "two threads, same bytes");
            Assert.That(Run(8, 1), Is.Not.EqualTo(first), "another seed, other weights");
        });
    }

    [Test]
    public void Save_LoadedByMlpRouter_ScoresEqualTrainerForward()
    {
        (float[] x, bool[] t) = Planted(600, seed: 4);
        RouterTrainingResult result = new BayesianRouterTrainer(Small(seed: 4, epochs: 8)).Train(x, Features, t);
        string path = Path.Combine(_directory, "saved.safetensors");

        result.Save(path, threshold: 0.3f);
        MlpRouter loaded = MlpRouter.Load(path);

        Assert.That(loaded.InputSize, Is.EqualTo(Features));
        Assert.That(loaded.CalibratedThreshold, Is.EqualTo(0.3f));
        float[] expected = result.ValidationScores.ToArray(); // the trainer's own mean-weight forward
        for (int k = 0; k < expected.Length; k++)
        {
            int row = result.ValidationIndices[k];
            Assert.That(loaded.Score(x.AsSpan(row * Features, Features), 0, 0), Is.EqualTo(expected[k]).Within(1e-6f), $"validation row {k}");
        }

        IReadOnlyDictionary<string, SafetensorsTensor> tensors = Safetensors.Read(path).Item1;
        Assert.That(tensors.Keys, Does.Contain("cls.0.weight_log_sigma").And.Contain("cls.6.bias_log_sigma").And.Contain("cls.4.weight"));
        Assert.That(tensors["cls.0.weight_log_sigma"].Data.Distinct().Count(), Is.GreaterThan(1), "trained log σ are saved, not the initial constant");
    }

    [Test]
    [Explicit("Timing at the paper's size (H 2048, 512 hidden, batch 512); run by hand.")]
    public void Train_PaperSize_StepTime()
    {
        const int h = 2048;
        var random = new GaussianRandom(1);
        float[] x = [.. Enumerable.Range(0, 1024 * h).Select(_ => (float)random.NextGaussian())];
        bool[] t = [.. Enumerable.Range(0, 1024).Select(i => i % 5 == 0)];
        foreach (int threads in new[] { 1, 2 })
        {
            var options = new BayesianRouterTrainerOptions { Epochs = 2, ValidationFraction = 0, MaxDegreeOfParallelism = threads };
            var watch = System.Diagnostics.Stopwatch.StartNew();
            RouterTrainingResult result = new BayesianRouterTrainer(options).Train(x, h, t);
            TestContext.Out.WriteLine($"{threads} thread(s): {watch.Elapsed.TotalSeconds / result.Steps:F3} s per step of 512 rows");
        }
    }

    [Test]
    public void LearningRateFactor_WarmsUpLinearlyThenDecaysToZero()
    {
        Assert.Multiple(() =>
        {
            Assert.That(BayesianRouterTrainer.LearningRateFactor(0, 100, 1100), Is.Zero);
            Assert.That(BayesianRouterTrainer.LearningRateFactor(50, 100, 1100), Is.EqualTo(0.5));
            Assert.That(BayesianRouterTrainer.LearningRateFactor(100, 100, 1100), Is.EqualTo(1.0));
            Assert.That(BayesianRouterTrainer.LearningRateFactor(600, 100, 1100), Is.EqualTo(0.5));
            Assert.That(BayesianRouterTrainer.LearningRateFactor(1100, 100, 1100), Is.Zero);
        });
    }

    [Test]
    public void Train_ArgValidation()
    {
        var trainer = new BayesianRouterTrainer(new BayesianRouterTrainerOptions { Epochs = 1, HiddenSize = 4 });
        Assert.Throws<ArgumentNullException>(() => trainer.Train(null!));
        Assert.Throws<ArgumentException>(() => trainer.Train(new float[5], 2, new bool[3]));
        Assert.Throws<ArgumentException>(() => trainer.Train(new float[20], 2, new bool[10]), "one class only");
        Assert.Throws<ArgumentOutOfRangeException>(() => new BayesianRouterTrainer(new BayesianRouterTrainerOptions { Epochs = 0 }).Train(new float[4], 2, [true, false]));
    }
}
