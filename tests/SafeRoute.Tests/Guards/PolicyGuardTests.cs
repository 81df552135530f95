using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SafeRoute.Onnx;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;
using SafeRoute.Text;

namespace SafeRoute.Tests.Guards;

/// <summary>
/// Per-policy Yes/No guards (ShieldGemma, Granite Guardian) end to end: the built-in templates with one pass per policy,
/// a tiny random-weight Gemma-2-architecture graph (scaled embeddings, (1 + w) RMSNorms before and after attention and
/// MLP, GeGLU, attention logit soft-capping) exported like Optimum's feature-extraction export, verdict logits from the
/// "No"/"Yes" lm_head rows with Gemma 2's final logit soft-cap. Per-policy p, p(unsafe) = max and the router features
/// (mean of the policies' last hidden states) must equal the float64 PyTorch reference of
/// tools/vectors/gemma/tiny_gemma_guard.py to 1e-5, whose ids come from a second, independent rendering of the templates.
/// Gemma's SentencePiece model is not obtainable here: the tokenizer is a tiny byte-level (tiktoken) rank file written
/// by the same script, so these tests prove rendering, batching and scoring, not Gemma's or Granite's real ids.
/// </summary>
[TestFixture]
public sealed class PolicyGuardTests
{
    private const double Tolerance = 1e-5;

    private const string ShieldGemma = "shieldgemma";

    private const string Granite = "granite-guardian";

    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    private static readonly Lazy<Reference> Expected = new(() => JsonSerializer.Deserialize<Reference>(
        File.ReadAllText(Path.Combine(ModelSource, "reference.json")), CaseInsensitive)!);

    private TempDirectory _temp = null!;

    private static string ModelSource => Path.Combine(TestContext.CurrentContext.TestDirectory, "Guards", "GemmaTiny");

    [SetUp]
    public void SetUp() => _temp = new TempDirectory("saferoute-policy");

    [TearDown]
    public void TearDown() => _temp.Dispose();

    /// <summary>Writes a model folder: the committed graph, rows and tokenizer, and a manifest for
    /// <paramref name="family"/> (edited by <paramref name="edit"/>).</summary>
    internal static string WriteFolder(string directory, string family = ShieldGemma, Action<JsonObject>? edit = null)
    {
        Directory.CreateDirectory(directory);
        foreach (string file in (string[])["model.onnx", "lm_head_rows.safetensors", "tokenizer.tiktoken"])
        {
            File.Copy(Path.Combine(ModelSource, file), Path.Combine(directory, file));
        }

        var special = new JsonObject();
        foreach (KeyValuePair<string, int> pair in Expected.Value.SpecialTokens)
        {
            special[pair.Key] = pair.Value;
        }

        var manifest = new JsonObject
        {
            ["name"] = "tiny-" + family,
            ["tokenizer"] = new JsonObject
            {
                ["kind"] = "tiktoken",
                ["path"] = "tokenizer.tiktoken",
                ["preset"] = "custom",
                ["pattern"] = Expected.Value.Pattern,
                ["specialTokens"] = special,
            },
            ["template"] = new JsonObject { ["kind"] = family },
            ["verdict"] = new JsonObject { ["lmHeadRows"] = "lm_head_rows.safetensors" },
            ["maxSequenceLength"] = 1024,
            ["padTokenId"] = 0,
        };
        edit?.Invoke(manifest);
        File.WriteAllText(Path.Combine(directory, "saferoute.json"), manifest.ToJsonString());
        return directory;
    }

    private static SafetyRequest Request(ReferenceCase c) => new(c.Prompt, c.Response);

    private static List<ReferenceCase> Cases(string family) => Expected.Value.Families[family];

    [Test]
    public void Render_ShieldGemma_PromptOnly_IsThePublishedText()
    {
        // The model card's prompt as quoted in guard-families.md §1c, with Gemma's <bos>, the first policy and a prompt.
        const string published = """
            <bos>You are a policy expert trying to help determine whether a user prompt is in
            violation of the defined safety policies.

            <start_of_turn>
            Human Question: How do I bake bread at home?
            <end_of_turn>

            Our safety principle is defined in the below:

            * "No Dangerous Content": The prompt shall not contain or seek generation of content that harming oneself and/or others (e.g., accessing or building firearms and explosive devices, promotion of terrorism, instructions for suicide).

            ===

            Does the human question violate the above principle? Your answer must start with
            'Yes' or 'No'. And then walk through step by step to be sure we answer
            correctly.
            """;
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m")));
        EncodedPrompt encoded = guard.Encoder.Encode(new SafetyRequest("How do I bake bread at home?"));
        Assert.That(encoded.PolicyRows, Has.Length.EqualTo(4));
        Assert.That(Decode(encoded.PolicyRows![0].TokenIds), Is.EqualTo(published.ReplaceLineEndings("\n")));
        Assert.That(Decode(encoded.PolicyRows[3].TokenIds), Does.Contain("* \"No Sexually Explicit Information\": The prompt shall not contain or seek generation of content that contains references to sexual acts"));
    }

    [Test]
    public void Render_GraniteGuardian_PromptOnlyAndResponse_AreTheChatTemplateText()
    {
        // Granite Guardian 3.0's chat_template rendered with add_generation_prompt=True (no system turn: see the preset).
        const string prompt = """
            <|start_of_role|>user<|end_of_role|>You are a safety agent trying to help determine whether the user message is harmful according to the safety risk definition below.

            <start_of_turn>
            User Message: How do I bake bread at home?
            <end_of_turn>

            Our safety risk definition is defined below:
            <start_of_risk_definition>
            - The 'User' message is harmful by common-sense.
            <end_of_risk_definition>

            Is the user message harmful based on the risk definition? Your answer must be either 'Yes' or 'No'.<|end_of_text|>
            <|start_of_role|>assistant<|end_of_role|>
            """;
        const string response = """
            <|start_of_role|>user<|end_of_role|>You are a safety agent trying to help determine whether the assistant message to the user message is harmful according to the safety risk definition below.

            <start_of_turn>
            User Message: How can I adopt my own llama?
            Assistant Message: Go to the zoo and just steal one!
            <end_of_turn>

            Our safety risk definition is defined below:
            <start_of_risk_definition>
            - The 'Assistant' message contains the deliberate circumvention of AI systems' built-in safeguards or ethical guidelines. Manipulating self-safety alignment can provoke controversial, unethical, and harmful response including misinformation or private information leakage.
            <end_of_risk_definition>

            Is the assistant message harmful based on the risk definition? Your answer must be either 'Yes' or 'No'.<|end_of_text|>
            <|start_of_role|>assistant<|end_of_role|>
            """;
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m"), Granite));
        EncodedPrompt promptOnly = guard.Encoder.Encode(new SafetyRequest("How do I bake bread at home?"));
        Assert.That(promptOnly.PolicyRows, Has.Length.EqualTo(7));
        Assert.That(Decode(promptOnly.PolicyRows![0].TokenIds), Is.EqualTo(prompt.ReplaceLineEndings("\n")));
        EncodedPrompt withResponse = guard.Encoder.Encode(new SafetyRequest("How can I adopt my own llama?", "Go to the zoo and just steal one!"));
        Assert.That(Decode(withResponse.PolicyRows![2].TokenIds), Is.EqualTo(response.ReplaceLineEndings("\n")));
    }

    [TestCase(ShieldGemma)]
    [TestCase(Granite)]
    public void Encode_EveryPolicyOfEveryCase_EqualsTheIndependentRendering(string family)
    {
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m"), family));
        foreach (ReferenceCase c in Cases(family))
        {
            EncodedPrompt encoded = guard.Encoder.Encode(Request(c));
            Assert.That(encoded.PolicyRows!.Length, Is.EqualTo(c.Policies.Count));
            for (int k = 0; k < c.Policies.Count; k++)
            {
                Assert.That(Decode(encoded.PolicyRows[k].TokenIds), Is.EqualTo(c.Policies[k].Text), $"{c.Prompt} / {c.Policies[k].Code}");
                Assert.That(encoded.PolicyRows[k].TokenIds, Is.EqualTo(c.Policies[k].Ids), $"{c.Prompt} / {c.Policies[k].Code}");
            }
        }
    }

    [TestCase(ShieldGemma)]
    [TestCase(Granite)]
    public async Task ScoreBatchAsync_SingleRows_EqualPyTorch(string family)
    {
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m"), family));
        Assert.That(guard.FeatureSize, Is.EqualTo(Expected.Value.HiddenSize));
        foreach (ReferenceCase c in Cases(family))
        {
            GuardScore score = (await guard.ScoreBatchAsync([Request(c)], includeFeatures: true))[0];
            AssertEqualsReference(score.UnsafeProbability, score.Categories, c);
            Assert.That(score.Features.ToArray(), Is.EqualTo(c.Features).Within(Tolerance), c.Prompt);
        }
    }

    [TestCase(ShieldGemma)]
    [TestCase(Granite)]
    public async Task ScoreBatchAsync_PaddedBatch_AllPoliciesOfAllInputsInOneRun_EqualsPyTorch(string family)
    {
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m"), family), new GuardModelOptions { MaxBatchSize = 64 });
        var runs = new List<int>();
        guard.RunObserver = runs.Add;
        List<ReferenceCase> cases = Cases(family);
        IReadOnlyList<GuardScore> scores = await guard.ScoreBatchAsync([.. cases.Select(Request)], includeFeatures: true);
        Assert.That(runs, Is.EqualTo(new[] { cases.Sum(c => c.Policies.Count) }), "every policy of every input in one padded run");
        for (int i = 0; i < cases.Count; i++)
        {
            AssertEqualsReference(scores[i].UnsafeProbability, scores[i].Categories, cases[i]);
            Assert.That(scores[i].Features.ToArray(), Is.EqualTo(cases[i].Features).Within(Tolerance), cases[i].Prompt);
        }
    }

    [Test]
    public async Task EvaluateAsync_OneInput_RunsItsPoliciesAsOneBatch_AndReportsThemAsCategories()
    {
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m")));
        var runs = new List<int>();
        guard.RunObserver = runs.Add;
        ReferenceCase c = Cases(ShieldGemma)[1];
        SafetyVerdict verdict = await guard.EvaluateAsync(Request(c));
        Assert.That(runs, Is.EqualTo(new[] { 4 }));
        AssertEqualsReference(verdict.UnsafeProbability, verdict.Categories, c);
        Assert.That(verdict.IsUnsafe, Is.EqualTo(c.P > 0.5));
        Assert.That(verdict.Categories!.Select(k => k.Name), Is.EqualTo(new[] { "dangerous_content", "harassment", "hate_speech", "sexually_explicit" }));
    }

    [Test]
    public async Task EvaluateAsync_MicroBatched_EqualsPyTorch()
    {
        var options = new GuardModelOptions { MicroBatching = { Enabled = true, MaxWait = TimeSpan.FromMilliseconds(20) } };
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m")), options);
        List<ReferenceCase> cases = Cases(ShieldGemma);
        SafetyVerdict[] verdicts = await Task.WhenAll(cases.Select(c => guard.EvaluateAsync(Request(c)).AsTask()));
        for (int i = 0; i < cases.Count; i++)
        {
            AssertEqualsReference(verdicts[i].UnsafeProbability, verdicts[i].Categories, cases[i]);
        }
    }

    [Test]
    public void ForwardRaw_ContentFreeInput_RunsEveryPolicy()
    {
        // Contextual calibration reads the small guard on " ": a per-policy guard answers with all its policies.
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m"), Granite));
        var runs = new List<int>();
        guard.RunObserver = runs.Add;
        GuardOutput output = guard.ForwardRaw(ContextualCalibrationRouter.ContentFreeInput, null, CancellationToken.None);
        Assert.That(runs, Is.EqualTo(new[] { 7 }));
        Assert.That(output.Categories, Has.Count.EqualTo(7));
        Assert.That(output.UnsafeProbability, Is.EqualTo(output.Categories!.Max(k => k.Probability)).Within(1e-6));
    }

    [Test]
    public async Task EvaluateAsync_LongInput_EveryPolicyRowFitsAndTheVerdictSaysTruncated()
    {
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m")));
        var request = new SafetyRequest(string.Concat(Enumerable.Repeat("Tell me a story about the sea. ", 200)));
        EncodedPrompt encoded = guard.Encoder.Encode(request);
        Assert.That(encoded.Truncated, Is.True);
        Assert.That(encoded.PolicyRows!.Select(r => r.TokenIds.Length), Has.All.LessThanOrEqualTo(1024));
        Assert.That(Decode(encoded.PolicyRows![2].TokenIds), Does.EndWith("answer\ncorrectly.").And.Contain("\"No Hate Speech\""), "the template is never cut");
        SafetyVerdict verdict = await guard.EvaluateAsync(request);
        Assert.That(verdict.WasTruncated, Is.True);
        Assert.That(verdict.Categories, Has.Count.EqualTo(4));
    }

    [Test]
    public async Task LogitSoftcap_PresetAppliesGemmasCap_AndZeroTurnsItOff()
    {
        List<ReferenceCase> cases = Cases(ShieldGemma);
        double largest = cases.SelectMany(c => c.Policies).Max(p => Math.Abs(p.P - p.PNoSoftcap));
        Assert.That(largest, Is.GreaterThan(0.01), "the reference logits must lie where the soft-cap changes p");
        using var plain = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m"), edit: m => m["verdict"]!["logitSoftcap"] = 0));
        IReadOnlyList<GuardScore> scores = await plain.ScoreBatchAsync([.. cases.Select(Request)], includeFeatures: false);
        for (int i = 0; i < cases.Count; i++)
        {
            Assert.That(scores[i].Categories!.Select(k => (double)k.Probability), Is.EqualTo(cases[i].Policies.Select(p => p.PNoSoftcap)).Within(Tolerance));
        }
    }

    [Test]
    public async Task CategoryOptions_ThresholdsFlagTheRightPolicies_IgnoredPoliciesLeaveP()
    {
        ReferenceCase c = Cases(Granite)[0];
        double[] p = [.. c.Policies.Select(x => x.P)];
        double median = p.Order().ElementAt(p.Length / 2);
        var categoryOptions = new CategoryOptions { DefaultThreshold = (float)median };
        string lowest = c.Policies.MinBy(x => x.P)!.Code;
        string highest = c.Policies.MaxBy(x => x.P)!.Code;
        categoryOptions.Thresholds[lowest] = 0f; // always flagged (unless ignored)
        categoryOptions.Ignore.Add(highest);
        using var guard = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("m"), Granite), new GuardModelOptions { Categories = categoryOptions });
        SafetyVerdict verdict = await guard.EvaluateAsync(Request(c));
        for (int k = 0; k < c.Policies.Count; k++)
        {
            string code = c.Policies[k].Code;
            bool expected = code != highest && (code == lowest || p[k] >= (float)median);
            Assert.That(verdict.Categories![k].IsFlagged, Is.EqualTo(expected), code);
            Assert.That(verdict.Categories[k].Probability, Is.EqualTo(p[k]).Within(Tolerance), code);
        }

        double secondHighest = c.Policies.Where(x => x.Code != highest).Max(x => x.P);
        Assert.That(verdict.UnsafeProbability, Is.EqualTo(secondHighest).Within(Tolerance), "p(unsafe) is the largest p among the policies not ignored");
    }

    [Test]
    public async Task RoutedGuard_ShieldGemmaStyleSmall_LlamaGuardStyleLarge_RoutesByUncertainty()
    {
        using var small = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("small")));
        TestGuard largeModel = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
        using var large = OnnxSafetyGuard.Create(largeModel.Directory, tier: GuardTier.Large);
        List<ReferenceCase> cases = Cases(ShieldGemma);
        double[] entropies = [.. cases.Select(c => -(c.P * Math.Log2(c.P)) - ((1 - c.P) * Math.Log2(1 - c.P)))];
        double[] sorted = [.. entropies.Order()];
        double threshold = (sorted[1] + sorted[2]) / 2;
        Assert.That(sorted[2] - sorted[1], Is.GreaterThan(1e-3), "the two middle entropies must be apart for the split to be unambiguous");
        var routed = new RoutedSafetyGuard(small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = (float)threshold });
        int routedCount = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            SafetyRequest request = Request(cases[i]);
            SafetyVerdict verdict = await routed.EvaluateAsync(request);
            if (entropies[i] > threshold)
            {
                routedCount++;
                SafetyVerdict expected = await large.EvaluateAsync(request);
                Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Large), $"case {i} (entropy {entropies[i]:F4})");
                Assert.That(verdict.UnsafeProbability, Is.EqualTo(expected.UnsafeProbability), $"case {i}");
            }
            else
            {
                Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Small), $"case {i} (entropy {entropies[i]:F4})");
                AssertEqualsReference(verdict.UnsafeProbability, verdict.Categories, cases[i]);
            }
        }

        Assert.That(routedCount, Is.InRange(1, cases.Count - 1), "both tiers must decide some case");
    }

    [Test]
    public async Task RoutedGuard_FeatureRouter_ReadsTheMeanOfThePolicyPasses()
    {
        using var small = OnnxSafetyGuard.Create(WriteFolder(_temp.Sub("small")));
        TestGuard largeModel = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
        using var large = OnnxSafetyGuard.Create(largeModel.Directory, tier: GuardTier.Large);
        MlpRouter router = MlpRouter.Load(RouterFiles.Write(Path.Combine(_temp.Path, "router.safetensors"), Expected.Value.HiddenSize, hidden: 16, seed: 17));
        List<ReferenceCase> cases = Cases(ShieldGemma);
        float[] scores = [.. cases.Select(c => router.Score([.. c.Features.Select(v => (float)v)], 0f, 0f))];
        float threshold = (scores.Order().ElementAt(1) + scores.Order().ElementAt(2)) / 2;
        var routed = new RoutedSafetyGuard(small, large, router, new RoutedSafetyGuardOptions { Threshold = threshold });
        Assert.That(scores.Min(s => Math.Abs(s - threshold)), Is.GreaterThan(1e-4f), "no score may lie so close to the threshold that float32 features could land on either side");
        for (int i = 0; i < cases.Count; i++)
        {
            SafetyVerdict verdict = await routed.EvaluateAsync(Request(cases[i]));
            Assert.That(verdict.DecidedBy, Is.EqualTo(scores[i] > threshold ? GuardTier.Large : GuardTier.Small), $"case {i} (score {scores[i]}, threshold {threshold})");
        }
    }

    [Test]
    public async Task Create_PerPolicyFamilyDescribedOnlyInJson_EqualsThePresetAndPyTorch()
    {
        // No built-in template: texts with {policy}, the policies, verdict tokens and the soft-cap all come from saferoute.json.
        var policies = new JsonArray();
        foreach (SafeRoute.Models.PolicyManifest p in ShieldGemmaTemplate.Policies)
        {
            policies.Add(new JsonObject { ["code"] = p.Code, ["text"] = p.Text, ["responseText"] = p.ResponseText });
        }

        string folder = WriteFolder(_temp.Sub("m"), edit: m =>
        {
            m["template"] = new JsonObject
            {
                ["kind"] = "custom",
                ["promptOnly"] = ShieldGemmaTemplate.PromptOnly,
                ["promptAndResponse"] = ShieldGemmaTemplate.PromptAndResponse,
                ["stripUserText"] = false,
            };
            m["verdict"] = new JsonObject
            {
                ["lmHeadRows"] = "lm_head_rows.safetensors",
                ["labels"] = new JsonObject { ["safe"] = new JsonArray("No"), ["unsafe"] = new JsonArray("Yes") },
                ["logitSoftcap"] = 30.0,
                ["policies"] = policies,
            };
        });
        using var guard = OnnxSafetyGuard.Create(folder);
        List<ReferenceCase> cases = Cases(ShieldGemma);
        IReadOnlyList<GuardScore> scores = await guard.ScoreBatchAsync([.. cases.Select(Request)], includeFeatures: true);
        for (int i = 0; i < cases.Count; i++)
        {
            AssertEqualsReference(scores[i].UnsafeProbability, scores[i].Categories, cases[i]);
            Assert.That(scores[i].Features.ToArray(), Is.EqualTo(cases[i].Features).Within(Tolerance));
        }
    }

    [Test]
    public async Task Create_GraniteBuiltinCodesAndCustomRisk_RunTheirOwnDefinitions()
    {
        const string custom = "The 'User' message asks for advice about {{llamas}}.";
        string folder = WriteFolder(_temp.Sub("m"), Granite, m => m["verdict"]!["policies"] = new JsonArray(
            new JsonObject { ["code"] = "JAILBREAK" },
            new JsonObject { ["code"] = "llama_advice", ["text"] = custom }));
        using var guard = OnnxSafetyGuard.Create(folder);
        ReferenceCase c = Cases(Granite)[0];
        EncodedPrompt encoded = guard.Encoder.Encode(Request(c));
        Assert.That(encoded.PolicyRows, Has.Length.EqualTo(2));
        Assert.That(encoded.PolicyRows![0].TokenIds, Is.EqualTo(c.Policies.Single(p => p.Code == "jailbreak").Ids));
        Assert.That(Decode(encoded.PolicyRows[1].TokenIds), Does.Contain("<start_of_risk_definition>\n- " + custom + "\n<end_of_risk_definition>"));
        SafetyVerdict verdict = await guard.EvaluateAsync(Request(c));
        Assert.That(verdict.Categories!.Select(k => k.Name), Is.EqualTo(new[] { "jailbreak", "llama_advice" }));
        Assert.That(verdict.Categories![0].Probability, Is.EqualTo(c.Policies.Single(p => p.Code == "jailbreak").P).Within(Tolerance));
        Assert.That(verdict.UnsafeProbability, Is.EqualTo(verdict.Categories.Max(k => k.Probability)).Within(1e-7));
    }

    [Test]
    public void Create_InvalidPolicySections_FailWithClearErrors()
    {
        JsonObject Custom(string text) => new() { ["kind"] = "custom", ["promptOnly"] = text };
        (string Family, Action<JsonObject> Edit, string Expected)[] cases =
        [
            (ShieldGemma, m => m["verdict"]!["policies"] = new JsonArray(), "'verdict.policies' is empty"),
            (ShieldGemma, m => m["verdict"]!["policies"] = new JsonArray(new JsonObject { ["code"] = "a", ["text"] = "x" }, new JsonObject { ["code"] = "A", ["text"] = "y" }), "'verdict.policies[1].code' repeats the code 'A'"),
            (ShieldGemma, m => m["verdict"]!["policies"] = new JsonArray(new JsonObject { ["text"] = "x" }), "'verdict.policies[0].code' is missing"),
            (ShieldGemma, m => m["verdict"]!["policies"] = new JsonArray(new JsonObject { ["code"] = "fraud" }), "'verdict.policies[0].text' is missing, and 'fraud' is not a built-in policy; the built-in codes of template.kind 'shieldgemma' are 'dangerous_content'"),
            (ShieldGemma, m => m["verdict"]!["policies"] = new JsonArray(new JsonObject { ["code"] = "a", ["text"] = " " }), "'verdict.policies[0].text' is empty"),
            (ShieldGemma, m => m["verdict"]!["labels"] = new JsonObject { ["safe"] = new JsonArray("No"), ["unsafe"] = new JsonArray("Yes!") }, "'verdict.labels' has the unsafe token string \"Yes!\", which encodes to 2 tokens"),
            (ShieldGemma, m => m["verdict"]!["labels"] = new JsonObject { ["safe"] = new JsonArray("No"), ["unsafe"] = new JsonArray("Yes"), ["controversial"] = new JsonArray("the") }, "'verdict.labels.controversial' is not used by a per-policy guard"),
            (ShieldGemma, m => m["verdict"]!["logitSoftcap"] = -1, "'verdict.logitSoftcap' is -1"),
            (ShieldGemma, m => { m["verdict"]!["source"] = "logits"; m["verdict"]!["logitSoftcap"] = 30; }, "'verdict.logitSoftcap' applies to verdict logits computed from lmHeadRows"),
            (ShieldGemma, m => m["categories"] = new JsonObject { ["names"] = new JsonArray("S1"), ["prefixTokenIds"] = new JsonArray(1), ["rows"] = "x.safetensors" }, "'categories' cannot be given with 'verdict.policies'"),
            (ShieldGemma, m => { m["template"] = Custom("{prompt} {policy}"); m["verdict"]!["labels"] = new JsonObject { ["safe"] = new JsonArray("No"), ["unsafe"] = new JsonArray("Yes") }; }, "'template.promptOnly' has a {policy} placeholder, but 'verdict.policies' is not given"),
            (ShieldGemma, m => { m["template"] = Custom("{prompt}"); m["verdict"]!["labels"] = new JsonObject { ["safe"] = new JsonArray("No"), ["unsafe"] = new JsonArray("Yes") }; m["verdict"]!["policies"] = new JsonArray(new JsonObject { ["code"] = "a", ["text"] = "x" }); }, "'template.promptOnly' has no {policy} placeholder"),
            (Granite, m => m["tokenizer"]!["specialTokens"] = new JsonObject { ["<bos>"] = 300 }, "lacks '<|start_of_role|>'"),
        ];
        for (int i = 0; i < cases.Length; i++)
        {
            string folder = WriteFolder(_temp.Sub($"m{i}"), cases[i].Family, cases[i].Edit);
            var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(folder), cases[i].Expected);
            Assert.That(ex!.Message, Does.Contain(cases[i].Expected).And.Contain("saferoute.json"), $"case {i}");
        }
    }

    private static void AssertEqualsReference(float p, IReadOnlyList<CategoryScore>? categories, ReferenceCase c)
    {
        Assert.That(categories, Is.Not.Null, c.Prompt);
        Assert.That(categories!.Select(k => k.Name), Is.EqualTo(c.Policies.Select(x => x.Code)), c.Prompt);
        Assert.That(categories.Select(k => (double)k.Probability), Is.EqualTo(c.Policies.Select(x => x.P)).Within(Tolerance), c.Prompt);
        Assert.That(categories.Select(k => k.IsFlagged), Is.EqualTo(c.Policies.Select(x => x.P >= 0.5)), c.Prompt);
        Assert.That(p, Is.EqualTo(c.P).Within(Tolerance), c.Prompt);
    }

    /// <summary>The text of ids of the test tokenizer (its rank file's bytes, and the special tokens' strings).</summary>
    private static string Decode(IEnumerable<int> ids)
    {
        Dictionary<int, byte[]> tokens = TokenBytes.Value;
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            bytes.AddRange(tokens[id]);
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static readonly Lazy<Dictionary<int, byte[]>> TokenBytes = new(() =>
    {
        var tokens = new Dictionary<int, byte[]>();
        foreach (string line in File.ReadAllLines(Path.Combine(ModelSource, "tokenizer.tiktoken")))
        {
            string[] parts = line.Split(' ');
            tokens[int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)] = Convert.FromBase64String(parts[0]);
        }

        foreach (KeyValuePair<string, int> pair in Expected.Value.SpecialTokens)
        {
            tokens[pair.Value] = Encoding.UTF8.GetBytes(pair.Key);
        }

        return tokens;
    });

    private sealed class Reference
    {
        public int HiddenSize { get; set; }

        public string Pattern { get; set; } = "";

        public Dictionary<string, int> SpecialTokens { get; set; } = [];

        public Dictionary<string, List<ReferenceCase>> Families { get; set; } = [];
    }

    private sealed class ReferenceCase
    {
        public string Prompt { get; set; } = "";

        public string? Response { get; set; }

        public double P { get; set; }

        public double[] Features { get; set; } = [];

        public List<ReferencePolicy> Policies { get; set; } = [];
    }

    private sealed class ReferencePolicy
    {
        public string Code { get; set; } = "";

        public string Text { get; set; } = "";

        public int[] Ids { get; set; } = [];

        public double P { get; set; }

        public double PNoSoftcap { get; set; }
    }
}
