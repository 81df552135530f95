using System.Text.Json;
using System.Text.Json.Nodes;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;
using SafeRoute.Tests.Text;

namespace SafeRoute.Tests.Guards;

/// <summary>
/// A Qwen3Guard-style guard end to end: real Qwen3 tokenizer (tokenizer.json read by tokenizer.kind "bpe"), the
/// built-in qwen3guard-gen template with its "Safety:" prefill, three-way verdict tokens with several ids per label, and
/// a tiny random-weight Qwen3-architecture graph (q/k RMSNorm, grouped KV heads, RoPE) exported like Optimum's
/// feature-extraction export. p(unsafe) (strict and loose) and the router features must equal the float64 PyTorch
/// reference of tools/vectors/qwen3/tiny_qwen3_guard.py to 1e-5, on the golden ids of the independent tokenizer.
/// </summary>
[TestFixture]
public sealed class Qwen3GuardTests
{
    private const double Tolerance = 1e-5;

    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    private static readonly Lazy<Reference> Expected = new(() => JsonSerializer.Deserialize<Reference>(
        File.ReadAllText(Path.Combine(ModelSource, "reference.json")), CaseInsensitive)!);

    private TempDirectory _temp = null!;

    private static string ModelSource => Path.Combine(TestContext.CurrentContext.TestDirectory, "Guards", "Qwen3Tiny");

    [SetUp]
    public void SetUp() => _temp = new TempDirectory("saferoute-qwen3");

    [TearDown]
    public void TearDown() => _temp.Dispose();

    /// <summary>Writes a model folder: the committed graph and rows, and a manifest (edited by <paramref name="edit"/>).</summary>
    internal static string WriteFolder(string directory, Action<JsonObject>? edit = null, string? tokenizerJson = null)
    {
        tokenizerJson ??= Qwen3Files.RequireTokenizerJson();
        Directory.CreateDirectory(directory);
        File.Copy(Path.Combine(ModelSource, "model.onnx"), Path.Combine(directory, "model.onnx"));
        File.Copy(Path.Combine(ModelSource, "lm_head_rows.safetensors"), Path.Combine(directory, "lm_head_rows.safetensors"));
        File.Copy(Path.Combine(ModelSource, "category_rows.safetensors"), Path.Combine(directory, "category_rows.safetensors"));
        var manifest = new JsonObject
        {
            ["name"] = "tiny-qwen3guard",
            ["tokenizer"] = new JsonObject { ["kind"] = "bpe", ["path"] = tokenizerJson, ["preset"] = "qwen3" },
            ["template"] = new JsonObject { ["kind"] = "qwen3guard-gen" },
            ["verdict"] = new JsonObject
            {
                ["lmHeadRows"] = "lm_head_rows.safetensors",
                ["labels"] = new JsonObject
                {
                    ["safe"] = new JsonArray(" Safe", " safe"),
                    ["unsafe"] = new JsonArray(" Unsafe", " unsafe"),
                    ["controversial"] = new JsonArray(" Cont"),
                },
            },
            ["maxSequenceLength"] = 1024,
            ["padTokenId"] = 151643,
        };
        edit?.Invoke(manifest);
        File.WriteAllText(Path.Combine(directory, "saferoute.json"), manifest.ToJsonString());
        return directory;
    }

    private static SafetyRequest Request(Qwen3Case c) => new(c.Prompt, c.Response);

    [Test]
    public async Task ScoreBatchAsync_SingleRows_EqualPyTorchStrict()
    {
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m")));
        Assert.That(guard.FeatureSize, Is.EqualTo(Expected.Value.HiddenSize));
        var cases = Qwen3Files.Vectors.Cases;
        for (int i = 0; i < cases.Count; i++)
        {
            GuardScore score = (await guard.ScoreBatchAsync([Request(cases[i])], includeFeatures: true))[0];
            ReferenceCase expected = Expected.Value.Cases[i];
            Assert.That(score.UnsafeProbability, Is.EqualTo(expected.Strict).Within(Tolerance), $"case {i}");
            Assert.That(score.Features.ToArray(), Is.EqualTo(expected.Features).Within(Tolerance), $"case {i}");
        }
    }

    [Test]
    public async Task ScoreBatchAsync_PaddedBatch_EqualsPyTorchStrictAndLoose()
    {
        var requests = Qwen3Files.Vectors.Cases.Select(Request).ToList();
        using (var strict = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("strict"))))
        {
            int[] runs = [0];
            strict.RunObserver = size => runs[0] = Math.Max(runs[0], size);
            IReadOnlyList<GuardScore> scores = await strict.ScoreBatchAsync(requests, includeFeatures: true);
            Assert.That(runs[0], Is.GreaterThan(1), "the rows must run as a padded batch");
            for (int i = 0; i < scores.Count; i++)
            {
                Assert.That(scores[i].UnsafeProbability, Is.EqualTo(Expected.Value.Cases[i].Strict).Within(Tolerance), $"case {i}");
                Assert.That(scores[i].Features.ToArray(), Is.EqualTo(Expected.Value.Cases[i].Features).Within(Tolerance), $"case {i}");
            }
        }

        using var loose = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("loose")), new GuardModelOptions { ControversialAsUnsafe = false });
        IReadOnlyList<SafetyVerdict> verdicts = await loose.EvaluateBatchAsync(requests);
        for (int i = 0; i < verdicts.Count; i++)
        {
            Assert.That(verdicts[i].UnsafeProbability, Is.EqualTo(Expected.Value.Cases[i].Loose).Within(Tolerance), $"case {i}");
            Assert.That(verdicts[i].IsUnsafe, Is.EqualTo(Expected.Value.Cases[i].Loose > 0.5), $"case {i}");
        }

        Assert.That(Expected.Value.Cases.Count(c => c.Strict > 0.5 != c.Loose > 0.5), Is.GreaterThan(0), "strict and loose must give different verdicts on some case for this test to tell them apart");
    }

    [Test]
    public async Task EvaluateAsync_ManifestLoose_EqualsPyTorchLoose_AndOptionOverridesIt()
    {
        string folder = WriteFolder(_temp.Sub("m"), m => m["verdict"]!["controversialAs"] = "safe");
        using var loose = OnnxSafetyGuard.Create(folder);
        using var strict = OnnxSafetyGuard.Create(folder, new GuardModelOptions { ControversialAsUnsafe = true });
        for (int i = 0; i < Qwen3Files.Vectors.Cases.Count; i++)
        {
            Qwen3Case c = Qwen3Files.Vectors.Cases[i];
            Assert.That((await loose.EvaluateAsync(Request(c))).UnsafeProbability, Is.EqualTo(Expected.Value.Cases[i].Loose).Within(Tolerance), $"case {i}");
            Assert.That((await strict.EvaluateAsync(Request(c))).UnsafeProbability, Is.EqualTo(Expected.Value.Cases[i].Strict).Within(Tolerance), $"case {i}");
        }
    }

    [Test]
    public async Task Create_FamilyDescribedOnlyInJson_EqualsThePresetAndPyTorch()
    {
        // No built-in template: the texts, prefill, strip setting and verdict tokens all come from saferoute.json.
        string folder = WriteFolder(_temp.Sub("m"), m => m["template"] = new JsonObject
        {
            ["kind"] = "custom",
            ["promptOnly"] = SafeRoute.Text.Qwen3GuardGenTemplate.PromptOnly,
            ["promptAndResponse"] = SafeRoute.Text.Qwen3GuardGenTemplate.PromptAndResponse,
            ["prefill"] = "Safety:",
            ["stripUserText"] = false,
        });
        using var guard = OnnxSafetyGuard.Create(folder);
        var cases = Qwen3Files.Vectors.Cases;
        IReadOnlyList<GuardScore> scores = await guard.ScoreBatchAsync([.. cases.Select(Request)], includeFeatures: false);
        for (int i = 0; i < cases.Count; i++)
        {
            Assert.That(guard.Encoder.Encode(Request(cases[i])).TokenIds, Is.EqualTo(cases[i].Ids), $"case {i}");
            Assert.That(scores[i].UnsafeProbability, Is.EqualTo(Expected.Value.Cases[i].Strict).Within(Tolerance), $"case {i}");
        }
    }

    [Test]
    public async Task Categories_DescribedAsText_EqualPyTorch_OnUnsafeVerdictsOnly()
    {
        string folder = WriteFolder(_temp.Sub("m"), m => m["categories"] = new JsonObject
        {
            ["names"] = new JsonArray([.. SafeRoute.Text.Qwen3GuardGenTemplate.Categories.Select(n => (JsonNode)n)]),
            ["prefix"] = SafeRoute.Text.Qwen3GuardGenTemplate.CategoryPrefix,
            ["tokens"] = new JsonArray([.. SafeRoute.Text.Qwen3GuardGenTemplate.CategoryTokens.Select(n => (JsonNode)n)]),
            ["rows"] = "category_rows.safetensors",
        });
        using var strict = OnnxSafetyGuard.Create(folder);
        using var loose = OnnxSafetyGuard.Create(folder, new GuardModelOptions { ControversialAsUnsafe = false });
        var requests = Qwen3Files.Vectors.Cases.Select(Request).ToList();
        IReadOnlyList<SafetyVerdict> strictVerdicts = await strict.EvaluateBatchAsync(requests);
        IReadOnlyList<SafetyVerdict> looseVerdicts = await loose.EvaluateBatchAsync(requests);
        for (int i = 0; i < requests.Count; i++)
        {
            ReferenceCase expected = Expected.Value.Cases[i];
            Assert.That(strictVerdicts[i].IsUnsafe, Is.True, $"case {i}");
            Assert.That(strictVerdicts[i].Categories!.Select(c => c.Name), Is.EqualTo(SafeRoute.Text.Qwen3GuardGenTemplate.Categories));
            Assert.That(strictVerdicts[i].Categories!.Select(c => (double)c.Probability), Is.EqualTo(expected.Categories).Within(Tolerance), $"case {i}");
            Assert.That(looseVerdicts[i].Categories is null, Is.EqualTo(expected.Loose <= 0.5), $"case {i}: categories only on unsafe verdicts");
        }
    }

    [Test]
    public async Task Create_PresetLabels_ReadOneTokenPerLabel()
    {
        // No verdict labels in the manifest: the preset's " Safe" / " Unsafe" / " Cont" (rows: the graph file's rows 0, 2, 4).
        float[] all = SafeRoute.Routing.Safetensors.Read(Path.Combine(ModelSource, "lm_head_rows.safetensors")).Tensors["lm_head_rows"].Data;
        int h = Expected.Value.HiddenSize;
        float[] picked = [.. all.AsSpan(0, h), .. all.AsSpan(2 * h, h), .. all.AsSpan(4 * h, h)];
        string folder = WriteFolder(_temp.Sub("m"), m => ((JsonObject)m["verdict"]!).Remove("labels"));
        SafeRoute.Routing.Safetensors.Write(Path.Combine(folder, "lm_head_rows.safetensors"), [("lm_head_rows", [3, h], picked)]);
        using var guard = OnnxSafetyGuard.Create(folder);
        for (int i = 0; i < 3; i++)
        {
            ReferenceCase expected = Expected.Value.Cases[i];
            GuardScore score = (await guard.ScoreBatchAsync([Request(Qwen3Files.Vectors.Cases[i])], includeFeatures: false))[0];
            double[] z = [Dot(expected.Features, picked, 0, h), Dot(expected.Features, picked, 1, h), Dot(expected.Features, picked, 2, h)];
            double max = z.Max();
            double[] e = [.. z.Select(v => Math.Exp(v - max))];
            Assert.That(score.UnsafeProbability, Is.EqualTo((e[1] + e[2]) / e.Sum()).Within(Tolerance), $"case {i}");
        }
    }

    [Test]
    public async Task RoutedGuard_Qwen3GuardSmall_LlamaGuardStyleLarge_RoutesByUncertainty()
    {
        // Cross-family: the three-way Qwen3Guard-style guard is the small tier, a Llama-Guard-style tiny guard the large.
        using var small = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("small")));
        TestGuard largeModel = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
        using var large = OnnxSafetyGuard.Create(largeModel.Directory, tier: GuardTier.Large);
        var routed = new RoutedSafetyGuard(small, large, new EntropyRouter());
        int routedCount = 0;
        for (int i = 0; i < Qwen3Files.Vectors.Cases.Count; i++)
        {
            SafetyRequest request = Request(Qwen3Files.Vectors.Cases[i]);
            double p = Expected.Value.Cases[i].Strict;
            double entropy = -(p * Math.Log2(p)) - ((1 - p) * Math.Log2(1 - p));
            SafetyVerdict verdict = await routed.EvaluateAsync(request);
            if (entropy > 0.5)
            {
                routedCount++;
                SafetyVerdict expected = await large.EvaluateAsync(request);
                Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Large), $"case {i} (entropy {entropy:F3})");
                Assert.That(verdict.UnsafeProbability, Is.EqualTo(expected.UnsafeProbability), $"case {i}");
            }
            else
            {
                Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Small), $"case {i} (entropy {entropy:F3})");
                Assert.That(verdict.UnsafeProbability, Is.EqualTo(p).Within(Tolerance), $"case {i}");
            }
        }

        Assert.That(routedCount, Is.InRange(1, Qwen3Files.Vectors.Cases.Count - 1), "both tiers must decide some case");
    }

    [Test]
    public async Task RoutedGuard_FeatureRouter_ReadsTheQwen3HiddenState()
    {
        // The Bayesian MLP router reads the small guard's last hidden state (after the prefill): its decisions on the
        // library's features equal its decisions on PyTorch's reference features.
        using var small = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("small")));
        TestGuard largeModel = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
        using var large = OnnxSafetyGuard.Create(largeModel.Directory, tier: GuardTier.Large);
        MlpRouter router = MlpRouter.Load(RouterFiles.Write(Path.Combine(_temp.Path, "router.safetensors"), Expected.Value.HiddenSize, hidden: 16, seed: 17));
        float[] scores = [.. Expected.Value.Cases.Select(c => router.Score([.. c.Features.Select(v => (float)v)], 0f, 0f))];
        float threshold = scores.Order().ElementAt(scores.Length / 2);
        var routed = new RoutedSafetyGuard(small, large, router, new RoutedSafetyGuardOptions { Threshold = threshold });
        int checkedCases = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (Math.Abs(scores[i] - threshold) < 1e-4f)
            {
                continue; // float32 features may land on either side of a score this close to the threshold
            }

            SafetyVerdict verdict = await routed.EvaluateAsync(Request(Qwen3Files.Vectors.Cases[i]));
            Assert.That(verdict.DecidedBy, Is.EqualTo(scores[i] > threshold ? GuardTier.Large : GuardTier.Small), $"case {i} (score {scores[i]}, threshold {threshold})");
            checkedCases++;
        }

        Assert.That(checkedCases, Is.GreaterThanOrEqualTo(scores.Length - 2));
    }

    [TestCase("controversial", " Controversial", "3 tokens")]
    [TestCase("safe", "", "empty token string")]
    [TestCase("unsafe", " Safe", "more than once")]
    public void Create_BadVerdictTokenString_FailsWithClearError(string label, string token, string expected)
    {
        string folder = WriteFolder(_temp.Sub("m"), m => m["verdict"]!["labels"]![label] = new JsonArray(token));
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(folder));
        Assert.That(ex!.Message, Does.Contain(expected).And.Contain("saferoute.json"));
    }

    [Test]
    public void Create_InvalidVerdictSections_FailWithClearErrors()
    {
        (Action<JsonObject> Edit, string Expected)[] cases =
        [
            (m => m["verdict"]!["labels"]!["safe"] = new JsonArray(), "'verdict.labels.safe' is empty"),
            (m => ((JsonObject)m["verdict"]!["labels"]!).Remove("unsafe"), "'verdict.labels.unsafe' is missing"),
            (m => m["verdict"]!["labels"]!["controversial"] = new JsonArray(), "'verdict.labels.controversial' is empty"),
            (m => m["verdict"]!["safeTokenId"] = 1, "are exclusive"),
            (m => m["verdict"]!["controversialAs"] = "maybe", "'verdict.controversialAs' is 'maybe'"),
            (m => m["verdict"]!["labels"]!["unsafe"] = new JsonArray(" Unsafe", " Unsafe"), "more than once"),
            (m => m["template"]!["prefill"] = "", "'template.prefill' is empty"),
            (m => m["tokenizer"]!["normalization"] = "nfkc", "'tokenizer.normalization' is 'nfkc'"),
            (m => m["template"]!["kind"] = "qwen4guard", "'qwen3guard-gen', 'wildguard'"),
            (m => m["verdict"]!["labels"]!["controversial"] = new JsonArray(" Cont", " maybe"), "expected [6, H]"),
        ];
        for (int i = 0; i < cases.Length; i++)
        {
            string folder = WriteFolder(_temp.Sub($"m{i}"), cases[i].Edit);
            var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(folder), cases[i].Expected);
            Assert.That(ex!.Message, Does.Contain(cases[i].Expected));
        }
    }

    [Test]
    public void Create_StrictLooseOptionWithoutControversialTokens_Throws()
    {
        string folder = WriteFolder(_temp.Sub("m"), m => ((JsonObject)m["verdict"]!["labels"]!).Remove("controversial"));
        var ex = Assert.Throws<ArgumentException>(() => OnnxSafetyGuard.Create(folder, new GuardModelOptions { ControversialAsUnsafe = false }));
        Assert.That(ex!.Message, Does.Contain("ControversialAsUnsafe"));
    }

    [Test]
    public void Create_TokenizerJsonMergesOutOfRankOrder_Fails()
    {
        // A byte-level tokenizer.json whose merges a rank table cannot reproduce is refused, not approximated.
        string tokenizer = Qwen3Files.RequireTokenizerJson();
        JsonObject json = JsonNode.Parse(File.ReadAllText(tokenizer))!.AsObject();
        JsonArray merges = json["model"]!["merges"]!.AsArray();
        JsonNode first = merges[0]!.DeepClone();
        merges[0] = merges[1]!.DeepClone();
        merges[1] = first;
        string broken = Path.Combine(_temp.Path, "tokenizer.json");
        File.WriteAllText(broken, json.ToJsonString());
        string folder = WriteFolder(_temp.Sub("m"), tokenizerJson: broken);
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(folder));
        Assert.That(ex!.Message, Does.Contain("not in rank order"));
    }

    private static double Dot(double[] h, float[] rows, int row, int size)
    {
        double sum = 0;
        for (int k = 0; k < size; k++)
        {
            sum += h[k] * rows[(row * size) + k];
        }

        return sum;
    }

    private sealed class Reference
    {
        public int HiddenSize { get; set; }

        public List<ReferenceCase> Cases { get; set; } = [];
    }

    private sealed class ReferenceCase
    {
        public double Strict { get; set; }

        public double Loose { get; set; }

        public double[] Features { get; set; } = [];

        public double[] Categories { get; set; } = [];
    }
}
