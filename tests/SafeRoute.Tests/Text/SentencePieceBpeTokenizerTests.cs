using System.Text.Json.Nodes;
using SafeRoute.Text;

namespace SafeRoute.Tests.Text;

/// <summary>
/// <see cref="SentencePieceBpeTokenizer"/> on small hand-made tokenizer.json files (no npm needed): merge order, byte
/// fallback, added tokens, special-token strings in text, and the load-time errors of files it cannot reproduce.
/// </summary>
[TestFixture]
public sealed class SentencePieceBpeTokenizerTests
{
    private string _directory = "";

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("saferoute-spbpe-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, true);

    /// <summary>Ids 0–255: &lt;0x00&gt;…&lt;0xFF&gt;; then ▁ a b c aa ab ▁a ▁ab; special &lt;bos&gt; 300; "\n\n" an added text token.</summary>
    private static JsonObject Tiny()
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++)
        {
            vocab[$"<0x{b:X2}>"] = b;
        }

        string[] tokens = ["\u2581", "a", "b", "c", "aa", "ab", "\u2581a", "\u2581ab", "<bos>", "\n\n"];
        for (int i = 0; i < tokens.Length; i++)
        {
            vocab[tokens[i]] = 256 + i;
        }

        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = 264, ["content"] = "<bos>", ["special"] = true, ["normalized"] = false, ["lstrip"] = false, ["rstrip"] = false, ["single_word"] = false },
                new JsonObject { ["id"] = 265, ["content"] = "\n\n", ["special"] = false, ["normalized"] = false, ["lstrip"] = false, ["rstrip"] = false, ["single_word"] = false }),
            ["normalizer"] = new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "\u2581" },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["String"] = " " }, ["behavior"] = "MergedWithPrevious", ["invert"] = false },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["byte_fallback"] = true,
                ["fuse_unk"] = true,
                ["unk_token"] = null,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray("a b", "a a", "\u2581 a", "\u2581a b"),
            },
        };
    }

    private string Write(JsonObject json)
    {
        string path = Path.Combine(_directory, $"tokenizer-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    private int[] Encode(JsonObject json, string text)
    {
        var ids = new List<int>();
        SentencePieceBpeTokenizer.Load(Write(json), "test").EncodeAll(text, ids);
        return [.. ids];
    }

    [Test]
    public void Merges_LowestRankFirst_ThenLeftmost()
    {
        // "aab": (a,b) has rank 0 and wins over (a,a) (rank 1) although it is to the right.
        Assert.That(Encode(Tiny(), "aab"), Is.EqualTo(new[] { 257, 261 }));

        // "aaaa": ties go leftmost: aa aa.
        Assert.That(Encode(Tiny(), "aaaa"), Is.EqualTo(new[] { 260, 260 }));

        // " ab": ▁ a b → (a,b) rank 0 first → ▁ ab; (▁, ab) has no merge, so ▁ab is never reached.
        Assert.That(Encode(Tiny(), " ab"), Is.EqualTo(new[] { 256, 261 }));

        // " aa": (a,a) rank 1 before (▁,a) rank 2 → ▁ aa.
        Assert.That(Encode(Tiny(), " aa"), Is.EqualTo(new[] { 256, 260 }));
    }

    [Test]
    public void ByteFallback_GivesTheUtf8BytesOfUnknownCharacters()
    {
        Assert.That(Encode(Tiny(), "c\u00e9"), Is.EqualTo(new[] { 259, 0xC3, 0xA9 }));
        Assert.That(Encode(Tiny(), "\U0001F600"), Is.EqualTo(new[] { 0xF0, 0x9F, 0x98, 0x80 }));
    }

    [Test]
    public void AddedTextTokens_AreSplitOff_SpecialOnesNever()
    {
        SentencePieceBpeTokenizer tokenizer = SentencePieceBpeTokenizer.Load(Write(Tiny()), "test");
        Assert.That(tokenizer.SpecialTokens, Is.EquivalentTo(new Dictionary<string, int> { ["<bos>"] = 264 }));

        var ids = new List<int>();
        tokenizer.EncodeAll("a\n\n\nb<bos>", ids);

        // a, "\n\n" (added, leftmost-longest), "\n" by byte fallback, b, then "<bos>" as the bytes of its characters
        // (b is a token), never id 264.
        Assert.That(ids, Is.EqualTo(new[] { 257, 265, 0x0A, 258, 0x3C, 258, 0x6F, 0x73, 0x3E }));
    }

    [Test]
    public void IndexFunctions_CountTokensAndNeverSplitACharacter()
    {
        SentencePieceBpeTokenizer tokenizer = SentencePieceBpeTokenizer.Load(Write(Tiny()), "test");

        // "c" "é" (two byte tokens) "c": the first two tokens end before é (its first byte alone does not cover it).
        Assert.That(tokenizer.IndexByTokenCount("c\u00e9c", 2, out int count), Is.EqualTo(1));
        Assert.That(count, Is.EqualTo(2));
        Assert.That(tokenizer.IndexByTokenCount("c\u00e9c", 3, out _), Is.EqualTo(2));
        Assert.That(tokenizer.IndexByTokenCountFromEnd("c\u00e9c", 2, out count), Is.EqualTo(2));
        Assert.That(tokenizer.EncodeUpTo("c\u00e9c", null, 4, out int consumed), Is.EqualTo(4));
        Assert.That(consumed, Is.EqualTo(3));
    }

    private static IEnumerable<TestCaseData> BadFiles()
    {
        yield return Bad("model.type", j => j["model"]!["type"] = "Unigram", "'model.type' is not 'BPE'");
        yield return Bad("byte_fallback", j => j["model"]!["byte_fallback"] = false, "'model.byte_fallback' is not true");
        yield return Bad("NFKC", j => j["normalizer"] = new JsonObject { ["type"] = "NFKC" }, "normalizer 'NFKC' is not supported");
        yield return Bad("Metaspace", j => j["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "\u2581" }, "pre_tokenizer 'Metaspace' is not supported");
        yield return Bad("Split on a kept character", j => j["pre_tokenizer"]!["pattern"]!["String"] = "a", "pre_tokenizer 'Split' is not supported");
        yield return Bad("missing byte", j => j["model"]!["vocab"]!.AsObject().Remove("<0xC3>"), "'<0xC3>' is missing");
        yield return Bad("unknown merge", j => j["model"]!["merges"]!.AsArray().Add("b c"), "merge 4 does not name");
        yield return Bad("long token", j => j["model"]!["vocab"]![new string('a', 65)] = 400, "more than 64 characters");
        yield return Bad("repeated id", j => j["model"]!["vocab"]!["zz"] = 257, "repeated");
        yield return Bad("lstrip added token", j => j["added_tokens"]![1]!["lstrip"] = true, "'lstrip' true");
        yield return Bad("subword prefix", j => j["model"]!["continuing_subword_prefix"] = "##", "'model.continuing_subword_prefix' is set");

        static TestCaseData Bad(string name, Action<JsonObject> edit, string message) => new TestCaseData(edit, message).SetName($"SentencePieceBpe_BadFile_{name.Replace(' ', '_').Replace('.', '_')}");
    }

    [TestCaseSource(nameof(BadFiles))]
    public void Load_BadFile_FailsWithAClearMessage(Action<JsonObject> edit, string message)
    {
        JsonObject json = Tiny();
        edit(json);
        string path = Write(json);
        SafeRouteException? ex = Assert.Throws<SafeRouteException>(() => SentencePieceBpeTokenizer.Load(path, "test"));
        Assert.That(ex!.Message, Does.Contain(message).And.Contain(path).And.Contain("sentencepiece-bpe"));
    }

    [Test]
    public void Load_MissingOrInvalidJson_FailsWithAClearMessage()
    {
        string missing = Path.Combine(_directory, "none.json");
        Assert.That(Assert.Throws<SafeRouteException>(() => SentencePieceBpeTokenizer.Load(missing, "test"))!.Message, Does.Contain("does not exist"));
        string broken = Path.Combine(_directory, "broken.json");
        File.WriteAllText(broken, "{\"model\": ");
        Assert.That(Assert.Throws<SafeRouteException>(() => SentencePieceBpeTokenizer.Load(broken, "test"))!.Message, Does.Contain("is not valid JSON"));
    }
}
