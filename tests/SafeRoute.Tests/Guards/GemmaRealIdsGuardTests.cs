using System.Text.Json;
using System.Text.Json.Nodes;
using SafeRoute.Tests.TestModels;
using SafeRoute.Tests.Text;
using SafeRoute.Text;

namespace SafeRoute.Tests.Guards;

/// <summary>
/// ShieldGemma end to end on Gemma 2's real tokenizer.json (tokenizer.kind "sentencepiece-bpe"): a tiny random-weight
/// Gemma-2-style graph whose embedding is indexed by id mod 1009 (tools/vectors/gemma/tiny_gemma_real_ids.py →
/// Guards/GemmaTinyRealIds), run on every policy row, equals the float64 PyTorch reference computed from the golden ids
/// of the independent tokenizer (GemmaVectors.json "guardCases") to 1e-5.
/// </summary>
[TestFixture]
public sealed class GemmaRealIdsGuardTests
{
    private const double Tolerance = 1e-5;

    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    private static string Source => Path.Combine(TestContext.CurrentContext.TestDirectory, "Guards", "GemmaTinyRealIds");

    private static RealIdsReference Reference() =>
        JsonSerializer.Deserialize<RealIdsReference>(File.ReadAllText(Path.Combine(Source, "reference.json")), CaseInsensitive)!;

    [Test]
    public async Task ShieldGemma_Gemma2TokenizerJson_EveryPolicyEqualsPyTorch()
    {
        string tokenizerJson = SentencePieceBpeFiles.RequireTokenizerJson("gemma2");
        using var temp = new TempDirectory("saferoute-gemma-real");
        string folder = temp.Sub("m");
        Directory.CreateDirectory(folder);
        foreach (string file in (string[])["model.onnx", "lm_head_rows.safetensors"])
        {
            File.Copy(Path.Combine(Source, file), Path.Combine(folder, file));
        }

        var manifest = new JsonObject
        {
            ["name"] = "tiny-shieldgemma-real-ids",
            ["tokenizer"] = new JsonObject { ["kind"] = "sentencepiece-bpe", ["path"] = tokenizerJson },
            ["template"] = new JsonObject { ["kind"] = "shieldgemma" },
            ["verdict"] = new JsonObject { ["lmHeadRows"] = "lm_head_rows.safetensors" },
            ["maxSequenceLength"] = 1024,
            ["padTokenId"] = 0,
        };
        File.WriteAllText(Path.Combine(folder, "saferoute.json"), manifest.ToJsonString());

        using var guard = OnnxSafetyGuard.Create(folder, new GuardModelOptions { MaxBatchSize = 64 });
        List<RealIdsCase> cases = Reference().Cases;
        Assert.That(cases, Has.Count.EqualTo(4));
        foreach (RealIdsCase c in cases)
        {
            EncodedPrompt encoded = guard.Encoder.Encode(new SafetyRequest(c.Prompt, c.Response));
            Assert.That(encoded.PolicyRows!.Select(r => r.TokenIds), Is.EqualTo(c.Policies.Select(p => p.Ids)), c.Prompt);
        }

        IReadOnlyList<GuardScore> scores = await guard.ScoreBatchAsync([.. cases.Select(c => new SafetyRequest(c.Prompt, c.Response))], includeFeatures: true);
        for (int i = 0; i < cases.Count; i++)
        {
            RealIdsCase c = cases[i];
            Assert.That(scores[i].Categories!.Select(k => k.Name), Is.EqualTo(c.Policies.Select(p => p.Code)), c.Prompt);
            Assert.That(scores[i].Categories!.Select(k => (double)k.Probability), Is.EqualTo(c.Policies.Select(p => p.P)).Within(Tolerance), c.Prompt);
            Assert.That(scores[i].UnsafeProbability, Is.EqualTo(c.P).Within(Tolerance), c.Prompt);
            Assert.That(scores[i].Features.ToArray(), Is.EqualTo(c.Features).Within(Tolerance), c.Prompt);
        }
    }

    private sealed class RealIdsReference
    {
        public List<RealIdsCase> Cases { get; set; } = [];
    }

    private sealed class RealIdsCase
    {
        public string Prompt { get; set; } = "";

        public string? Response { get; set; }

        public List<RealIdsPolicy> Policies { get; set; } = [];

        public double[] Features { get; set; } = [];

        public double P { get; set; }
    }

    private sealed class RealIdsPolicy
    {
        public string Code { get; set; } = "";

        public int[] Ids { get; set; } = [];

        public double P { get; set; }
    }
}
