using SafeRoute.Routing;

namespace SafeRoute.Tests.Routing;

[TestFixture]
public sealed class BaselineRoutersTests
{
    private static readonly float Ln3 = MathF.Log(3f);

    private static IEnumerable<ISafetyRouter> AllBaselines()
    {
        yield return new EntropyRouter();
        yield return new TemperatureScalingRouter(2f);
        yield return new ContextualCalibrationRouter(0.8f);
        yield return new BatchCalibrationRouter(0.25f);
    }

    [Test]
    public void EntropyRouter_QUnsafeThreeQuarters_IsHandComputedEntropy()
    {
        // z = (0, ln 3) → q1 = 3 / (1 + 3) = 0.75; H = −0.25·log2 0.25 − 0.75·log2 0.75 = 0.5 + 0.311278124 = 0.811278124459.
        Assert.That(new EntropyRouter().Score([], 0f, Ln3), Is.EqualTo(0.811278124459).Within(1e-6));
    }

    [Test]
    public void EntropyRouter_EqualLogits_IsOneBit() =>
        Assert.That(new EntropyRouter().Score([], 7f, 7f), Is.EqualTo(1f).Within(1e-7));

    [Test]
    public void TemperatureScalingRouter_TemperatureTwo_IsHandComputedEntropy()
    {
        // z / τ = (0, ln 3 / 2) → q1 = √3 / (1 + √3) = 0.633974596; H(0.633974596) = 0.947571332771.
        Assert.That(new TemperatureScalingRouter(2f).Score([], 0f, Ln3), Is.EqualTo(0.947571332771).Within(1e-6));
    }

    [Test]
    public void ContextualCalibrationRouter_ContentFreePointEight_IsHandComputedEntropy()
    {
        // q = [0.25, 0.75], q_cf = [0.2, 0.8]: q / q_cf = [1.25, 0.9375] → q̂1 = 0.9375 / 2.1875 = 3/7; H(3/7) = 0.985228136034.
        Assert.That(new ContextualCalibrationRouter(0.8f).Score([], 0f, Ln3), Is.EqualTo(0.985228136034).Within(1e-6));
    }

    [Test]
    public void BatchCalibrationRouter_MeanOneQuarter_IsHandComputedEntropy()
    {
        // q = [0.25, 0.75], [1 − m, m] = [0.75, 0.25]: q / [..] = [1/3, 3] → q̂1 = 3 / (10/3) = 0.9; H(0.9) = 0.468995593589.
        Assert.That(new BatchCalibrationRouter(0.25f).Score([], 0f, Ln3), Is.EqualTo(0.468995593589).Within(1e-6));
    }

    [TestCaseSource(nameof(AllBaselines))]
    public void Score_ExtremeLogits_FiniteAndInRange(ISafetyRouter router)
    {
        (float Safe, float Unsafe)[] cases =
        [
            (1e4f, -1e4f), (-1e4f, 1e4f), (1e4f, 1e4f), (-1e4f, -1e4f), (0f, 1e4f),
            (float.MaxValue, -float.MaxValue), (-float.MaxValue, float.MaxValue), (float.PositiveInfinity, 0f), (0f, float.NegativeInfinity),
        ];
        foreach ((float safe, float @unsafe) in cases)
        {
            float score = router.Score([], safe, @unsafe);
            Assert.That(float.IsFinite(score), Is.True, $"{router.Name} ({safe}, {@unsafe}) gave {score}");
            Assert.That(score, Is.InRange(0f, 1f), $"{router.Name} ({safe}, {@unsafe})");
        }

        // A 2·10⁴ logit gap is certain under any of these calibrations: no entropy left.
        Assert.That(router.Score([], 1e4f, -1e4f), Is.EqualTo(0f).Within(1e-6), router.Name);
    }

    [TestCaseSource(nameof(AllBaselines))]
    public void Properties_AreTheDocumentedOnes(ISafetyRouter router)
    {
        Assert.That(router.FeatureSize, Is.Null);
        Assert.That(router.DefaultThreshold, Is.EqualTo(0.5f));
        Assert.That(router.Name, Is.AnyOf("entropy", "temperature-scaling", "contextual-calibration", "batch-calibration"));
        Assert.That(router.Score(new float[2048], 0f, Ln3), Is.EqualTo(router.Score([], 0f, Ln3)), "features are ignored");
    }

    [Test]
    public void Constructors_ArgValidation()
    {
        foreach (float bad in new[] { 0f, -1f, float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = new TemperatureScalingRouter(bad), $"τ = {bad}");
        }

        foreach (float bad in new[] { 0f, 1f, -0.1f, 1.1f, float.NaN, float.PositiveInfinity })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ContextualCalibrationRouter(bad), $"q_cf = {bad}");
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = new BatchCalibrationRouter(bad), $"m = {bad}");
        }

        Assert.That(new TemperatureScalingRouter(0.25f).Temperature, Is.EqualTo(0.25f));
        Assert.That(new ContextualCalibrationRouter(0.3f).ContentFreeUnsafeProbability, Is.EqualTo(0.3f));
        Assert.That(new BatchCalibrationRouter(0.4f).MeanUnsafeProbability, Is.EqualTo(0.4f));
    }

    [TestCase(2.5)]
    [TestCase(0.5)]
    public void FitTemperature_SyntheticDataWithPlantedTemperature_RecoversIt(double planted)
    {
        // Logit gaps d ~ N(0, 3²); labels drawn with P(unsafe) = σ(d / τ*), so τ* maximises the likelihood in expectation.
        const int N = 20_000;
        var random = new Random(12345);
        float[] safe = new float[N];
        float[] @unsafe = new float[N];
        int[] labels = new int[N];
        for (int i = 0; i < N; i++)
        {
            double d = 3 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            double offset = (random.NextDouble() * 10) - 5;  // only the difference matters
            safe[i] = (float)offset;
            @unsafe[i] = (float)(offset + d);
            labels[i] = random.NextDouble() < 1 / (1 + Math.Exp(-d / planted)) ? 1 : 0;
        }

        float fitted = TemperatureScalingRouter.FitTemperature(safe, @unsafe, labels);

        Assert.That(fitted, Is.EqualTo(planted).Within(8).Percent);
    }

    [Test]
    public void FitTemperature_PerfectlySeparatedData_HitsLowerBound()
    {
        float fitted = TemperatureScalingRouter.FitTemperature([0f, 0f, 0f], [2f, -3f, 1f], [1, 0, 1]);

        Assert.That(fitted, Is.EqualTo(0.01f).Within(1e-4));
    }

    [Test]
    public void FitTemperature_ArgValidation()
    {
        Assert.Throws<ArgumentException>(() => TemperatureScalingRouter.FitTemperature([], [], []));
        Assert.Throws<ArgumentException>(() => TemperatureScalingRouter.FitTemperature([0f, 1f], [1f], [1, 0]));
        Assert.Throws<ArgumentException>(() => TemperatureScalingRouter.FitTemperature([0f], [1f], [2]));
        Assert.Throws<ArgumentException>(() => TemperatureScalingRouter.FitTemperature([float.NaN], [1f], [1]));
    }

    [Test]
    public void EstimateMean_HandComputed()
    {
        // q1 = 0.75, 0.5, 0 (a 2·10⁴ gap towards safe) → mean 1.25 / 3 = 0.416666….
        float mean = BatchCalibrationRouter.EstimateMean([0f, 4f, 1e4f], [Ln3, 4f, -1e4f]);

        Assert.That(mean, Is.EqualTo(1.25 / 3).Within(1e-6));
    }

    [Test]
    public void EstimateMean_ArgValidation()
    {
        Assert.Throws<ArgumentException>(() => BatchCalibrationRouter.EstimateMean([], []));
        Assert.Throws<ArgumentException>(() => BatchCalibrationRouter.EstimateMean([0f], [0f, 1f]));
        Assert.Throws<ArgumentException>(() => BatchCalibrationRouter.EstimateMean([float.NaN], [0f]));
    }

    [TestCaseSource(nameof(AllBaselines))]
    public void Score_32ParallelCalls_EqualSequentialResults(ISafetyRouter router)
    {
        (float Safe, float Unsafe)[] inputs = [.. Enumerable.Range(0, 32).Select(i => ((float)(i % 5), (float)(i * 0.37 - 4)))];
        float[] sequential = [.. inputs.Select(z => router.Score([], z.Safe, z.Unsafe))];
        float[] parallel = new float[inputs.Length];

        Parallel.For(0, inputs.Length, i => parallel[i] = router.Score([], inputs[i].Safe, inputs[i].Unsafe));

        Assert.That(parallel, Is.EqualTo(sequential));
    }
}
