using System.Text.Json.Nodes;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Guards;

/// <summary>
/// Verdict token strings by label on the logits path (a graph with a vocabulary-wide <c>logits</c> output): several
/// tokens per label, a controversial label under strict and loose, checked against the tiny guard's double-precision
/// reference logits. Runs without any downloaded tokenizer.
/// </summary>
[TestFixture]
public sealed class VerdictLabelsTests
{
    private TempDirectory _temp = null!;

    [SetUp]
    public void SetUp() => _temp = new TempDirectory("saferoute-labels");

    [TearDown]
    public void TearDown() => _temp.Dispose();

    private TestGuard CreateWithLabels(JsonObject labels, string? controversialAs = null)
    {
        TestGuard model = TestGuardFactory.Create(_temp.Sub("m"), TestGuardOptions.Small with { VerdictOutputs = TestVerdictOutputs.LogitsAndHidden });
        JsonObject manifest = JsonNode.Parse(File.ReadAllText(model.ManifestPath))!.AsObject();
        JsonObject verdict = manifest["verdict"]!.AsObject();
        verdict.Remove("safeTokenId");
        verdict.Remove("unsafeTokenId");
        verdict["labels"] = labels;
        if (controversialAs is not null)
        {
            verdict["controversialAs"] = controversialAs;
        }

        File.WriteAllText(model.ManifestPath, manifest.ToJsonString());
        return model;
    }

    private static double Mass(double[] logits, IEnumerable<string> unsafeSide, IEnumerable<string> all)
    {
        double max = all.Max(t => logits[TinyGuardVocabulary.IdOf(t)]);
        double Sum(IEnumerable<string> tokens) => tokens.Sum(t => Math.Exp(logits[TinyGuardVocabulary.IdOf(t)] - max));
        return Sum(unsafeSide) / Sum(all);
    }

    [Test]
    public async Task Logits_SeveralTokensPerLabel_StrictAndLoose_AreTheNormalisedMass()
    {
        TestGuard model = CreateWithLabels(new JsonObject
        {
            ["safe"] = new JsonArray("safe", " safe", " hello"),
            ["unsafe"] = new JsonArray("unsafe", " unsafe"),
            ["controversial"] = new JsonArray(" weather"),
        });
        using var strict = OnnxSafetyGuard.Create(model.Directory);
        using var loose = OnnxSafetyGuard.Create(model.Directory, new GuardModelOptions { ControversialAsUnsafe = false });
        string[] safe = ["safe", " safe", " hello"];
        string[] @unsafe = ["unsafe", " unsafe"];
        string[] all = [.. safe, .. @unsafe, " weather"];
        var requests = new List<SafetyRequest>
        {
            new($"please {TestGuard.TriggerWords[0]} now"),
            new($"{TestGuard.BenignWords[0]} {TestGuard.BenignWords[1]}"),
            new(TestGuard.BorderlineWords[0]),
            new($"{TestGuard.BenignWords[2]} and {TestGuard.TriggerWords[1]}", "a reply"),
        };
        IReadOnlyList<SafetyVerdict> strictVerdicts = await strict.EvaluateBatchAsync(requests);
        IReadOnlyList<SafetyVerdict> looseVerdicts = await loose.EvaluateBatchAsync(requests);
        bool differ = false;
        for (int i = 0; i < requests.Count; i++)
        {
            double[] logits = model.Reference.Logits(strict.Encoder.Encode(requests[i]).TokenIds);
            double expectedStrict = Mass(logits, [.. @unsafe, " weather"], all);
            double expectedLoose = Mass(logits, @unsafe, all);
            Assert.That(strictVerdicts[i].UnsafeProbability, Is.EqualTo(expectedStrict).Within(1e-5), $"request {i}");
            Assert.That(looseVerdicts[i].UnsafeProbability, Is.EqualTo(expectedLoose).Within(1e-5), $"request {i}");
            Assert.That((await strict.EvaluateAsync(requests[i])).UnsafeProbability, Is.EqualTo(expectedStrict).Within(1e-5), $"request {i}");
            differ |= Math.Abs(expectedStrict - expectedLoose) > 1e-3;
        }

        Assert.That(differ, Is.True, "the controversial token must carry mass for strict and loose to differ");
    }

    [Test]
    public async Task Labels_OneTokenEach_EqualTheTwoIdForm()
    {
        // Backward compatibility: labels naming the same two tokens as safeTokenId/unsafeTokenId give identical verdicts.
        TestGuard ids = TestGuardFactory.Create(_temp.Sub("ids"), TestGuardOptions.Small with { VerdictOutputs = TestVerdictOutputs.LogitsAndHidden });
        TestGuard labels = CreateWithLabels(new JsonObject { ["safe"] = new JsonArray("safe"), ["unsafe"] = new JsonArray("unsafe") });
        using var a = OnnxSafetyGuard.Create(ids.Directory);
        using var b = OnnxSafetyGuard.Create(labels.Directory);
        foreach (string text in TestGuard.TriggerWords.Concat(TestGuard.BenignWords))
        {
            SafetyVerdict x = await a.EvaluateAsync(new SafetyRequest(text));
            SafetyVerdict y = await b.EvaluateAsync(new SafetyRequest(text));
            Assert.That(y.UnsafeProbability, Is.EqualTo(x.UnsafeProbability), text);
        }
    }

    [Test]
    public void Labels_StringOfTwoTokens_FailsNamingTheTokens()
    {
        TestGuard model = CreateWithLabels(new JsonObject { ["safe"] = new JsonArray("safe"), ["unsafe"] = new JsonArray("unsafe attack") });
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(model.Directory));
        Assert.That(ex!.Message, Does.Contain("'verdict.labels'").And.Contain("\"unsafe attack\"").And.Contain("not one"));
    }

    [TestCase("labels-empty", "'verdict.labels.unsafe' is empty")]
    [TestCase("labels-and-ids", "are exclusive")]
    [TestCase("controversial-as", "'verdict.controversialAs' is 'strict'")]
    [TestCase("prefill-empty", "'template.prefill' is empty")]
    [TestCase("no-verdict-tokens", "'verdict.safeTokenId/unsafeTokenId' must be two different")]
    public void Manifest_InvalidVerdictSection_FailsAtLoadWithTheField(string problem, string expected)
    {
        TestGuard model = CreateWithLabels(new JsonObject { ["safe"] = new JsonArray("safe"), ["unsafe"] = new JsonArray("unsafe") });
        JsonObject manifest = JsonNode.Parse(File.ReadAllText(model.ManifestPath))!.AsObject();
        JsonObject verdict = manifest["verdict"]!.AsObject();
        switch (problem)
        {
            case "labels-empty": verdict["labels"]!["unsafe"] = new JsonArray(); break;
            case "labels-and-ids": verdict["safeTokenId"] = 3; break;
            case "controversial-as": verdict["controversialAs"] = "strict"; break;
            case "prefill-empty": manifest["template"]!["prefill"] = ""; break;
            default: verdict.Remove("labels"); break;
        }

        File.WriteAllText(model.ManifestPath, manifest.ToJsonString());
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(model.Directory));
        Assert.That(ex!.Message, Does.Contain(expected).And.Contain(model.ManifestPath));
    }

    [Test]
    public async Task Prefill_IsAppendedToTheTemplateText()
    {
        TestGuard model = CreateWithLabels(new JsonObject { ["safe"] = new JsonArray("safe"), ["unsafe"] = new JsonArray("unsafe") });
        using var plain = OnnxSafetyGuard.Create(model.Directory);
        JsonObject manifest = JsonNode.Parse(File.ReadAllText(model.ManifestPath))!.AsObject();
        manifest["template"]!["prefill"] = " verdict {x}:";
        File.WriteAllText(model.ManifestPath, manifest.ToJsonString());
        using var prefilled = OnnxSafetyGuard.Create(model.Directory);
        var request = new SafetyRequest(TestGuard.TriggerWords[0]);
        int[] without = plain.Encoder.Encode(request).TokenIds;
        int[] with = prefilled.Encoder.Encode(request).TokenIds;
        Assert.That(with[..without.Length], Is.EqualTo(without));
        Assert.That(with.Length, Is.GreaterThan(without.Length), "the prefill (braces are literal) adds tokens after the template");
        double expected = SafeRoute.Tests.TestModels.TinyGuardReference.UnsafeProbability(
            model.Reference.Logits(with)[TinyGuardVocabulary.IdOf("safe")], model.Reference.Logits(with)[TinyGuardVocabulary.IdOf("unsafe")]);
        Assert.That((await prefilled.EvaluateAsync(request)).UnsafeProbability, Is.EqualTo(expected).Within(1e-5));
    }
}
