using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute.Tests.Text;

[TestFixture]
public sealed class BuiltinTokenizerTests
{
    private static GuardManifest Manifest(string? builtin, string? path = null) => new()
    {
        Name = "gpt2-builtin",
        FilePath = "/virtual/saferoute.json",
        Directory = "/virtual",
        MaxSequenceLength = 64,
        Tokenizer = new TokenizerManifest { Kind = "tiktoken", Preset = "gpt2", Builtin = builtin, Path = path },
        Template = new TemplateManifest { Kind = "custom", PromptOnly = "Check:{prompt}\nAnswer:", PromptAndResponse = "Check:{prompt}\nReply:{response}\nAnswer:" },
        Verdict = new VerdictManifest { SafeTokenId = 3338, UnsafeTokenId = 21596, LmHeadRows = "rows.safetensors" },
    };

    [Test]
    public void Gpt2Builtin_EncodesWithPackageData_AndKnowsNoSpecialTokens()
    {
        PromptEncoder encoder = PromptEncoder.Create(Manifest("gpt2"));
        Assert.That(encoder.BaseVocabularySize, Is.EqualTo(50256), "GPT-2 ranks 0..50255; <|endoftext|> (50256) is special");

        int[] ids = encoder.Encode(new SafetyRequest("is it safe")).TokenIds;
        int[] prefix = encoder.Encode(new SafetyRequest("x")).TokenIds;
        Assert.That(ids, Does.Contain(3338), "' safe' is GPT-2 id 3338");

        int[] injected = encoder.Encode(new SafetyRequest("<|endoftext|>")).TokenIds;
        Assert.That(injected, Does.Not.Contain(50256), "user text never becomes a special id");
        Assert.That(injected.All(id => id < 50256), Is.True);
        Assert.That(prefix[0], Is.EqualTo(ids[0]));
    }

    [TestCase("Hello world, it's 2026!  Tabs\tand\nnewlines.")]
    [TestCase("emoji 😀 中文 ü ß  and   spaces   ")]
    [TestCase("don't they'll we've 12345 6789")]
    public void Gpt2Builtin_MatchesMicrosoftTokenizersOwnGpt2(string text)
    {
        PromptEncoder encoder = PromptEncoder.Create(Manifest("gpt2"));
        int[] empty = encoder.EncodeRaw("", null).TokenIds;
        var reference = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForModel("gpt2");

        // "Check:" + text + "\nAnswer:" is one text run; compare against the package's own GPT-2 tokenizer.
        int[] ours = PromptEncoder.Create(Manifest("gpt2")).Encode(new SafetyRequest(text)).TokenIds;
        int[] theirs = [.. reference.EncodeToIds("Check:" + text.Trim() + "\nAnswer:")];
        Assert.That(ours, Is.EqualTo(theirs));
        Assert.That(empty, Is.Not.Empty);
    }

    [Test]
    public void Builtin_Unknown_NamesField()
    {
        var ex = Assert.Throws<SafeRouteException>(() => PromptEncoder.Create(Manifest("gpt5")));
        Assert.That(ex!.Message, Does.Contain("gpt5").And.Contain("tokenizer.builtin"));
    }

    [Test]
    public void Builtin_PackageNotReferenced_NamesPackage()
    {
        var ex = Assert.Throws<SafeRouteException>(() => PromptEncoder.Create(Manifest("o200k_base")));
        Assert.That(ex!.Message, Does.Contain("Microsoft.ML.Tokenizers.Data.O200kBase"));
    }

    [Test]
    public void BuiltinAndPath_Together_AreRejected()
    {
        var ex = Assert.Throws<SafeRouteException>(() => PromptEncoder.Create(Manifest("gpt2", "tok.tiktoken")));
        Assert.That(ex!.Message, Does.Contain("tokenizer.builtin"));
        Assert.Throws<SafeRouteException>(() => PromptEncoder.Create(Manifest(null)));
    }
}
