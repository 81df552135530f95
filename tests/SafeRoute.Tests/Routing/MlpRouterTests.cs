using System.Buffers.Binary;
using SafeRoute.Routing;

namespace SafeRoute.Tests.Routing;

[TestFixture]
public sealed class MlpRouterTests
{
    private const int PaperInput = 2048;
    private const int PaperHidden = 512;

    private string _directory = "";
    private ReferenceRouterModel _paper = null!;
    private string _paperPath = "";
    private MlpRouter _paperRouter = null!;

    [OneTimeSetUp]
    public void CreateFiles()
    {
        _directory = Path.Combine(Path.GetTempPath(), "saferoute-mlp-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _paper = ReferenceRouterModel.CreateRandom(PaperInput, PaperHidden, PaperHidden, seed: 20250217);
        _paperPath = Path.Combine(_directory, "paper.safetensors");
        _paper.WriteF32(_paperPath);
        _paperRouter = MlpRouter.Load(_paperPath);
    }

    [OneTimeTearDown]
    public void DeleteFiles() => Directory.Delete(_directory, recursive: true);

    // The tiny 3 → 2 → 2 → 1 router of the hand computation, with the reference tensor names.
    private static ReferenceRouterModel Tiny()
    {
        var m = new ReferenceRouterModel(3, 2, 2);
        float[] w1 = [1, 0, 0, 0, 0, 1];  // rows [1, 0, 0] and [0, 0, 1]
        w1.CopyTo(m.W1, 0);
        m.B1[0] = 0.5f;
        m.B1[1] = -0.5f;
        m.G1[0] = 2;
        m.G1[1] = 1;
        m.Be1[0] = 0.1f;
        m.Be1[1] = 0.2f;
        float[] w2 = [1, 0, 0.5f, -1];  // rows [1, 0] and [0.5, -1]
        w2.CopyTo(m.W2, 0);
        m.B2[0] = -1f;
        m.B2[1] = 0;
        m.G2[0] = 1;
        m.G2[1] = 1;
        m.Be2[0] = 0;
        m.Be2[1] = 0.5f;
        m.W3[0] = 1;
        m.W3[1] = -2;
        m.B3[0] = 0.25f;
        return m;
    }

    private string WriteTiny(string fileName, IReadOnlyDictionary<string, string>? metadata = null)
    {
        string path = Path.Combine(_directory, fileName);
        Safetensors.Write(path, Tiny().Tensors(), metadata);
        return path;
    }

    private string WriteTensors(string fileName, IEnumerable<(string Name, int[] Shape, float[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        string path = Path.Combine(_directory, fileName);
        Safetensors.Write(path, tensors, metadata);
        return path;
    }

    [Test]
    public void Score_TinyRouter_MatchesHandComputation()
    {
        // x = [1, 2, 3], LayerNorm ε = 1e-5 (PyTorch default).
        // Layer 1: W1·x + b1 = [1 + 0.5, 3 − 0.5] = [1.5, 2.5].
        // LN1: mean 2, deviations [−0.5, 0.5], biased variance 0.25;
        //      n = ±0.5 / √(0.25 + 1e-5) = ±0.99998000060;
        //      γ·n + β = [2·(−0.99998000060) + 0.1, 0.99998000060 + 0.2] = [−1.89996000120, 1.19998000060];
        //      ReLU → h1 = [0, 1.19998000060]   (without the ReLU, row 2 of W2 would see −1.9).
        // Layer 2: [1·0 + 0·1.19998 − 1, 0.5·0 − 1·1.19998000060 + 0] = [−1, −1.19998000060].
        // LN2: mean −1.09999000030, deviations ±0.09999000030, variance 0.00999800016;
        //      n = ±0.09999000030 / √(0.00999800016 + 1e-5) = ±0.09999000030 / 0.10003999280 = ±0.99950027483
        //      (ε matters here: with ε = 0 it would be ±1);
        //      γ·n + β = [0.99950027483, −0.99950027483 + 0.5] = [0.99950027483, −0.49950027483]; ReLU → [0.99950027483, 0].
        // Layer 3: 1·0.99950027483 − 2·0 + 0.25 = 1.24950027483.
        // sigmoid(1.24950027483) = 0.777213344368 (ε = 0 would give 0.777299861; no second ReLU, a logit of 2.249).
        MlpRouter router = MlpRouter.Load(WriteTiny("tiny.safetensors"));

        float score = router.Score([1f, 2f, 3f], 0f, 0f);

        Assert.That(score, Is.EqualTo(0.777213344368).Within(1e-6));
    }

    [Test]
    public void Score_LayerNormEpsMetadata_OverridesDefault()
    {
        // Same router and x, ε = 0.75 from metadata.
        // LN1: variance 0.25, so the denominator is √(0.25 + 0.75) = 1: n = [−0.5, 0.5]
        //      → [2·(−0.5) + 0.1, 0.5 + 0.2] = [−0.9, 0.7] → ReLU h1 = [0, 0.7].
        // Layer 2: [0 − 1, −0.7] = [−1, −0.7]; mean −0.85, deviations [−0.15, 0.15], variance 0.0225;
        // LN2: n = ±0.15 / √(0.0225 + 0.75) = ±0.15 / 0.87891979156 = [−0.17066403720, 0.17066403720]
        //      → [−0.17066403720, 0.17066403720 + 0.5] → ReLU [0, 0.67066403720].
        // Layer 3: 0 − 2·0.67066403720 + 0.25 = −1.09132807439; sigmoid(−1.09132807439) = 0.251368275830.
        MlpRouter router = MlpRouter.Load(WriteTiny("tiny-eps.safetensors", new Dictionary<string, string> { ["layer_norm_eps"] = "0.75" }));

        Assert.That(router.Score([1f, 2f, 3f], 0f, 0f), Is.EqualTo(0.251368275830).Within(1e-6));
    }

    [Test]
    public void Score_PaperSizedRouter_MatchesNaiveDoublePrecision()
    {
        Assert.That(_paperRouter.InputSize, Is.EqualTo(PaperInput));
        Assert.That(_paperRouter.FeatureSize, Is.EqualTo(PaperInput));
        Assert.That(_paperRouter.Name, Is.EqualTo("mlp"));
        var scores = new List<double>();
        for (int seed = 0; seed < 6; seed++)
        {
            float[] x = ReferenceRouterModel.RandomFeatures(PaperInput, seed, scale: 1 + seed);
            double expected = _paper.NaiveScore(x);
            float actual = _paperRouter.Score(x, 1f, -1f);
            Assert.That(actual, Is.EqualTo(expected).Within(1e-5), $"input seed {seed}");
            scores.Add(expected);
        }

        // The comparison is only meaningful if the random router is not saturated.
        Assert.That(scores.Max() - scores.Min(), Is.GreaterThan(0.05), "the random router's scores barely vary");
    }

    [Test]
    public void Score_HiddenLayersWiderThanStackBuffer_MatchesNaive()
    {
        // A + B = 1200 > 1024 floats, so the scratch buffer comes from the array pool.
        var model = ReferenceRouterModel.CreateRandom(16, 600, 600, seed: 7);
        string path = Path.Combine(_directory, "wide.safetensors");
        model.WriteF32(path);
        MlpRouter router = MlpRouter.Load(path);

        for (int seed = 0; seed < 3; seed++)
        {
            float[] x = ReferenceRouterModel.RandomFeatures(16, seed);
            Assert.That(router.Score(x, 0f, 0f), Is.EqualTo(model.NaiveScore(x)).Within(1e-5));
        }
    }

    [TestCase("F16")]
    [TestCase("BF16")]
    public void Load_HalfPrecisionFile_MatchesF32WithinRounding(string dtype)
    {
        string path = Path.Combine(_directory, $"paper-{dtype}.safetensors");
        ReferenceRouterModel.WriteHalfPrecision(path, _paper.Tensors(), dtype);
        Func<float, float> round = dtype == "F16" ? ReferenceRouterModel.RoundF16 : ReferenceRouterModel.RoundBf16;
        ReferenceRouterModel rounded = _paper.Map(round);

        MlpRouter router = MlpRouter.Load(path);

        for (int seed = 0; seed < 3; seed++)
        {
            float[] x = ReferenceRouterModel.RandomFeatures(PaperInput, seed);
            float score = router.Score(x, 0f, 0f);
            // Exactly the network with rounded weights ...
            Assert.That(score, Is.EqualTo(rounded.NaiveScore(x)).Within(1e-5), $"{dtype}, input seed {seed}, vs rounded weights");
            // ... and close to the fp32 router (bf16 keeps 8 significant bits, fp16 11).
            Assert.That(score, Is.EqualTo(_paperRouter.Score(x, 0f, 0f)).Within(dtype == "F16" ? 5e-3 : 3e-2), $"{dtype}, input seed {seed}, vs fp32");
        }
    }

    [Test]
    public void Load_Stream_MatchesFile()
    {
        using FileStream stream = File.OpenRead(_paperPath);
        MlpRouter router = MlpRouter.Load(stream, "paper-stream");
        float[] x = ReferenceRouterModel.RandomFeatures(PaperInput, 42);

        Assert.That(router.Score(x, 0f, 0f), Is.EqualTo(_paperRouter.Score(x, 0f, 0f)));
    }

    [Test]
    public void DefaultThreshold_MetadataPresent_IsCalibratedValue()
    {
        MlpRouter router = MlpRouter.Load(WriteTiny("tiny-threshold.safetensors", new Dictionary<string, string> { ["threshold"] = "0.8125" }));

        Assert.That(router.CalibratedThreshold, Is.EqualTo(0.8125f));
        Assert.That(router.DefaultThreshold, Is.EqualTo(0.8125f));
    }

    [Test]
    public void DefaultThreshold_MetadataAbsent_IsOneHalf()
    {
        MlpRouter router = MlpRouter.Load(WriteTiny("tiny-no-threshold.safetensors"));

        Assert.That(router.CalibratedThreshold, Is.Null);
        Assert.That(router.DefaultThreshold, Is.EqualTo(0.5f));
    }

    [Test]
    public void LengthReference_MetadataPresent_IsRead_AndSaveWithANewThresholdDropsIt()
    {
        MlpRouter router = MlpRouter.Load(WriteTiny("tiny-length.safetensors", new Dictionary<string, string> { ["threshold"] = "0.25", ["length_reference"] = "97.5", ["uniform_threshold"] = "0.625" }));
        Assert.That(router.LengthReference, Is.EqualTo(97.5f));
        Assert.That(router.UniformThreshold, Is.EqualTo(0.625f));

        string path = Path.Combine(_directory, "tiny-length-saved.safetensors");
        router.Save(path, 0.3f);
        MlpRouter reloaded = MlpRouter.Load(path);

        // The new ε was calibrated for the paper's rule (as saferoute calibrate does), so the length-aware pairing is gone.
        Assert.That(reloaded.LengthReference, Is.Null);
        Assert.That(reloaded.UniformThreshold, Is.Null);
        Assert.That(reloaded.CalibratedThreshold, Is.EqualTo(0.3f));
    }

    [Test]
    public void LengthReference_MetadataAbsent_IsNull_AndNotWritten()
    {
        MlpRouter router = MlpRouter.Load(WriteTiny("tiny-no-length.safetensors"));
        Assert.That(router.LengthReference, Is.Null);

        string path = Path.Combine(_directory, "tiny-no-length-saved.safetensors");
        router.Save(path, null);
        Assert.That(Safetensors.Read(path).Metadata.ContainsKey("length_reference"), Is.False);
    }

    [TestCase("uniform_threshold", "1.5")]
    [TestCase("uniform_threshold", "-0.1")]
    [TestCase("length_reference", "0")]
    [TestCase("length_reference", "-12")]
    [TestCase("length_reference", "NaN")]
    [TestCase("length_reference", "Infinity")]
    [TestCase("length_reference", "ninety")]
    [TestCase("threshold", "abc")]
    [TestCase("threshold", "1.5")]
    [TestCase("threshold", "NaN")]
    [TestCase("layer_norm_eps", "0")]
    [TestCase("layer_norm_eps", "-1e-5")]
    public void Load_InvalidMetadata_ThrowsNamingFileAndKey(string key, string value)
    {
        string path = WriteTiny($"tiny-bad-{key}-{value.GetHashCode():x}.safetensors", new Dictionary<string, string> { [key] = value });

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain(key));
    }

    [TestCase("cls.0.weight_mu")]
    [TestCase("cls.0.bias_mu")]
    [TestCase("cls.1.weight")]
    [TestCase("cls.3.weight_mu")]
    [TestCase("cls.4.bias")]
    [TestCase("cls.6.bias_mu")]
    public void Load_MissingTensor_ThrowsNamingFileAndTensor(string missing)
    {
        string path = WriteTensors($"missing-{missing}.safetensors", Tiny().Tensors().Where(t => t.Name != missing));

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain($"'{missing}'").And.Contain("missing"));
    }

    [Test]
    public void Load_WithoutLogSigmaTensors_Loads()
    {
        string path = WriteTensors("no-log-sigma.safetensors", Tiny().Tensors(includeLogSigma: false));

        Assert.That(MlpRouter.Load(path).Score([1f, 2f, 3f], 0f, 0f), Is.EqualTo(0.777213344368).Within(1e-6));
    }

    [Test]
    public void Load_SecondLayerInputMismatch_ThrowsNamingBothTensors()
    {
        // cls.3 takes 3 inputs, but cls.0 gives 2 outputs.
        var tensors = Tiny().Tensors().Select(t => t.Name == "cls.3.weight_mu" ? (t.Name, new[] { 2, 3 }, new float[6]) : t);
        string path = WriteTensors("mismatch-cls3.safetensors", tensors);

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("'cls.3.weight_mu'").And.Contain("'cls.0.weight_mu'").And.Contain("[2, 3]"));
    }

    [TestCase("cls.1.weight", 3)]
    [TestCase("cls.4.bias", 1)]
    [TestCase("cls.0.bias_mu", 3)]
    public void Load_VectorSizeMismatch_ThrowsNamingTensor(string name, int size)
    {
        var tensors = Tiny().Tensors().Select(t => t.Name == name ? (t.Name, new[] { size }, new float[size]) : t);
        string path = WriteTensors($"mismatch-{name}.safetensors", tensors);

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain($"'{name}'").And.Contain($"[{size}]"));
    }

    [Test]
    public void Load_LastLayerWithTwoOutputs_Throws()
    {
        var tensors = Tiny().Tensors().Select(t => t.Name switch
        {
            "cls.6.weight_mu" => (t.Name, new[] { 2, 2 }, new float[4]),
            "cls.6.bias_mu" => (t.Name, new[] { 2 }, new float[2]),
            _ => t,
        });
        string path = WriteTensors("two-outputs.safetensors", tensors);

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("'cls.6.weight_mu'").And.Contain("1 output"));
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    public void Load_NonFiniteWeight_ThrowsNamingTensor(float bad)
    {
        ReferenceRouterModel model = Tiny();
        model.W2[3] = bad;
        string path = WriteTensors($"nonfinite-{bad}.safetensors", model.Tensors());

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("'cls.3.weight_mu'").And.Contain("non-finite"));
    }

    [Test]
    public void Load_TruncatedFile_ThrowsCorrupt()
    {
        string path = WriteTiny("truncated.safetensors");
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("corrupt"));
    }

    [Test]
    public void Load_HeaderLengthBeyondFile_ThrowsCorrupt()
    {
        string path = WriteTiny("bad-header-length.safetensors");
        byte[] bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("header length"));
    }

    [Test]
    public void Load_HeaderNotJson_ThrowsCorrupt()
    {
        string path = WriteTiny("bad-header-json.safetensors");
        byte[] bytes = File.ReadAllBytes(path);
        bytes[8] = (byte)'x';
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("corrupt"));
    }

    [Test]
    public void Load_MissingFile_ThrowsNamingFile()
    {
        string path = Path.Combine(_directory, "does-not-exist.safetensors");

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.Load(path));

        Assert.That(ex!.Message, Does.Contain(path));
    }

    [Test]
    public void Load_ArgValidation()
    {
        Assert.Throws<ArgumentNullException>(() => MlpRouter.Load((string)null!));
        Assert.Throws<ArgumentException>(() => MlpRouter.Load(""));
        Assert.Throws<ArgumentNullException>(() => MlpRouter.Load((Stream)null!));
    }

    [TestCase(2)]
    [TestCase(4)]
    [TestCase(0)]
    public void Score_WrongFeatureLength_ThrowsNamingBothSizes(int length)
    {
        MlpRouter router = MlpRouter.Load(WriteTiny($"tiny-length-{length}.safetensors"));

        var ex = Assert.Throws<ArgumentException>(() => router.Score(new float[length], 0f, 0f));

        Assert.That(ex!.ParamName, Is.EqualTo("features"));
        Assert.That(ex.Message, Does.Contain("3").And.Contain($"received {length}"));
    }

    [Test]
    public void Score_NonFiniteFeature_ReturnsNaN()
    {
        // Documented: NaN is the caller's cue to escalate; the router does not silently return a low score.
        MlpRouter router = MlpRouter.Load(WriteTiny("tiny-nan.safetensors"));

        Assert.That(router.Score([1f, float.NaN, 3f], 0f, 0f), Is.NaN);
    }

    [Test]
    public void Save_ThenLoad_ScoresIdentically()
    {
        var model = ReferenceRouterModel.CreateRandom(64, 48, 40, seed: 3);
        var weights = new MlpRouterWeights(64, 48, 40);
        model.W1.CopyTo(weights.Layer1.WeightMu, 0);
        model.B1.CopyTo(weights.Layer1.BiasMu, 0);
        model.G1.CopyTo(weights.Norm1.Weight, 0);
        model.Be1.CopyTo(weights.Norm1.Bias, 0);
        model.W2.CopyTo(weights.Layer2.WeightMu, 0);
        model.B2.CopyTo(weights.Layer2.BiasMu, 0);
        model.G2.CopyTo(weights.Norm2.Weight, 0);
        model.Be2.CopyTo(weights.Norm2.Bias, 0);
        model.W3.CopyTo(weights.Layer3.WeightMu, 0);
        model.B3.CopyTo(weights.Layer3.BiasMu, 0);
        MlpRouter original = MlpRouter.FromWeights(weights);
        weights.Layer1.WeightMu[0] += 100;  // FromWeights copied; later edits by the trainer must not leak in.
        string path = Path.Combine(_directory, "saved.safetensors");

        original.Save(path, 0.375f);
        MlpRouter reloaded = MlpRouter.Load(path);

        Assert.That(reloaded.CalibratedThreshold, Is.EqualTo(0.375f));
        Assert.That(reloaded.InputSize, Is.EqualTo(64));
        for (int seed = 0; seed < 4; seed++)
        {
            float[] x = ReferenceRouterModel.RandomFeatures(64, seed);
            Assert.That(reloaded.Score(x, 0f, 0f), Is.EqualTo(original.Score(x, 0f, 0f)), $"input seed {seed}");
            Assert.That(original.Score(x, 0f, 0f), Is.EqualTo(model.NaiveScore(x)).Within(1e-5), $"input seed {seed}");
        }

        // The file uses the reference names, with log σ = log 0.1 where none was known.
        (Dictionary<string, SafetensorsTensor> tensors, _) = Safetensors.Read(path);
        Assert.That(tensors.Keys, Is.EquivalentTo(model.Tensors().Select(t => t.Name)));
        Assert.That(tensors["cls.3.weight_log_sigma"].Shape, Is.EqualTo(new[] { 40, 48 }));
        Assert.That(tensors["cls.3.weight_log_sigma"].Data, Has.All.EqualTo(MathF.Log(0.1f)));
    }

    [Test]
    public void Save_KnownLogSigmaAndNoThreshold_RoundTrips()
    {
        var weights = new MlpRouterWeights(3, 2, 2);
        weights.Layer1.WeightLogSigma = [-1, -2, -3, -4, -5, -6];
        weights.Layer3.WeightMu[0] = 1;
        MlpRouter router = MlpRouter.FromWeights(weights);
        string path = Path.Combine(_directory, "saved-log-sigma.safetensors");

        router.Save(path, null);
        MlpRouter reloaded = MlpRouter.Load(path);

        (Dictionary<string, SafetensorsTensor> tensors, Dictionary<string, string> metadata) = Safetensors.Read(path);
        Assert.That(tensors["cls.0.weight_log_sigma"].Data, Is.EqualTo(new float[] { -1, -2, -3, -4, -5, -6 }));
        Assert.That(metadata.ContainsKey("threshold"), Is.False);
        Assert.That(reloaded.CalibratedThreshold, Is.Null);
        Assert.That(reloaded.Score([0.1f, 0.2f, 0.3f], 0f, 0f), Is.EqualTo(router.Score([0.1f, 0.2f, 0.3f], 0f, 0f)));
    }

    [Test]
    public void FromWeights_NonFiniteWeight_Throws()
    {
        var weights = new MlpRouterWeights(3, 2, 2);
        weights.Norm2.Bias[1] = float.NaN;

        var ex = Assert.Throws<SafeRouteException>(() => MlpRouter.FromWeights(weights));

        Assert.That(ex!.Message, Does.Contain("'cls.4.bias'"));
    }

    [Test]
    public void Score_32ParallelCalls_EqualSequentialResults()
    {
        float[][] inputs = [.. Enumerable.Range(0, 32).Select(i => ReferenceRouterModel.RandomFeatures(PaperInput, 1000 + i))];
        float[] sequential = [.. inputs.Select(x => _paperRouter.Score(x, 0f, 0f))];
        float[] parallel = new float[inputs.Length];

        Parallel.For(0, inputs.Length, new ParallelOptions { MaxDegreeOfParallelism = 32 }, i => parallel[i] = _paperRouter.Score(inputs[i], 0f, 0f));

        Assert.That(parallel, Is.EqualTo(sequential));
        Assert.That(sequential.Distinct().Count(), Is.GreaterThan(16), "inputs should give different scores");
    }

    [Test]
    public void Score_SteadyState_AllocatesNothing()
    {
        var wide = ReferenceRouterModel.CreateRandom(8, 700, 700, seed: 11);
        string widePath = Path.Combine(_directory, "wide-alloc.safetensors");
        wide.WriteF32(widePath);
        MlpRouter wideRouter = MlpRouter.Load(widePath);
        float[] paperInput = ReferenceRouterModel.RandomFeatures(PaperInput, 5);
        float[] wideInput = ReferenceRouterModel.RandomFeatures(8, 5);
        _paperRouter.Score(paperInput, 0f, 0f);
        wideRouter.Score(wideInput, 0f, 0f);

        // The minimum over three passes: a one-off runtime allocation on this thread (tiered JIT, pool bookkeeping on a
        // busy machine) can land inside one pass, but a per-call allocation shows up in every pass.
        long least = long.MaxValue;
        for (int pass = 0; pass < 3; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++)
            {
                _paperRouter.Score(paperInput, 0f, 0f);
                wideRouter.Score(wideInput, 0f, 0f);
            }

            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.That(least, Is.Zero);
    }
}
