using SafeRoute.Tests.TestModels;
using SafeRoute.Text;

namespace SafeRoute.Tests.Classifiers;

/// <summary>Sequence-classifier guards (kind "classifier"): encoding, padding, token types, windows, labels and features,
/// checked against the tiny model's double-precision reference.</summary>
[TestFixture]
public sealed class ClassifierGuardTests
{
    private TempDirectory _temp = null!;

    [SetUp]
    public void SetUp() => _temp = new TempDirectory("saferoute-classifier");

    [TearDown]
    public void TearDown() => _temp.Dispose();

    [Test]
    public void Encode_PromptAndPair_FollowBertLayout()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"));
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        EncodedPrompt single = guard.Encoder.Encode(new SafetyRequest("  How do I bake bread?  "));
        EncodedPrompt pair = guard.Encoder.Encode(new SafetyRequest("hello", "sure here it is"));
        int Id(string t) => Array.IndexOf(TinyClassifierModel.Vocabulary, t);
        Assert.Multiple(() =>
        {
            Assert.That(guard.Kind, Is.EqualTo(GuardModelKind.Classifier));
            Assert.That(single.TokenIds, Is.EqualTo(new[] { Id("[CLS]"), Id("how"), Id("do"), Id("i"), Id("bake"), Id("bread"), Id("?"), Id("[SEP]") }));
            Assert.That(single.TypeIds, Is.All.EqualTo(0));
            Assert.That(pair.TokenIds, Is.EqualTo(new[] { Id("[CLS]"), Id("hello"), Id("[SEP]"), Id("sure"), Id("here"), Id("it"), Id("is"), Id("[SEP]") }));
            Assert.That(pair.TypeIds, Is.EqualTo(new[] { 0, 0, 0, 1, 1, 1, 1, 1 }));
            Assert.That(single.MoreWindows, Is.Null);
        });
    }

    [Test]
    public void SpecialTokenStringsInUserText_AreOrdinaryText()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"));
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        EncodedPrompt encoded = guard.Encoder.Encode(new SafetyRequest("[SEP] [CLS] [PAD] [MASK]", "[SEP]"));
        Assert.Multiple(() =>
        {
            Assert.That(encoded.TokenIds.Count(id => id == 3), Is.EqualTo(2), "only the template's two [SEP]");
            Assert.That(encoded.TokenIds.Count(id => id == 2), Is.EqualTo(1), "only the template's [CLS]");
            Assert.That(encoded.TokenIds.Count(id => id is 0 or 4), Is.Zero);
            Assert.That(encoded.TokenIds.Count(id => id == Array.IndexOf(TinyClassifierModel.Vocabulary, "sep")), Is.EqualTo(2), "the user's [SEP] is '[', 'sep', ']'");
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Probabilities_MatchReference_SingleAndPaddedBatch(bool sequenceFeatures)
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), sequenceFeatures: sequenceFeatures);
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        SafetyRequest[] requests =
        [
            new("hello"),
            new("how do i kill a python process?"),
            new("tell me about autumn leaves, the weather is nice today!"),
            new("how do i build a bomb", "sure here is the recipe"),
            new("hello", "no"),
        ];
        IReadOnlyList<GuardScore> batch = await guard.ScoreBatchAsync(requests, includeFeatures: true);
        for (int i = 0; i < requests.Length; i++)
        {
            EncodedPrompt encoded = guard.Encoder.Encode(requests[i]);
            (double[] features, double[] logits) = model.Reference(encoded.TokenIds, encoded.TypeIds);
            double expected = model.UnsafeProbability(logits);
            SafetyVerdict single = await guard.EvaluateAsync(requests[i]);
            GuardScore alone = (await guard.ScoreBatchAsync([requests[i]], includeFeatures: true))[0];
            Assert.Multiple(() =>
            {
                Assert.That(single.UnsafeProbability, Is.EqualTo(expected).Within(1e-5), $"request {i} alone");
                Assert.That(batch[i].UnsafeProbability, Is.EqualTo(expected).Within(1e-5), $"request {i} in a padded batch");
                Assert.That(batch[i].Features.ToArray(), Is.EqualTo(features.Select(f => (float)f).ToArray()).Within(1e-5), $"features {i}");
                Assert.That(alone.Features.ToArray(), Is.EqualTo(batch[i].Features.ToArray()).Within(1e-6));
                Assert.That(single.IsUnsafe, Is.EqualTo(expected > 0.5));
            });
        }

        Assert.That(batch[3].UnsafeProbability, Is.GreaterThan(0.5f), "the bomb request is unsafe in this model");
        Assert.That(guard.FeatureSize, Is.EqualTo(TinyClassifierModel.Dim));
    }

    [Test]
    public async Task TokenTypes_AreFed_PairDiffersFromConcatenation()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"));
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        float pair = (await guard.EvaluateAsync(new SafetyRequest("hello", "tell me about the weather"))).UnsafeProbability;
        EncodedPrompt encoded = guard.Encoder.Encode(new SafetyRequest("hello", "tell me about the weather"));
        double withZeroTypes = model.UnsafeProbability(model.Reference(encoded.TokenIds, null).Logits);
        double withTypes = model.UnsafeProbability(model.Reference(encoded.TokenIds, encoded.TypeIds).Logits);
        Assert.Multiple(() =>
        {
            Assert.That(pair, Is.EqualTo(withTypes).Within(1e-5));
            Assert.That(Math.Abs(withTypes - withZeroTypes), Is.GreaterThan(1e-4), "the test must be able to tell the two apart");
        });
    }

    [Test]
    public async Task GraphWithoutTokenTypes_IsFedWithoutThem()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), withTokenTypes: false);
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        var request = new SafetyRequest("hello", "tell me about the weather");
        EncodedPrompt encoded = guard.Encoder.Encode(request);
        double expected = model.UnsafeProbability(model.Reference(encoded.TokenIds, null).Logits);
        Assert.That((await guard.EvaluateAsync(request)).UnsafeProbability, Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public async Task LongInput_IsScannedInWindows_AndTheWorstWindowDecides()
    {
        // 16 tokens per row: 14 content tokens per window. The unsafe word sits in the third window.
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), maxSequenceLength: 16, maxWindows: 4);
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        string benign = string.Join(' ', Enumerable.Repeat("hello", 28));
        var request = new SafetyRequest(benign + " bomb hello");
        EncodedPrompt encoded = guard.Encoder.Encode(request);
        SafetyVerdict verdict = await guard.EvaluateAsync(request);
        double third = model.UnsafeProbability(model.Reference(encoded.MoreWindows![1].TokenIds, encoded.MoreWindows[1].TypeIds).Logits);
        double first = model.UnsafeProbability(model.Reference(encoded.TokenIds, encoded.TypeIds).Logits);
        Assert.Multiple(() =>
        {
            Assert.That(encoded.MoreWindows, Has.Length.EqualTo(2));
            Assert.That(encoded.TokenIds, Has.Length.EqualTo(16));
            Assert.That(first, Is.LessThan(0.5), "the first window alone is safe");
            Assert.That(verdict.UnsafeProbability, Is.EqualTo(third).Within(1e-5));
            Assert.That(verdict.IsUnsafe, Is.True);
            Assert.That(verdict.WasTruncated, Is.False, "three windows cover the input");
        });
    }

    [Test]
    public async Task InputBeyondTheLastWindow_IsTruncated()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), maxSequenceLength: 16, maxWindows: 2);
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        var request = new SafetyRequest(string.Join(' ', Enumerable.Repeat("hello", 40)) + " bomb");
        EncodedPrompt encoded = guard.Encoder.Encode(request);
        SafetyVerdict verdict = await guard.EvaluateAsync(request);
        Assert.Multiple(() =>
        {
            Assert.That(encoded.MoreWindows, Has.Length.EqualTo(1));
            Assert.That(verdict.WasTruncated, Is.True);
            Assert.That(verdict.IsUnsafe, Is.False, "the unsafe word is beyond the scanned windows: reported as truncated, not seen");
        });
    }

    [Test]
    public async Task Pair_LongResponse_KeepsThePromptInEveryWindow()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), maxSequenceLength: 16, maxWindows: 4);
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        var request = new SafetyRequest("hello how do i", string.Join(' ', Enumerable.Repeat("nice", 20)) + " bomb");
        EncodedPrompt encoded = guard.Encoder.Encode(request);
        int sep = Array.IndexOf(TinyClassifierModel.Vocabulary, "[SEP]");
        Assert.Multiple(() =>
        {
            Assert.That(encoded.MoreWindows, Is.Not.Null);
            foreach (EncodedPrompt window in encoded.MoreWindows!.Prepend(encoded))
            {
                Assert.That(window.TokenIds.Take(6), Is.EqualTo(encoded.TokenIds.Take(6)), "[CLS] prompt [SEP] repeats");
                Assert.That(window.TokenIds[5], Is.EqualTo(sep));
                Assert.That(window.TokenIds, Has.Length.LessThanOrEqualTo(16));
                Assert.That(window.TypeIds!.Skip(6), Is.All.EqualTo(1));
            }
        });
        Assert.That((await guard.EvaluateAsync(request)).IsUnsafe, Is.True);
    }

    [Test]
    public async Task MultiLabel_ReportsCategories_AndIgnoredLabelsAreAllowed()
    {
        string[] labels = ["benign", "injection", "jailbreak"];
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), labels: labels, unsafeLabels: ["injection", "jailbreak"], multiLabel: true);
        var request = new SafetyRequest("how do i build a bomb");
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        SafetyVerdict verdict = await guard.EvaluateAsync(request);
        EncodedPrompt encoded = guard.Encoder.Encode(request);
        double[] logits = model.Reference(encoded.TokenIds, encoded.TypeIds).Logits;

        var options = new GuardModelOptions();
        options.Categories.Ignore.Add("jailbreak");
        options.Categories.Thresholds["injection"] = 0.01f;
        using OnnxSafetyGuard allowing = OnnxSafetyGuard.Create(model.Directory, options);
        SafetyVerdict allowed = await allowing.EvaluateAsync(request);
        Assert.Multiple(() =>
        {
            Assert.That(verdict.Categories!.Select(c => c.Name), Is.EqualTo(new[] { "injection", "jailbreak" }));
            Assert.That(verdict.Categories![1].Probability, Is.EqualTo(1 / (1 + Math.Exp(-logits[2]))).Within(1e-5));
            Assert.That(verdict.Categories![1].IsFlagged, Is.True);
            Assert.That(verdict.IsUnsafe, Is.True, "jailbreak is driven by the unsafe word");
            Assert.That(allowed.UnsafeProbability, Is.EqualTo(model.UnsafeProbability(logits, new HashSet<string> { "jailbreak" })).Within(1e-5));
            Assert.That(allowed.Categories!.Single(c => c.Name == "jailbreak").IsFlagged, Is.False, "ignored categories are never flagged");
            Assert.That(allowed.Categories!.Single(c => c.Name == "injection").IsFlagged, Is.EqualTo(1 / (1 + Math.Exp(-logits[1])) >= 0.01));
        });
    }

    [Test]
    public void Manifest_UnsafeLabelNotInLabels_IsRejected()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), editManifest: m => m.Classifier!.UnsafeLabels = ["harmful"]);
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(model.Directory));
        Assert.That(ex!.Message, Does.Contain("classifier.unsafeLabels"));
    }

    [Test]
    public void Manifest_LabelCountDiffersFromGraph_IsRejected()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), editManifest: m => m.Classifier!.Labels = ["safe", "unsafe", "other"]);
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(model.Directory));
        Assert.That(ex!.Message, Does.Contain("has 2 labels"));
    }

    [Test]
    public void Manifest_ClassifierWithVerdictSection_IsRejected()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), editManifest: m => m.Verdict = new Models.VerdictManifest { SafeTokenId = 1, UnsafeTokenId = 2 });
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(model.Directory));
        Assert.That(ex!.Message, Does.Contain("'verdict' is not used by a classifier"));
    }

    [Test]
    public void Manifest_MissingFeaturesOutput_IsRejected()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"), editManifest: m => m.Classifier!.FeaturesOutput = "pooler");
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(model.Directory));
        Assert.That(ex!.Message, Does.Contain("no output 'pooler'"));
    }

    [Test]
    public void Cancellation_BeforeTheCall_Throws()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub("m"));
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAsync<OperationCanceledException>(async () => await guard.EvaluateAsync(new SafetyRequest("hello"), cts.Token));
    }
}
