using System.Text;
using Microsoft.ML.Tokenizers;
using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute.Tests.Text;

/// <summary>
/// <see cref="PieceTokenizer"/> (SafeRoute's own byte-pair merge with a per-call piece cache, issue 14) against the
/// tokenizer it replaces, Microsoft.ML.Tokenizers 2.0.1's <c>TiktokenTokenizer</c> over the same pre-tokenizer: the same
/// ids, and the same answers from the index functions that truncation uses, for every preset's pattern, on every
/// adversarial class, on text whose tokens end inside characters, and on seeded random text.
/// </summary>
[TestFixture]
public sealed class PieceTokenizerEquivalenceTests
{
    private static readonly Dictionary<string, (PromptEncoder Encoder, Tokenizer Reference)> Pairs = new(StringComparer.Ordinal);

    /// <summary>llama3 (= cl100k's pattern) and o200k's pattern over the Llama 3 ranks; GPT-2's pattern over its own ranks.</summary>
    private static (PieceTokenizer Ours, Tokenizer Reference) Pair(string preset)
    {
        lock (Pairs)
        {
            if (!Pairs.TryGetValue(preset, out (PromptEncoder Encoder, Tokenizer Reference) pair))
            {
                GuardManifest manifest = preset switch
                {
                    "gpt2" => new GuardManifest
                    {
                        Directory = "/virtual",
                        FilePath = "/virtual/saferoute.json",
                        Tokenizer = new TokenizerManifest { Kind = "tiktoken", Preset = "gpt2", Builtin = "gpt2" },
                        Template = new TemplateManifest { Kind = "custom", PromptOnly = "{prompt}", StripUserText = false },
                        MaxSequenceLength = 1 << 20,
                    },
                    "o200k" => TextTestSupport.Manifest(
                        SharedFiles.RequireLlama3Tokenizer(),
                        new TemplateManifest { Kind = "custom", PromptOnly = "{prompt}", StripUserText = false },
                        1 << 20,
                        "custom",
                        TokenizerPresets.O200kPattern),
                    _ => TextTestSupport.Manifest(
                        SharedFiles.RequireLlama3Tokenizer(),
                        new TemplateManifest { Kind = "custom", PromptOnly = "{prompt}", StripUserText = false },
                        1 << 20),
                };
                pair = (PromptEncoder.Create(manifest), PromptEncoder.CreateReferenceTokenizer(manifest));
                Pairs[preset] = pair;
            }

            return (pair.Encoder.TextTokenizer, pair.Reference);
        }
    }

    private static IEnumerable<string> Texts()
    {
        // Every adversarial unit of the benchmark's scan, as runs crossing the 64-character piece limit.
        string[] units =
        [
            "\u0000", "\u001C", "\u001E", "\u001C\u001D\u001E\u001F", "\u007F", "\u0085", "\u00A0", "\u3000", "\u200B", "\uFEFF",
            "7", "\u0663", "\u00B2", "\u2167", "0123456789", "/", "-", "=", "$", "^", "`", "~", "+", "!", "\u2026", "\u2B50", "\u00E9",
            "\U0001F600", "\U0001D400", "\U00020000", "\U0001F44D\U0001F3FD", "\uD800", "\uDC00", "\uDC00\uD800", "\uFFFD",
            " ", "\n", "\r\n", "\t", "x ", "a", "Z", "e\u0301", "\u4E2D", "\uAC00", "\u0915\u094D", "////////\u001E", "'s", " 's",
            "a7", "a ", "7 ", "/\u001E", "\u4E2D\U0001F600", "\u0301\n", "\u00A0'", "'\uD800", "\u2026+", "~\u2026 ",
        ];
        foreach (string unit in units)
        {
            foreach (int length in (int[])[1, 15, 16, 63, 64, 65, 129, 300])
            {
                var b = new StringBuilder();
                while (b.Length < length)
                {
                    b.Append(unit);
                }

                yield return b.ToString(0, length);
            }
        }

        yield return "Hello, world! It's 2026 — the café's naïve coöperation costs $1,234.56 (≈ €1.1k).\n\n\tDone.";
        yield return "𝟏𝟐𝟑 𝐀's 😀😀 ⭐⭐⭐ 中文字符 한국어 हिन्दी ✓✓ ™®©";

        // Seeded random text over a mixed alphabet (letters, digits, symbols with long tokens, white space, CJK,
        // emoji, combining marks, lone surrogates).
        string[] alphabet =
        [
            "a", "b", "Z", "é", "7", "0", " ", "  ", "\n", "\t", "\u001E", "/", "+", "~", "\u2026", "-", "=", "'", "'s", ".",
            "\u4E2D", "\U0001F600", "\u2B50", "\u0301", "\uD800", "\uDC00", "\u00A0", "\uFFFD", "!", "?", "\u0663",
        ];
        var random = new Random(14);
        for (int i = 0; i < 400; i++)
        {
            var b = new StringBuilder();
            int parts = random.Next(1, 120);
            for (int k = 0; k < parts; k++)
            {
                string unit = alphabet[random.Next(alphabet.Length)];
                int repeat = random.Next(4) == 0 ? random.Next(1, 40) : 1;
                for (int r = 0; r < repeat; r++)
                {
                    b.Append(unit);
                }
            }

            yield return b.ToString();
        }
    }

    [TestCase("llama3")]
    [TestCase("o200k")]
    [TestCase("gpt2")]
    public void SameIdsAndIndexes_AsMicrosoftMlTokenizers(string preset)
    {
        (PieceTokenizer ours, Tokenizer reference) = Pair(preset);
        int checkedTexts = 0;
        foreach (string text in Texts())
        {
            ours.BeginCall();
            IReadOnlyList<int> expected = reference.EncodeToIds(text);
            var ids = new List<int>();
            ours.EncodeAll(text, ids);
            Assert.That(ids, Is.EqualTo(expected), Describe(text));

            foreach (int max in (int[])[1, 2, 3, 5, 8, 13, expected.Count - 1, expected.Count, expected.Count + 1])
            {
                if (max < 1)
                {
                    continue;
                }

                int refIndex = reference.GetIndexByTokenCount(text, max, out _, out int refCount);
                int index = ours.IndexByTokenCount(text, max, out int count);
                Assert.That((index, count), Is.EqualTo((refIndex, refCount)), $"GetIndexByTokenCount({max}) of {Describe(text)}");

                int refFromEnd = reference.GetIndexByTokenCountFromEnd(text, max, out _, out int refEndCount);
                int fromEnd = ours.IndexByTokenCountFromEnd(text, max, out int endCount);
                Assert.That((fromEnd, endCount), Is.EqualTo((refFromEnd, refEndCount)), $"GetIndexByTokenCountFromEnd({max}) of {Describe(text)}");

                IReadOnlyList<int> refUpTo = reference.EncodeToIds(text, max, out _, out int refConsumed);
                var upTo = new List<int>();
                int added = ours.EncodeUpTo(text, upTo, max, out int consumed);
                Assert.That((upTo, consumed, added), Is.EqualTo((refUpTo, refConsumed, refUpTo.Count)), $"EncodeToIds({max}) of {Describe(text)}");
            }

            checkedTexts++;
        }

        TestContext.Out.WriteLine($"{preset}: {checkedTexts} texts equal");
    }

    /// <summary>The per-call cache returns what encoding returns: the same long piece many times in one call, and
    /// again after the cache was emptied by a new call.</summary>
    [Test]
    public void CachedPieces_GiveTheSameIds()
    {
        (PieceTokenizer ours, Tokenizer reference) = Pair("llama3");
        string text = string.Concat(Enumerable.Repeat("\u2026\u2026+~~~~////////////////////////////////\u2026", 500));
        ours.BeginCall();
        var first = new List<int>();
        ours.EncodeAll(text, first);
        var second = new List<int>();
        ours.EncodeAll(text, second);
        ours.BeginCall();
        var third = new List<int>();
        ours.EncodeAll(text, third);
        IReadOnlyList<int> expected = reference.EncodeToIds(text);
        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(expected));
            Assert.That(second, Is.EqualTo(expected));
            Assert.That(third, Is.EqualTo(expected));
        });
    }

    private static string Describe(string text) =>
        $"text of {text.Length} chars starting {string.Join(' ', text.Take(6).Select(c => $"U+{(int)c:X4}"))}";
}
