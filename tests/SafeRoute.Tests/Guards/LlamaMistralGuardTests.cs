using System.Text.Json;
using System.Text.Json.Nodes;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;
using SafeRoute.Tests.Text;

namespace SafeRoute.Tests.Guards;

/// <summary>
/// A NemoGuard-style guard on a tiny Llama graph and a WildGuard-style guard on a tiny Mistral graph, end to end: the
/// real Llama 3 tokenizer (the shared rank file; for WildGuard a stand-in for Mistral's SentencePiece tokenizer, which is
/// not obtainable here, with "&lt;s&gt;" declared at 128000), the built-in nemoguard-content-safety and wildguard
/// presets with their teacher-forced prefills, and random-weight graphs exported like Optimum's feature-extraction
/// export (tools/vectors/llama3/tiny_llama_mistral_guards.py: Llama 3.1 rotary scaling, grouped KV heads, SwiGLU,
/// RMSNorm; Mistral v0.3's rotary base). p(unsafe) and the router features must equal the float64 PyTorch reference to
/// 1e-5, on the golden ids of the independent tokenizer, single rows and a padded batch; and a routed guard with the
/// WildGuard-style guard small and the NemoGuard-style guard large runs end to end.
/// </summary>
[TestFixture]
public sealed class LlamaMistralGuardTests
{
    private const double Tolerance = 1e-5;

    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    private static readonly Lazy<Reference> Llama = new(() => Load("LlamaTiny"));

    private static readonly Lazy<Reference> Mistral = new(() => Load("MistralTiny"));

    private TempDirectory _temp = null!;

    [SetUp]
    public void SetUp() => _temp = new TempDirectory("saferoute-llama-mistral");

    [TearDown]
    public void TearDown() => _temp.Dispose();

    private static string Source(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "Guards", name);

    private static Reference Load(string name) =>
        JsonSerializer.Deserialize<Reference>(File.ReadAllText(Path.Combine(Source(name), "reference.json")), CaseInsensitive)!;

    /// <summary>The NemoGuard-style folder: tiny Llama graph, preset template and verdict strings ("safe" | "unsafe").</summary>
    internal static string WriteNemoGuardFolder(string directory, Action<JsonObject>? edit = null) =>
        WriteFolder(directory, "LlamaTiny", new JsonObject
        {
            ["name"] = "tiny-llama-nemoguard",
            ["tokenizer"] = new JsonObject { ["kind"] = "tiktoken", ["path"] = SharedFiles.RequireLlama3Tokenizer(), ["preset"] = "llama3" },
            ["template"] = new JsonObject { ["kind"] = "nemoguard-content-safety" },
            ["verdict"] = new JsonObject { ["lmHeadRows"] = "lm_head_rows.safetensors" },
            ["maxSequenceLength"] = 1024,
            ["padTokenId"] = 128004,
        }, edit);

    /// <summary>The WildGuard-style folder: tiny Mistral graph, preset template and prefill, two verdict strings per label.</summary>
    internal static string WriteWildGuardFolder(string directory, Action<JsonObject>? edit = null) =>
        WriteFolder(directory, "MistralTiny", new JsonObject
        {
            ["name"] = "tiny-mistral-wildguard",
            ["tokenizer"] = new JsonObject
            {
                ["kind"] = "tiktoken",
                ["path"] = SharedFiles.RequireLlama3Tokenizer(),
                ["preset"] = "llama3",
                ["specialTokens"] = new JsonObject { ["<s>"] = 128000 },
            },
            ["template"] = new JsonObject { ["kind"] = "wildguard" },
            ["verdict"] = new JsonObject
            {
                ["lmHeadRows"] = "lm_head_rows.safetensors",
                ["labels"] = new JsonObject { ["safe"] = new JsonArray(" no", " No"), ["unsafe"] = new JsonArray(" yes", " Yes") },
            },
            ["maxSequenceLength"] = 1024,
            ["padTokenId"] = 128004,
        }, edit);

    private static string WriteFolder(string directory, string source, JsonObject manifest, Action<JsonObject>? edit)
    {
        Directory.CreateDirectory(directory);
        File.Copy(Path.Combine(Source(source), "model.onnx"), Path.Combine(directory, "model.onnx"));
        File.Copy(Path.Combine(Source(source), "lm_head_rows.safetensors"), Path.Combine(directory, "lm_head_rows.safetensors"));
        edit?.Invoke(manifest);
        File.WriteAllText(Path.Combine(directory, "saferoute.json"), manifest.ToJsonString());
        return directory;
    }

    private static SafetyRequest Request(Qwen3Case c) => new(c.Prompt, c.Response);

    [Test]
    public void References_AreForTheGoldenCases()
    {
        Assert.That(Llama.Value.Results, Has.Count.EqualTo(NemoGuardFiles.Vectors.NemoGuard.Count));
        Assert.That(Mistral.Value.Results, Has.Count.EqualTo(NemoGuardFiles.Vectors.WildGuardStandIn.Count));
        Assert.That(Llama.Value.Labels["safe"], Is.EqualTo(NemoGuardFiles.Vectors.Ids("safe")));
        Assert.That(Llama.Value.Labels["unsafe"], Is.EqualTo(NemoGuardFiles.Vectors.Ids("unsafe")));
        Assert.That(Mistral.Value.Labels["safe"], Is.EqualTo(NemoGuardFiles.Vectors.Ids(" no").Concat(NemoGuardFiles.Vectors.Ids(" No"))));
        Assert.That(Mistral.Value.Labels["unsafe"], Is.EqualTo(NemoGuardFiles.Vectors.Ids(" yes").Concat(NemoGuardFiles.Vectors.Ids(" Yes"))));
    }

    [Test]
    public async Task NemoGuardLlama_SingleRows_EqualPyTorch()
    {
        using var guard = OnnxSafetyGuard.Create(WriteNemoGuardFolder(_temp.Sub("m")));
        Assert.That(guard.FeatureSize, Is.EqualTo(Llama.Value.HiddenSize));
        var cases = NemoGuardFiles.Vectors.NemoGuard;
        for (int i = 0; i < cases.Count; i++)
        {
            Assert.That(guard.Encoder.Encode(Request(cases[i])).TokenIds, Is.EqualTo(cases[i].Ids), $"case {i}");
            GuardScore score = (await guard.ScoreBatchAsync([Request(cases[i])], includeFeatures: true))[0];
            Assert.That(score.UnsafeProbability, Is.EqualTo(Llama.Value.Results[i].P).Within(Tolerance), $"case {i}");
            Assert.That(score.Features.ToArray(), Is.EqualTo(Llama.Value.Results[i].Features).Within(Tolerance), $"case {i}");
        }
    }

    [Test]
    public async Task NemoGuardLlama_PaddedBatch_PromptAndResponseRows_EqualPyTorch()
    {
        using var guard = OnnxSafetyGuard.Create(WriteNemoGuardFolder(_temp.Sub("m")));
        int[] runs = [0];
        guard.RunObserver = size => runs[0] = Math.Max(runs[0], size);
        var cases = NemoGuardFiles.Vectors.NemoGuard;
        IReadOnlyList<GuardScore> scores = await guard.ScoreBatchAsync([.. cases.Select(Request)], includeFeatures: true);
        Assert.That(runs[0], Is.GreaterThan(1), "the rows must run as a padded batch");
        Assert.That(cases.Select(c => c.Ids.Length).Distinct().Count(), Is.GreaterThan(1), "rows of different lengths are padded");
        for (int i = 0; i < scores.Count; i++)
        {
            Assert.That(scores[i].UnsafeProbability, Is.EqualTo(Llama.Value.Results[i].P).Within(Tolerance), $"case {i}");
            Assert.That(scores[i].Features.ToArray(), Is.EqualTo(Llama.Value.Results[i].Features).Within(Tolerance), $"case {i}");
        }
    }

    [Test]
    public async Task NemoGuardLlama_FamilyDescribedOnlyInJson_EqualsThePresetAndPyTorch()
    {
        // No built-in template: the two texts (each ending with its teacher-forced answer start), the strip setting and
        // the verdict strings all come from saferoute.json.
        string folder = WriteNemoGuardFolder(_temp.Sub("m"), m =>
        {
            m["template"] = new JsonObject
            {
                ["kind"] = "custom",
                ["promptOnly"] = SafeRoute.Text.NemoGuardContentSafetyTemplate.PromptOnly,
                ["promptAndResponse"] = SafeRoute.Text.NemoGuardContentSafetyTemplate.PromptAndResponse,
                ["stripUserText"] = false,
            };
            m["verdict"]!["labels"] = new JsonObject { ["safe"] = new JsonArray("safe"), ["unsafe"] = new JsonArray("unsafe") };
        });
        using var guard = OnnxSafetyGuard.Create(folder);
        var cases = NemoGuardFiles.Vectors.NemoGuard;
        IReadOnlyList<GuardScore> scores = await guard.ScoreBatchAsync([.. cases.Select(Request)], includeFeatures: false);
        for (int i = 0; i < cases.Count; i++)
        {
            Assert.That(guard.Encoder.Encode(Request(cases[i])).TokenIds, Is.EqualTo(cases[i].Ids), $"case {i}");
            Assert.That(scores[i].UnsafeProbability, Is.EqualTo(Llama.Value.Results[i].P).Within(Tolerance), $"case {i}");
        }
    }

    [Test]
    public async Task WildGuardMistral_SingleRowsAndPaddedBatch_EqualPyTorch()
    {
        using var guard = OnnxSafetyGuard.Create(WriteWildGuardFolder(_temp.Sub("m")));
        Assert.That(guard.FeatureSize, Is.EqualTo(Mistral.Value.HiddenSize));
        var cases = NemoGuardFiles.Vectors.WildGuardStandIn;
        for (int i = 0; i < cases.Count; i++)
        {
            Assert.That(guard.Encoder.Encode(Request(cases[i])).TokenIds, Is.EqualTo(cases[i].Ids), $"case {i}");
            GuardScore score = (await guard.ScoreBatchAsync([Request(cases[i])], includeFeatures: true))[0];
            Assert.That(score.UnsafeProbability, Is.EqualTo(Mistral.Value.Results[i].P).Within(Tolerance), $"case {i}");
            Assert.That(score.Features.ToArray(), Is.EqualTo(Mistral.Value.Results[i].Features).Within(Tolerance), $"case {i}");
        }

        int[] runs = [0];
        guard.RunObserver = size => runs[0] = Math.Max(runs[0], size);
        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync([.. cases.Select(Request)]);
        Assert.That(runs[0], Is.GreaterThan(1), "the rows must run as a padded batch");
        for (int i = 0; i < verdicts.Count; i++)
        {
            Assert.That(verdicts[i].UnsafeProbability, Is.EqualTo(Mistral.Value.Results[i].P).Within(Tolerance), $"case {i}");
        }
    }

    [Test]
    public void WildGuardMistral_PromptAndResponse_IsRefused()
    {
        // The WildGuard preset reads the prompt verdict only (its response verdict needs the refusal line teacher-forced).
        using var guard = OnnxSafetyGuard.Create(WriteWildGuardFolder(_temp.Sub("m")));
        Assert.That(async () => await guard.EvaluateAsync(new SafetyRequest("hi", "a response")), Throws.TypeOf<SafeRouteException>().With.Message.Contains("promptAndResponse"));
    }

    [Test]
    public async Task RoutedGuard_WildGuardMistralSmall_NemoGuardLlamaLarge_RoutesByUncertainty()
    {
        // Cross-family, end to end: the WildGuard-style prefill guard (tiny Mistral) is the small tier, the NemoGuard-style
        // prefill guard (tiny Llama, real Llama 3 ids) the large; the entropy router escalates the more uncertain half.
        using var small = OnnxSafetyGuard.Create(WriteWildGuardFolder(_temp.Sub("small")));
        using var large = OnnxSafetyGuard.Create(WriteNemoGuardFolder(_temp.Sub("large")), tier: GuardTier.Large);
        var prompts = NemoGuardFiles.Vectors.WildGuardStandIn;
        Assert.That(prompts.Select(c => c.Prompt), Is.EqualTo(NemoGuardFiles.Vectors.NemoGuard.Where(c => c.Response is null).Select(c => c.Prompt)));
        double[] entropy = [.. Mistral.Value.Results.Select(r => -(r.P * Math.Log2(r.P)) - ((1 - r.P) * Math.Log2(1 - r.P)))];
        double[] sorted = [.. entropy.Order()];
        float threshold = (float)((sorted[sorted.Length / 2] + sorted[(sorted.Length / 2) - 1]) / 2);
        var routed = new RoutedSafetyGuard(small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = threshold });
        int routedCount = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            if (Math.Abs(entropy[i] - threshold) < 1e-4)
            {
                continue; // float32 logits may land on either side of a score this close to the threshold
            }

            SafetyVerdict verdict = await routed.EvaluateAsync(new SafetyRequest(prompts[i].Prompt));
            if (entropy[i] > threshold)
            {
                routedCount++;
                Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Large), $"case {i} (entropy {entropy[i]:F4})");
                Assert.That(verdict.UnsafeProbability, Is.EqualTo(Llama.Value.Results[i].P).Within(Tolerance), $"case {i}: the large guard's PyTorch p");
            }
            else
            {
                Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Small), $"case {i} (entropy {entropy[i]:F4})");
                Assert.That(verdict.UnsafeProbability, Is.EqualTo(Mistral.Value.Results[i].P).Within(Tolerance), $"case {i}: the small guard's PyTorch p");
            }
        }

        Assert.That(routedCount, Is.InRange(1, prompts.Count - 1), "both tiers must decide some case");
    }

    [Test]
    public async Task RoutedGuard_FeatureRouter_ReadsTheMistralHiddenStateAfterThePrefill()
    {
        // The Bayesian MLP router reads the small guard's last hidden state (after "Harmful request:"): its decisions on
        // the library's features equal its decisions on PyTorch's reference features.
        using var small = OnnxSafetyGuard.Create(WriteWildGuardFolder(_temp.Sub("small")));
        using var large = OnnxSafetyGuard.Create(WriteNemoGuardFolder(_temp.Sub("large")), tier: GuardTier.Large);
        MlpRouter router = MlpRouter.Load(RouterFiles.Write(Path.Combine(_temp.Path, "router.safetensors"), Mistral.Value.HiddenSize, hidden: 16, seed: 23));
        float[] scores = [.. Mistral.Value.Results.Select(r => router.Score([.. r.Features.Select(v => (float)v)], 0f, 0f))];
        float threshold = scores.Order().ElementAt(scores.Length / 2);
        var routed = new RoutedSafetyGuard(small, large, router, new RoutedSafetyGuardOptions { Threshold = threshold });
        int checkedCases = 0;
        var prompts = NemoGuardFiles.Vectors.WildGuardStandIn;
        for (int i = 0; i < scores.Length; i++)
        {
            if (Math.Abs(scores[i] - threshold) < 1e-4f)
            {
                continue;
            }

            SafetyVerdict verdict = await routed.EvaluateAsync(new SafetyRequest(prompts[i].Prompt));
            Assert.That(verdict.DecidedBy, Is.EqualTo(scores[i] > threshold ? GuardTier.Large : GuardTier.Small), $"case {i} (score {scores[i]}, threshold {threshold})");
            checkedCases++;
        }

        Assert.That(checkedCases, Is.GreaterThanOrEqualTo(scores.Length - 2));
    }

    private sealed class Reference
    {
        public int HiddenSize { get; set; }

        public Dictionary<string, int[]> Labels { get; set; } = [];

        public List<ReferenceResult> Results { get; set; } = [];
    }

    private sealed class ReferenceResult
    {
        public double P { get; set; }

        public double[] Features { get; set; } = [];
    }
}
