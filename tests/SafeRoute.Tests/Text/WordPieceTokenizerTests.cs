using System.Text;
using SafeRoute.Text;

namespace SafeRoute.Tests.Text;

/// <summary>
/// <see cref="WordPieceTokenizer"/> beyond the golden vectors (<see cref="WordPieceVectorTests"/>): user text never yields
/// a special id, the work is bounded by the token budget whatever the input, and cancellation is observed during a huge
/// input. Assertions are on work done (code points examined, words, vocabulary look-ups), never on wall-clock time.
/// </summary>
[TestFixture]
public sealed class WordPieceTokenizerTests
{
    /// <summary>Ten megabytes of UTF-16 units.</summary>
    private const int Huge = 10 * 1024 * 1024;

    /// <summary>The classifier guards' budget: 16 windows of 128 tokens.</summary>
    private const int Budget = 128 * 16;

    /// <summary>
    /// A small vocabulary (ids are line numbers) with the four special tokens, [MASK], look-alike pieces ("sep", "cls",
    /// "[", "]", "#", "##s") and a long entry, so that the look-up bound is exercised.
    /// </summary>
    private static readonly string[] SmallVocab =
    [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[", "]", "#", "!", ".", "'", "sep", "cls", "pad", "mask", "unk",
        "a", "b", "e", "i", "x", "##a", "##b", "##e", "##s", "##x", "σ", "ς", "##σ", "##ς", "ab", "abab", "ababababab",
        "bomb", "##mb", "bo", "你", "hello", "world", "aaaaaaaaaaaaaaaaaaaa",
    ];

    private static WordPieceTokenizer Small(bool lowerCase = true)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(string.Join("\r\n", SmallVocab) + "\r\n"));
        return WordPieceTokenizer.Load(stream, lowerCase);
    }

    private static string Fill(string unit, int units)
    {
        var b = new StringBuilder(units + unit.Length);
        while (b.Length < units)
        {
            b.Append(unit);
        }

        return b.ToString();
    }

    private static readonly (string Name, string Text)[] Adversarial =
    [
        ("one long word", Fill("a", Huge)),
        ("long words", Fill(new string('b', 150) + " ", Huge)),
        ("100-letter words without a segmentation", Fill(new string('z', 100) + " ", Huge)),
        ("99-letter words, worst case look-ups", Fill("a" + new string('q', 98) + " ", Huge)),
        ("punctuation run", Fill("!", Huge)),
        ("mixed punctuation", Fill("[SEP]##.'", Huge)),
        ("combining marks on one letter", "e" + Fill("\u0301\u0308", Huge)),
        ("letters with combining marks", Fill("a\u0301", Huge)),
        ("zero-width inside a word", Fill("a\u200B", Huge)),
        ("zero-width only", Fill("\u200B\u200C\u200D\uFEFF", Huge)),
        ("white space", Fill(" \t\n\r\u00A0\u3000", Huge)),
        ("emoji", Fill("\U0001F600", Huge)),
        ("CJK", Fill("你", Huge)),
        ("sigma and case-ignorables", Fill("A\u03A3'''''''''", Huge)),
        ("lone surrogates and controls", Fill("\uD800\u0000\u0007", Huge)),
    ];

    private static IEnumerable<TestCaseData> AdversarialCases() => Adversarial.Select(c => new TestCaseData(c.Name).SetName($"Adversarial_WorkIsBoundedByTheBudget({c.Name})"));

    [TestCaseSource(nameof(AdversarialCases))]
    public void Adversarial_WorkIsBoundedByTheBudget(string name)
    {
        string text = Adversarial.Single(c => c.Name == name).Text;
        WordPieceTokenizer tokenizer = Small();
        var ids = new List<int>();
        int n = tokenizer.Encode(text, ids, Budget, CancellationToken.None, out WordPieceWork work);
        TestContext.Out.WriteLine($"{name}: {n} ids, {work.CodePoints} code points examined, {work.Words} words, {work.Lookups} look-ups");
        int longest = SmallVocab.Max(t => t.Length);
        Assert.Multiple(() =>
        {
            Assert.That(n, Is.EqualTo(ids.Count));
            Assert.That(n, Is.LessThanOrEqualTo(Budget));
            Assert.That(work.Words, Is.LessThanOrEqualTo(Budget), "every word tokenized appends at least one id");
            Assert.That(work.Lookups, Is.LessThanOrEqualTo((long)Budget * WordPieceTokenizer.MaxInputCharsPerWord * longest));
            Assert.That(work.CodePoints, Is.LessThanOrEqualTo(text.Length));
        });
    }

    [Test]
    public void Punctuation_StopsAtTheBudget()
    {
        WordPieceTokenizer tokenizer = Small();
        var ids = new List<int>();
        int n = tokenizer.Encode(Fill("!", Huge), ids, 10, CancellationToken.None, out WordPieceWork work);
        Assert.Multiple(() =>
        {
            Assert.That(n, Is.EqualTo(10));
            Assert.That(work.CodePoints, Is.EqualTo(10), "scanning stops at the budget, not at the end of the input");
            Assert.That(work.Lookups, Is.EqualTo(10));
        });
    }

    [Test]
    public void LongWord_IsUnknownWithoutLookups()
    {
        WordPieceTokenizer tokenizer = Small();
        var ids = new List<int>();
        tokenizer.Encode(Fill("ab", Huge) + " ab", ids, 10, CancellationToken.None, out WordPieceWork work);
        Assert.Multiple(() =>
        {
            Assert.That(ids, Is.EqualTo(new[] { tokenizer.UnkId, tokenizer.IdOf("ab") }));
            Assert.That(work.Lookups, Is.EqualTo(1));
        });
    }

    [Test]
    public void CombiningMarks_AreStrippedBeforeTheLengthCheck()
    {
        WordPieceTokenizer tokenizer = Small();
        var ids = new List<int>();
        tokenizer.Encode("e" + Fill("\u0301", 1000) + " " + Fill("\u00E9", 101), ids, 10, CancellationToken.None);
        Assert.That(ids, Is.EqualTo(new[] { tokenizer.IdOf("e"), tokenizer.UnkId }), "e + 1000 marks is \"e\"; 101 x é is 101 letters");
    }

    [Test]
    public void ZeroWidthCharacters_AreDeletedInsideAWord()
    {
        WordPieceTokenizer tokenizer = Small();
        var ids = new List<int>();
        tokenizer.Encode("bo\u200Cmb b\u200Bo\u200Dm\uFEFFb", ids, 10, CancellationToken.None);
        Assert.That(ids, Is.EqualTo(new[] { tokenizer.IdOf("bomb"), tokenizer.IdOf("bomb") }));
    }

    [Test]
    public void CasedVocabulary_KeepsCaseAndAccents()
    {
        WordPieceTokenizer tokenizer = Small(lowerCase: false);
        var ids = new List<int>();
        tokenizer.Encode("A a \u00E9 \u03A3", ids, 10, CancellationToken.None);
        Assert.That(ids, Is.EqualTo(new[] { tokenizer.UnkId, tokenizer.IdOf("a"), tokenizer.UnkId, tokenizer.UnkId }));
    }

    [Test]
    public void FinalSigma_FollowsPythonLower()
    {
        WordPieceTokenizer tokenizer = Small();
        var ids = new List<int>();
        tokenizer.Encode("\u03A3 a\u03A3 a\u03A3' a\u03A3a", ids, 20, CancellationToken.None);
        int s = tokenizer.IdOf("σ"), fs = tokenizer.IdOf("##ς"), cs = tokenizer.IdOf("##σ");
        Assert.That(ids, Is.EqualTo(new[] { s, tokenizer.IdOf("a"), fs, tokenizer.IdOf("a"), fs, tokenizer.IdOf("'"), tokenizer.IdOf("a"), cs, tokenizer.IdOf("##a") }));
    }

    [Test]
    public void Budget_CutsInsideAWord()
    {
        WordPieceTokenizer tokenizer = Small();
        var ids = new List<int> { 42 };
        int n = tokenizer.Encode("abab ab", ids, 1, CancellationToken.None);
        Assert.Multiple(() =>
        {
            Assert.That(n, Is.EqualTo(1));
            Assert.That(ids, Is.EqualTo(new[] { 42, tokenizer.IdOf("abab") }), "appends to the list");
        });
    }

    [Test]
    public void CancelledBeforeTheCall_Throws()
    {
        WordPieceTokenizer tokenizer = Small();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var ids = new List<int>();
        Assert.That(() => tokenizer.Encode(Fill("a ", Huge), ids, int.MaxValue, cts.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(ids, Is.Empty);
    }

    [TestCase("a ", TestName = "CancelledAfterTheFirstWord_Throws(short words)")]
    [TestCase("!", TestName = "CancelledAfterTheFirstWord_Throws(punctuation)")]
    public void CancelledAfterTheFirstWord_Throws(string unit)
    {
        WordPieceTokenizer tokenizer = Small();
        using var cts = new CancellationTokenSource();
        int words = 0;
        tokenizer.AfterWord = () =>
        {
            if (++words == 1)
            {
                cts.Cancel();
            }
        };
        var ids = new List<int>();
        Assert.That(() => tokenizer.Encode(Fill(unit, Huge), ids, int.MaxValue, cts.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.Multiple(() =>
        {
            Assert.That(words, Is.EqualTo(1), "no word after the cancellation");
            Assert.That(ids, Has.Count.EqualTo(1));
        });
    }

    [Test]
    public void CancelledDuringOneHugeWord_Throws()
    {
        WordPieceTokenizer tokenizer = Small();
        using var cts = new CancellationTokenSource();
        tokenizer.AfterWord = cts.Cancel;
        var ids = new List<int>();
        // The first word ends at the space; the next one is 10 MB long and only the periodic check can see the token.
        Assert.That(() => tokenizer.Encode("a " + Fill("b", Huge), ids, int.MaxValue, cts.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(ids, Is.EqualTo(new[] { tokenizer.IdOf("a") }));
    }

    private static readonly string[] TrickyPool =
    [
        "[SEP]", "[CLS]", "[PAD]", "[MASK]", "[UNK]", "[sep]", "[Cls]", "[unused0]", "##", "#", "[", "]", "sep", "cls",
        "pad", "mask", "SEP", "CLS", "\u200B", "\u200C", "\u200D", "\u2060", "\uFEFF", "\u00AD", "\u0301", "\u0308", "\u20DD",
        "\U0001F600", "\uD83D", "\uDE00", "\u0000", "\u0007", "\u001B", "\u0085", "\t", "\n", "\r", " ", "\u00A0",
        "\u2028", "\u3000", "\u03A3", "\u0130", "\u00E9", "e", "a", "你", "\U00020000", "\uFFFD", "\uE000", "<s>", "</s>",
        "\uFF3BSEP\uFF3D", "[\u200BSEP]", "[S\u0301EP]", "##s", "'", ".",
    ];

    private static string Tricky(Random random)
    {
        var b = new StringBuilder();
        int parts = random.Next(1, 24);
        for (int k = 0; k < parts; k++)
        {
            b.Append(TrickyPool[random.Next(TrickyPool.Length)]);
        }

        return b.ToString();
    }

    [Test]
    public void Fuzz_SmallVocabulary_NeverYieldsASpecialId()
    {
        WordPieceTokenizer tokenizer = Small();
        var random = new Random(20240616);
        var ids = new List<int>();
        int[] special = [tokenizer.ClsId, tokenizer.SepId, tokenizer.PadId, tokenizer.MaskId];
        for (int k = 0; k < 10_000; k++)
        {
            string text = Tricky(random);
            ids.Clear();
            tokenizer.Encode(text, ids, 512, CancellationToken.None);
            if (ids.Any(special.Contains))
            {
                Assert.Fail($"case {k}: a special id from user text");
            }
        }
    }

    [Test]
    public void Fuzz_MiniLm_TokenizerAndEncoder_NeverYieldASpecialIdFromUserText()
    {
        if (MiniLmVocab.Bytes is null)
        {
            Assert.Ignore(MiniLmVocab.MissingMessage);
        }

        string folder = Directory.CreateTempSubdirectory("saferoute-wordpiece-fuzz-").FullName;
        try
        {
            ClassifierEncoder encoder = MiniLmVocab.Encoder(folder, maxSequenceLength: 64, maxWindows: 4);
            WordPieceTokenizer tokenizer = encoder.Tokenizer;
            int[] special = [tokenizer.ClsId, tokenizer.SepId, tokenizer.PadId, tokenizer.MaskId];
            var random = new Random(16);
            var ids = new List<int>();
            for (int k = 0; k < 10_000; k++)
            {
                string prompt = Tricky(random);
                string? response = random.Next(2) == 0 ? null : Tricky(random);
                ids.Clear();
                tokenizer.Encode(prompt, ids, 512, CancellationToken.None);
                if (ids.Any(special.Contains))
                {
                    Assert.Fail($"case {k}: a special id from the tokenizer");
                }

                EncodedPrompt encoded = encoder.EncodeRaw(prompt, response);
                foreach (EncodedPrompt row in (EncodedPrompt[])[encoded, .. encoded.MoreWindows ?? []])
                {
                    int[] r = row.TokenIds;
                    int firstSep = Array.IndexOf(r, tokenizer.SepId);
                    bool pair = row.TypeIds!.Contains(1);
                    bool ok = r[0] == tokenizer.ClsId && r[^1] == tokenizer.SepId
                        && r.Count(id => id == tokenizer.ClsId) == 1
                        && r.Count(id => id == tokenizer.SepId) == (pair ? 2 : 1)
                        && !r.Contains(tokenizer.PadId) && !r.Contains(tokenizer.MaskId)
                        && (!pair || row.TypeIds![firstSep] == 0 && row.TypeIds[firstSep + 1] == 1);
                    if (!ok)
                    {
                        Assert.Fail($"case {k}: a special id from user text in an encoder row");
                    }
                }
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
