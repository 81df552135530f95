using System.Text;
using SafeRoute.Models;
using SafeRoute.Text;
using static SafeRoute.Tests.Text.TextTestSupport;

namespace SafeRoute.Tests.Text;

/// <summary>Custom templates and presets over a tiny tiktoken file the test writes (256 byte ranks and 3 merges).</summary>
[TestFixture]
public sealed class CustomTokenizerTests
{
    private const string Pattern = @"\S+|\s+";
    private string _dir = "";
    private string _tiny = "";

    [OneTimeSetUp]
    public void WriteTinyTokenizer()
    {
        _dir = Path.Combine(Path.GetTempPath(), "saferoute-text-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
        _tiny = Path.Combine(_dir, "tiny.tiktoken");
        var lines = new StringBuilder();
        for (int b = 0; b < 256; b++)
        {
            lines.Append(Convert.ToBase64String([(byte)b])).Append(' ').Append(b).Append('\n');
        }

        foreach ((string token, int rank) in new[] { ("he", 256), ("ll", 257), ("hell", 258) })
        {
            lines.Append(Convert.ToBase64String(Encoding.ASCII.GetBytes(token))).Append(' ').Append(rank).Append('\n');
        }

        File.WriteAllText(_tiny, lines.ToString());
    }

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_dir, recursive: true);

    private PromptEncoder Tiny(TemplateManifest template, int max = 4096, string? tokenizerPath = null) =>
        PromptEncoder.Create(Manifest(tokenizerPath ?? _tiny, template, max, preset: "custom", pattern: Pattern, specialTokens: new() { ["<|bos|>"] = 300, ["<|sep|>"] = 301 }));

    private static TemplateManifest Custom(string promptOnly, string? promptAndResponse = null) =>
        new() { Kind = "custom", PromptOnly = promptOnly, PromptAndResponse = promptAndResponse };

    [Test]
    public void CustomTemplate_RendersSpecialsAndMerges()
    {
        PromptEncoder encoder = Tiny(Custom("<|bos|>Q: {prompt}\nA:", "<|bos|>Q: {prompt}<|sep|>{{A}}: {response}"));
        Assert.Multiple(() =>
        {
            Assert.That(encoder.BaseVocabularySize, Is.EqualTo(259));
            Assert.That(encoder.EncodeRaw("  hello ", null).TokenIds, Is.EqualTo(new[] { 300, 'Q', ':', ' ', 258, 'o', '\n', 'A', ':' }));
            Assert.That(encoder.EncodeRaw("hello", "he").TokenIds, Is.EqualTo(new[] { 300, 'Q', ':', ' ', 258, 'o', 301, '{', 'A', '}', ':', ' ', 256 }));
        });
    }

    [Test]
    public void CustomTemplate_UserSpecialStringsStayText()
    {
        PromptEncoder encoder = Tiny(Custom("<|bos|>{prompt}"));
        int[] ids = encoder.EncodeRaw("<|bos|><|sep|>", null).TokenIds;
        Assert.Multiple(() =>
        {
            Assert.That(ids.Count(id => id >= encoder.BaseVocabularySize), Is.EqualTo(1));
            Assert.That(ids[0], Is.EqualTo(300));
            Assert.That(ids[1..], Is.EqualTo(Encoding.ASCII.GetBytes("<|bos|><|sep|>").Select(b => (int)b)));
        });
    }

    [Test]
    public void CustomTemplate_NoStripAndSuffix()
    {
        var template = Custom("[{prompt}]");
        template.StripUserText = false;
        template.SuffixTokenIds = [7, 8];
        Assert.That(Tiny(template).EncodeRaw(" x ", null).TokenIds, Is.EqualTo(new[] { '[', ' ', 'x', ' ', ']', 7, 8 }));
    }

    [Test]
    public void CustomTemplate_TruncatesToSmallMaximum()
    {
        PromptEncoder encoder = Tiny(Custom("<|bos|>{prompt}<|sep|>"), max: 40);
        EncodedPrompt encoded = encoder.EncodeRaw("hello " + new string('z', 5000) + " bye", null);
        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.True);
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(40));
            Assert.That(encoded.TokenIds[..4], Is.EqualTo(new[] { 300, 258, 'o', ' ' }));
            Assert.That(encoded.TokenIds[^4..], Is.EqualTo(new[] { 'b', 'y', 'e', 301 }));
        });
    }

    [Test]
    public void NoPromptAndResponseTemplate_ResponseRejected()
    {
        PromptEncoder encoder = Tiny(Custom("{prompt}"));
        Assert.Multiple(() =>
        {
            Assert.That(encoder.EncodeRaw("hello", "   ").TokenIds, Is.EqualTo(new[] { 258, 'o' }));
            Assert.That(() => encoder.EncodeRaw("hello", "reply"), Throws.TypeOf<SafeRouteException>().With.Message.Contains("template.promptAndResponse"));
        });
    }

    [TestCase("gpt2")]
    [TestCase("r50k")]
    [TestCase("cl100k")]
    [TestCase("o200k")]
    [TestCase("llama3")]
    public void Presets_CompileAndEncode(string preset)
    {
        PromptEncoder encoder = PromptEncoder.Create(Manifest(_tiny, Custom("{prompt}"), preset: preset));
        Assert.That(encoder.EncodeRaw("hello world's 123", null).TokenIds, Has.All.LessThan(259));
    }

    [Test]
    public void Error_MissingTokenizerFile()
    {
        string missing = Path.Combine(_dir, "nope.tiktoken");
        var ex = Assert.Throws<SafeRouteException>(() => Tiny(Custom("{prompt}"), tokenizerPath: missing));
        Assert.That(ex!.Message, Does.Contain(missing).And.Contain("tokenizer.path").And.Contain("saferoute.json"));
    }

    [TestCase("aGk= 5\nbroken-line-without-rank\n", "line 2")]
    [TestCase("aGk= 5\n!!!! 6\n", "line 2")]
    [TestCase("aGk= 5\naGk= 6\n", "line 2")]
    [TestCase("aGk= x\n", "line 1")]
    [TestCase("\n\n", "no ranks")]
    public void Error_MalformedTokenizerFile(string content, string where)
    {
        string bad = Path.Combine(_dir, "bad-" + Guid.NewGuid().ToString("N") + ".tiktoken");
        File.WriteAllText(bad, content);
        var ex = Assert.Throws<SafeRouteException>(() => Tiny(Custom("{prompt}"), tokenizerPath: bad));
        Assert.That(ex!.Message, Does.Contain(bad).And.Contain(where).And.Contain("tokenizer.path"));
    }

    [TestCase("no placeholder", null, "template.promptOnly", "{prompt}")]
    [TestCase("{prompt}", "{prompt} only", "template.promptAndResponse", "{response}")]
    [TestCase("{prompt} {response}", null, "template.promptOnly", "{response}")]
    [TestCase("{prompt} {other}", null, "template.promptOnly", "placeholder")]
    [TestCase("{prompt} }", null, "template.promptOnly", "'}'")]
    public void Error_BadTemplate(string promptOnly, string? promptAndResponse, string field, string detail)
    {
        var ex = Assert.Throws<SafeRouteException>(() => Tiny(Custom(promptOnly, promptAndResponse)));
        Assert.That(ex!.Message, Does.Contain(field).And.Contain(detail).And.Contain("saferoute.json"));
    }

    [Test]
    public void Error_ManifestFields()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => PromptEncoder.Create(Manifest(_tiny, Custom("{prompt}"), preset: "bert")), Throws.TypeOf<SafeRouteException>().With.Message.Contains("tokenizer.preset"));
            Assert.That(() => PromptEncoder.Create(Manifest(_tiny, Custom("{prompt}"), preset: "custom")), Throws.TypeOf<SafeRouteException>().With.Message.Contains("tokenizer.pattern"));
            Assert.That(() => PromptEncoder.Create(Manifest(_tiny, Custom("{prompt}"), preset: "custom", pattern: "(")), Throws.TypeOf<SafeRouteException>().With.Message.Contains("tokenizer.pattern"));
            Assert.That(() => PromptEncoder.Create(Manifest(_tiny, new TemplateManifest { Kind = "llama-guard-4" })), Throws.TypeOf<SafeRouteException>().With.Message.Contains("template.kind"));
            Assert.That(() => PromptEncoder.Create(Manifest(_tiny, Custom("{prompt}"), specialTokens: new() { ["<|x|>"] = 12 })), Throws.TypeOf<SafeRouteException>().With.Message.Contains("tokenizer.specialTokens"));
            Assert.That(() => PromptEncoder.Create(Manifest(_tiny, new TemplateManifest { Kind = "llama-guard-3-1b" }, preset: "gpt2")), Throws.TypeOf<SafeRouteException>().With.Message.Contains("tokenizer.specialTokens"));
            var refPrefix = Custom("{prompt}");
            refPrefix.ReferenceCompatiblePrefix = true;
            Assert.That(() => PromptEncoder.Create(Manifest(_tiny, refPrefix)), Throws.TypeOf<SafeRouteException>().With.Message.Contains("template.referenceCompatiblePrefix"));
            var noTokenizer = Manifest(_tiny, Custom("{prompt}"));
            noTokenizer.Tokenizer = null;
            Assert.That(() => PromptEncoder.Create(noTokenizer), Throws.TypeOf<SafeRouteException>().With.Message.Contains("'tokenizer'"));
            Assert.That(() => Tiny(Custom("<|bos|><|bos|><|bos|>{prompt}"), max: 2), Throws.TypeOf<SafeRouteException>().With.Message.Contains("maxSequenceLength"));
        });
    }
}
