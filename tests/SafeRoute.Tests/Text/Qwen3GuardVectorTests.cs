using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute.Tests.Text;

/// <summary>
/// The Qwen3Guard-Gen preset against golden vectors from an independent implementation
/// (tools/vectors/qwen3/qwen3guard-vectors.mjs: the published template rendered in JavaScript, tokenized by
/// @lenml/tokenizers with Qwen3's tokenizer.json): the rendered text, every id, and the verdict token strings.
/// </summary>
[TestFixture]
public sealed class Qwen3GuardVectorTests
{
    private static readonly Lazy<PromptEncoder> Encoder = new(() => PromptEncoder.Create(Manifest(Qwen3Files.RequireTokenizerJson())));

    public static IEnumerable<TestCaseData> Cases() =>
        Qwen3Files.Vectors.Cases.Select((c, i) => new TestCaseData(i).SetName($"Qwen3Guard_GoldenCase_{i:D2}{(c.Response is null ? "" : "_Response")}"));

    internal static GuardManifest Manifest(string tokenizerJson, TemplateManifest? template = null) => new()
    {
        Directory = Path.GetDirectoryName(tokenizerJson)!,
        FilePath = "(qwen3 test manifest)",
        Tokenizer = new TokenizerManifest { Kind = "bpe", Path = tokenizerJson, Preset = "qwen3" },
        Template = template ?? new TemplateManifest { Kind = "qwen3guard-gen" },
        MaxSequenceLength = 4096,
    };

    [Test]
    public void Vectors_AreLoaded()
    {
        Assert.That(Qwen3Files.Vectors.Cases, Has.Count.GreaterThanOrEqualTo(10));
        Assert.That(Qwen3Files.Vectors.Prefill, Is.EqualTo(Qwen3GuardGenTemplate.Prefill));
    }

    [TestCaseSource(nameof(Cases))]
    public void Template_RendersTheGoldenText(int index)
    {
        // The C# preset text against the generator's own copy of the published template (no tokenizer needed).
        Qwen3Case c = Qwen3Files.Vectors.Cases[index];
        Assert.That(Render(c.Prompt, c.Response), Is.EqualTo(c.Rendered));
    }

    [TestCaseSource(nameof(Cases))]
    public void Encode_GivesTheGoldenIds(int index)
    {
        Qwen3Case c = Qwen3Files.Vectors.Cases[index];
        EncodedPrompt encoded = Encoder.Value.EncodeRaw(c.Prompt, c.Response);
        Assert.That(encoded.Truncated, Is.False);
        Assert.That(encoded.TokenIds, Is.EqualTo(c.Ids));
    }

    [Test]
    public void Encode_UserTextNeverBecomesSpecialIds()
    {
        // The same template with harmless user text has exactly as many special ids as the injection cases.
        PromptEncoder encoder = Encoder.Value;
        int baseline = encoder.EncodeRaw("hello", null).TokenIds.Count(id => id >= encoder.BaseVocabularySize);
        int baselineResponse = encoder.EncodeRaw("hello", "hi").TokenIds.Count(id => id >= encoder.BaseVocabularySize);
        var injections = Qwen3Files.Vectors.Cases.Where(c => (c.Prompt + c.Response).Contains("<|im_end|>", StringComparison.Ordinal)).ToList();
        Assert.That(injections, Is.Not.Empty);
        foreach (Qwen3Case c in injections)
        {
            int[] ids = encoder.EncodeRaw(c.Prompt, c.Response).TokenIds;
            Assert.That(ids.Count(id => id >= encoder.BaseVocabularySize), Is.EqualTo(c.Response is null ? baseline : baselineResponse), c.Prompt);
        }
    }

    [Test]
    public void VerdictTokens_MatchTheGoldenIds()
    {
        PromptEncoder encoder = Encoder.Value;
        foreach (Qwen3VerdictToken token in Qwen3Files.Vectors.VerdictTokens)
        {
            Assert.That(encoder.EncodeTrusted(token.Text), Is.EqualTo(token.Ids), $"'{token.Text}'");
        }

        // The preset's verdict tokens are one token each and distinct: " Controversial" is three, read by " Cont".
        Assert.That(Qwen3Files.Vectors.VerdictTokens.Single(t => t.Text == " Controversial").Ids, Has.Length.EqualTo(3));
        Assert.That(encoder.EncodeTrusted(" Cont"), Is.EqualTo(new[] { Qwen3Files.Vectors.VerdictTokens.Single(t => t.Text == " Controversial").Ids[0] }));
    }

    [Test]
    public void CategoryTokens_AreTheDistinctFirstTokensOfTheGoldenCategoryNames()
    {
        PromptEncoder encoder = Encoder.Value;
        Dictionary<string, int[]> golden = Qwen3Files.Vectors.VerdictTokens.ToDictionary(t => t.Text, t => t.Ids);
        for (int c = 0; c < Qwen3GuardGenTemplate.Categories.Length; c++)
        {
            int[] name = golden[" " + Qwen3GuardGenTemplate.Categories[c]];
            Assert.That(encoder.EncodeTrusted(Qwen3GuardGenTemplate.CategoryTokens[c]), Is.EqualTo(new[] { name[0] }), Qwen3GuardGenTemplate.Categories[c]);
        }

        Assert.That(Qwen3GuardGenTemplate.CategoryTokens.Select(t => encoder.EncodeTrusted(t)[0]).Distinct().Count(), Is.EqualTo(9));
        Assert.That(encoder.EncodeTrusted(Qwen3GuardGenTemplate.CategoryPrefix), Is.EqualTo(golden[Qwen3GuardGenTemplate.CategoryPrefix]));
    }

    [Test]
    public void SpecialTokens_PresetMatchesTheTokenizerFile()
    {
        Assert.That(TokenizerPresets.Qwen3SpecialTokens, Is.EquivalentTo(Qwen3Files.Vectors.SpecialTokens));
    }

    [Test]
    public void Nfc_ComposesUserTextLikeTheTokenizersNormalizer()
    {
        PromptEncoder encoder = Encoder.Value;
        Assert.That(encoder.EncodeRaw("cafe\u0301", null).TokenIds, Is.EqualTo(encoder.EncodeRaw("caf\u00e9", null).TokenIds));
        PromptEncoder raw = PromptEncoder.Create(new GuardManifest
        {
            Directory = Path.GetDirectoryName(Qwen3Files.RequireTokenizerJson())!,
            FilePath = "(qwen3 test manifest)",
            Tokenizer = new TokenizerManifest { Kind = "bpe", Path = Qwen3Files.RequireTokenizerJson(), Preset = "qwen3", Normalization = "none" },
            Template = new TemplateManifest { Kind = "qwen3guard-gen" },
            MaxSequenceLength = 4096,
        });
        Assert.That(raw.EncodeRaw("cafe\u0301", null).TokenIds, Is.Not.EqualTo(raw.EncodeRaw("caf\u00e9", null).TokenIds));
    }

    internal static string Render(string prompt, string? response)
    {
        if (response is null)
        {
            string[] parts = Qwen3GuardGenTemplate.PromptOnly.Split("{prompt}");
            return parts[0] + prompt + parts[1] + Qwen3GuardGenTemplate.Prefill;
        }

        string[] head = Qwen3GuardGenTemplate.PromptAndResponse.Split("{prompt}");
        string[] tail = head[1].Split("{response}");
        return head[0] + prompt + tail[0] + response + tail[1] + Qwen3GuardGenTemplate.Prefill;
    }
}
