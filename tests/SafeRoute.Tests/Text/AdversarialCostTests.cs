using System.Collections.Concurrent;
using System.Text;
using SafeRoute.Models;
using SafeRoute.Tests.TestModels;
using SafeRoute.Text;
using static SafeRoute.Tests.Text.TextTestSupport;

namespace SafeRoute.Tests.Text;

/// <summary>
/// Issue 14, defect 1: tokenization cost is bounded by the token budget, whatever the input, and cancellation is honoured
/// during encoding. Assertions are on work done (characters handed to BPE, longest piece), never on wall-clock time;
/// timings are in benchmarks/SafeRoute.Benchmarks/AdversarialEncodingBenchmark.cs.
/// </summary>
[TestFixture]
public sealed class AdversarialCostTests
{
    private const string IssueUnit = "////////\u001E";
    private const int Chunk = BoundedPreTokenizer.MaxPieceChars;

    private static readonly ConcurrentDictionary<string, Lazy<PromptEncoder>> Cache = new(StringComparer.Ordinal);

    /// <summary>The issue's input: U+001E is white space for Python's strip but not for the pattern's \s.</summary>
    private static string IssueText(int units) => "x" + Repeat(IssueUnit, units) + "x";

    private static string Repeat(string unit, int count) => new StringBuilder(unit.Length * count).Insert(0, unit, count).ToString();

    private static string Fill(string unit, int chars)
    {
        var b = new StringBuilder(chars + unit.Length);
        while (b.Length < chars)
        {
            b.Append(unit);
        }

        return b.ToString(0, chars);
    }

    /// <summary>The default small guard's template and GPT-2 tokenizer at a chosen context.</summary>
    private static PromptEncoder Gpt2(int maxSequenceLength) => Cache.GetOrAdd($"gpt2|{maxSequenceLength}", _ => new Lazy<PromptEncoder>(() => PromptEncoder.Create(new GuardManifest
    {
        Name = "gpt2-builtin",
        FilePath = "/virtual/saferoute.json",
        Directory = "/virtual",
        MaxSequenceLength = maxSequenceLength,
        Tokenizer = new TokenizerManifest { Kind = "tiktoken", Preset = "gpt2", Builtin = "gpt2" },
        Template = new TemplateManifest
        {
            Kind = "custom",
            PromptOnly = "Task: is the user message safe or unsafe?\nUser: {prompt}\nAnswer:",
            PromptAndResponse = "Task: is the agent reply safe or unsafe?\nUser: {prompt}\nAgent: {response}\nAnswer:",
        },
        Verdict = new VerdictManifest { SafeTokenId = 3338, UnsafeTokenId = 21596, LmHeadRows = "rows.safetensors" },
    }))).Value;

    /// <summary>A plain GPT-2 encoder: template "{prompt}", no stripping.</summary>
    private static PromptEncoder Gpt2Plain() => Cache.GetOrAdd("gpt2plain", _ => new Lazy<PromptEncoder>(() => PromptEncoder.Create(new GuardManifest
    {
        Name = "gpt2-plain",
        FilePath = "/virtual/saferoute.json",
        Directory = "/virtual",
        MaxSequenceLength = 1 << 20,
        Tokenizer = new TokenizerManifest { Kind = "tiktoken", Preset = "gpt2", Builtin = "gpt2" },
        Template = new TemplateManifest { Kind = "custom", PromptOnly = "{prompt}", StripUserText = false },
        Verdict = new VerdictManifest { SafeTokenId = 3338, UnsafeTokenId = 21596, LmHeadRows = "rows.safetensors" },
    }))).Value;

    private static (EncodedPrompt Encoded, long Chars, int Longest) Measure(PromptEncoder encoder, string prompt, string? response = null)
    {
        BoundedPreTokenizer.ResetCharsHandedOut();
        EncodedPrompt encoded = encoder.EncodeRaw(prompt, response);
        return (encoded, BoundedPreTokenizer.CharsHandedOut, BoundedPreTokenizer.LongestPiece);
    }

    /// <summary>The issue's reproduction (128k characters, 4,096-token context): one pattern match of 128k characters.
    /// Before the fix it went to BPE whole (24 s); now in pieces of at most 64 characters, and the characters handed to
    /// BPE are bounded by the budget.</summary>
    [TestCase("llama3")]
    [TestCase("gpt2")]
    public void IssueInput_PiecesAreBounded_AndWorkFollowsTheBudget(string tokenizer)
    {
        PromptEncoder encoder = tokenizer == "gpt2" ? Gpt2(4096) : LlamaGuard("8b");
        string text = IssueText(14_222);
        (EncodedPrompt encoded, long chars, int longest) = Measure(encoder, text);
        TestContext.Out.WriteLine($"{tokenizer}: {text.Length} chars in, {chars} chars to BPE, longest piece {longest}");
        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.True);
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(4096).And.Length.GreaterThan(4096 - 16));
            Assert.That(longest, Is.InRange(1, Chunk));
            Assert.That(chars, Is.InRange(1, 8L * Chunk * 4096));
        });
    }

    /// <summary>GPT-2's <c> ?\p{N}+</c> makes one piece of any digit run (issue: 128k digits took 23.8 s).</summary>
    [Test]
    public void Gpt2DigitRun_IsChunked()
    {
        PromptEncoder encoder = Gpt2(4096);
        (EncodedPrompt encoded, long chars, int longest) = Measure(encoder, Fill("0123456789", 128_000));
        Assert.Multiple(() =>
        {
            Assert.That(encoded.Truncated, Is.True);
            Assert.That(longest, Is.InRange(1, Chunk));
            Assert.That(chars, Is.InRange(1, 8L * Chunk * 4096));
        });
    }

    /// <summary>Ten megabytes of each adversarial class, prompt, response or both: the characters handed to BPE do not
    /// depend on the input's length (the same bound holds for one megabyte and for ten) and stay within a small multiple
    /// of 64 characters per token of context.</summary>
    [TestCase("llama3", "prompt")]
    [TestCase("llama3", "response")]
    [TestCase("llama3", "both")]
    [TestCase("gpt2", "both")]
    public void TenMegabytes_WorkIsBoundedByTheBudget(string tokenizer, string where)
    {
        PromptEncoder encoder = tokenizer == "gpt2" ? Gpt2(4096) : LlamaGuard("8b");
        string[] units = ["/", "\u001E", "////////\u001E", "7", "a", " ", "x ", "\u4E2D", "\U0001F600", "\u0301", "\uE000", "\t\u001C", "a1", "\uD800"];
        foreach (string unit in units)
        {
            string text = Fill(unit, 10 << 20);
            string prompt = where == "response" ? "Is this safe?" : text;
            string? response = where == "prompt" ? null : text;
            (EncodedPrompt encoded, long chars, int longest) = Measure(encoder, prompt, response);
            Assert.Multiple(() =>
            {
                Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(encoder.MaxSequenceLength), $"U+{(int)unit[0]:X4}");
                Assert.That(longest, Is.InRange(1, Chunk), $"U+{(int)unit[0]:X4}");
                Assert.That(chars, Is.LessThanOrEqualTo(8L * Chunk * encoder.MaxSequenceLength), $"U+{(int)unit[0]:X4}: {chars} characters to BPE");
            });
        }
    }

    /// <summary>The work of one encoding does not depend on the input's length: 1 MB and 10 MB of each class (the same
    /// ends, as the lengths are multiples of the unit) walk exactly as many piece characters and byte-pair encode exactly
    /// as many, as prompt, response or both.</summary>
    [TestCase("prompt")]
    [TestCase("response")]
    [TestCase("both")]
    public void TenMegabytes_DoTheSameWorkAsOneMegabyte(string where)
    {
        PromptEncoder encoder = LlamaGuard("8b");
        string[] units = ["\u2026", "+", "~", "/", "0123456789", "////////\u001E", "a", "x ", "\u4E2D", "\U0001F600", "\u0301", "/\t\u001C"];
        foreach (string unit in units)
        {
            (long Walked, long Encoded) Work(int chars)
            {
                string text = Fill(unit, chars);
                (EncodedPrompt encoded, long encodedChars, _) = Measure(encoder, where == "response" ? "Is this safe?" : text, where == "prompt" ? null : text);
                Assert.That(encoded.Truncated, Is.True);
                return (BoundedPreTokenizer.PieceChars, encodedChars);
            }

            (long Walked, long Encoded) small = Work(1_000_000);
            (long Walked, long Encoded) large = Work(10_000_000);
            Assert.Multiple(() =>
            {
                Assert.That(large, Is.EqualTo(small), $"U+{(int)unit[0]:X4}: (piece characters walked, characters byte-pair encoded)");
                Assert.That(large.Walked, Is.LessThanOrEqualTo(8L * Chunk * encoder.MaxSequenceLength), $"U+{(int)unit[0]:X4}");
            });
        }
    }

    /// <summary>Runs of long-token symbols (a 64-character piece of U+2026 is 192 UTF-8 bytes and 4 tokens) repeat the
    /// same few pieces: each is byte-pair encoded once per call, not once per occurrence (before the per-call piece
    /// cache, a 32k-token budget of U+2026 byte-pair encoded about 2.5 million characters and took seconds).</summary>
    [TestCase("llama3", "\u2026")]
    [TestCase("llama3", "+")]
    [TestCase("llama3", "~")]
    [TestCase("llama3", "/")]
    [TestCase("gpt2", "\u2026")]
    [TestCase("gpt2", "0123456789")]
    public void LongTokenRuns_EachDistinctPieceIsEncodedOnce(string tokenizer, string unit)
    {
        PromptEncoder encoder = tokenizer == "gpt2" ? Gpt2(32768) : LlamaGuard("8b", maxSequenceLength: 32768);
        string text = Fill(unit, 10 << 20);
        (EncodedPrompt encoded, long chars, _) = Measure(encoder, text, text);
        long walked = BoundedPreTokenizer.PieceChars;
        TestContext.Out.WriteLine($"U+{(int)unit[0]:X4}: {walked} piece characters walked, {chars} byte-pair encoded");
        Assert.Multiple(() =>
        {
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(32768).And.Length.GreaterThan(32000));
            Assert.That(walked, Is.GreaterThan(100_000), "the budget's pieces are walked");
            Assert.That(chars, Is.LessThanOrEqualTo(64L * Chunk), "only a few distinct pieces are byte-pair encoded");
        });
    }

    /// <summary>Non-repeating runs of long-token symbols defeat the cache; the characters byte-pair encoded stay within
    /// the budget's bound and do not grow with the input (1 MB vs 10 MB of the same seeded text around the same ends).</summary>
    [Test]
    public void RandomLongTokenSymbols_EncodedCharactersFollowTheBudget()
    {
        PromptEncoder encoder = LlamaGuard("8b", maxSequenceLength: 8192);
        string head = RandomSymbols(300_000, seed: 1);
        string tail = RandomSymbols(300_000, seed: 2);
        long Encoded(int middle)
        {
            (EncodedPrompt encoded, long chars, _) = Measure(encoder, head + RandomSymbols(middle, seed: 3) + tail);
            Assert.That(encoded.TokenIds, Has.Length.LessThanOrEqualTo(8192));
            return chars;
        }

        long small = Encoded(400_000);
        long large = Encoded(9_400_000);
        Assert.Multiple(() =>
        {
            Assert.That(large, Is.EqualTo(small));
            Assert.That(large, Is.LessThanOrEqualTo(3L * Chunk * 8192));
        });
    }

    /// <summary>Seeded runs of 1–39 copies of long-token symbols: one giant pattern match whose 64-character pieces differ.</summary>
    private static string RandomSymbols(int chars, int seed)
    {
        var random = new Random(seed);
        string[] units = ["\u2026", "+", "~", "/", "-", "="];
        var b = new StringBuilder(chars + 64);
        while (b.Length < chars)
        {
            b.Append(units[random.Next(units.Length)][0], random.Next(1, 40));
        }

        return b.ToString(0, chars);
    }

    /// <summary>Cancellation is checked before every piece, cached or not: a token cancelled (by the piece hook) once a
    /// megabyte of a 10 MB run of U+2026 has been walked ends the call at the next piece.</summary>
    [Test]
    public void Cancellation_DuringCachedPieces_StopsAtTheNextPiece()
    {
        PromptEncoder encoder = LlamaGuard("8b", maxSequenceLength: 131072);
        string text = Fill("\u2026", 10 << 20);
        using var cts = new CancellationTokenSource();
        BoundedPreTokenizer.ResetCharsHandedOut();
        BoundedPreTokenizer.PieceHook = walked =>
        {
            if (walked >= 1 << 20)
            {
                cts.Cancel();
            }
        };
        try
        {
            Assert.Throws<OperationCanceledException>(() => encoder.EncodeRaw(text, text, cts.Token));
        }
        finally
        {
            BoundedPreTokenizer.PieceHook = null;
        }

        Assert.That(BoundedPreTokenizer.PieceChars, Is.InRange(1L << 20, (1L << 20) + Chunk), "stopped at the piece that saw the cancellation");
    }

    /// <summary>The documented rule: a pattern match longer than 64 characters is tokenized as consecutive 64-character
    /// chunks (a chunk never ends between the halves of a surrogate pair); shorter matches are untouched.</summary>
    [TestCase("////////\u001E", 300)]
    [TestCase("/", 200)]
    [TestCase("/\U0001F600\U0001F600", 201)]
    [TestCase("-", 64)]
    public void LongMatch_TokenizesAsSixtyFourCharacterChunks(string unit, int length)
    {
        PromptEncoder plain = Plain();
        string text = Fill(unit, length);
        var expected = new List<int>();
        int at = 0;
        while (at < text.Length)
        {
            int piece = Math.Min(Chunk, text.Length - at);
            if (at + piece < text.Length && char.IsHighSurrogate(text[at + piece - 1]))
            {
                piece--;
            }

            expected.AddRange(plain.EncodeRaw(text.Substring(at, piece), null).TokenIds);
            at += piece;
        }

        Assert.That(plain.EncodeRaw(text, null).TokenIds, Is.EqualTo(expected));
    }

    /// <summary>GPT-2: a digit run is one match; it is tokenized as 64-digit chunks.</summary>
    [Test]
    public void Gpt2LongNumber_TokenizesAsSixtyFourDigitChunks()
    {
        PromptEncoder plain = Gpt2Plain();
        string digits = Fill("31415926535897932384626433832795", 150);
        int[] expected = [.. plain.EncodeRaw(digits[..64], null).TokenIds, .. plain.EncodeRaw(digits[64..128], null).TokenIds, .. plain.EncodeRaw(digits[128..], null).TokenIds];
        Assert.That(plain.EncodeRaw(digits, null).TokenIds, Is.EqualTo(expected));
    }

    /// <summary>Over-long input: the ids are the documented head + marker + tail, whatever the input length beyond the
    /// windows (the same ids for 200 kB and for 10 MB of the same filler around the same ends).</summary>
    [Test]
    public void OverLongInput_IdsDoNotDependOnTheHiddenMiddle()
    {
        PromptEncoder encoder = LlamaGuard("1b", maxSequenceLength: 1024);
        string head = "Alpha beginning of the prompt. ";
        string tail = " The prompt ends here, Omega.";
        int[] a = encoder.EncodeRaw(head + Repeat("lorem ipsum dolor sit amet ", 8_000) + tail, null).TokenIds;
        int[] b = encoder.EncodeRaw(head + Repeat("lorem ipsum dolor sit amet ", 400_000) + tail, null).TokenIds;
        int[] marker = Plain().EncodeRaw(PromptEncoder.TruncationMarker, null).TokenIds;
        Assert.Multiple(() =>
        {
            Assert.That(a, Has.Length.LessThanOrEqualTo(1024).And.Length.GreaterThan(1000));
            Assert.That(ContainsSequence(a, marker), Is.True);
            Assert.That(b[..200], Is.EqualTo(a[..200]), "same head");
            Assert.That(b[^200..], Is.EqualTo(a[^200..]), "same tail");
        });
    }

    /// <summary>Text that fits is encoded exactly as before: the same ids as the one-pass render, not truncated, even when
    /// it is near the limit and its first render stops early for an over-long text.</summary>
    [Test]
    public void WithinBudget_Unchanged()
    {
        PromptEncoder full = LlamaGuard("8b");
        string prompt = Fill("Bread needs flour, water, salt and time. ", 6000);
        EncodedPrompt reference = full.EncodeRaw(prompt, null);
        PromptEncoder exact = LlamaGuard("8b", maxSequenceLength: reference.TokenIds.Length);
        EncodedPrompt fits = exact.EncodeRaw(prompt, null);
        EncodedPrompt over = LlamaGuard("8b", maxSequenceLength: reference.TokenIds.Length - 1).EncodeRaw(prompt, null);
        Assert.Multiple(() =>
        {
            Assert.That(reference.Truncated, Is.False);
            Assert.That(fits.Truncated, Is.False);
            Assert.That(fits.TokenIds, Is.EqualTo(reference.TokenIds));
            Assert.That(over.Truncated, Is.True);
        });
    }

    /// <summary>A token cancelled while encoding runs (from a hook called before each piece) ends the call at the next
    /// piece: one piece of work, not the whole input.</summary>
    [Test]
    public void Cancellation_DuringEncoding_StopsAtTheNextPiece()
    {
        PromptEncoder encoder = LlamaGuard("8b");
        string text = IssueText(14_222);
        using var cts = new CancellationTokenSource();
        BoundedPreTokenizer.ResetCharsHandedOut();
        BoundedPreTokenizer.PieceHook = _ => cts.Cancel();
        try
        {
            Assert.Throws<OperationCanceledException>(() => encoder.EncodeRaw(text, null, cts.Token));
        }
        finally
        {
            BoundedPreTokenizer.PieceHook = null;
        }

        Assert.That(BoundedPreTokenizer.CharsHandedOut, Is.LessThanOrEqualTo(Chunk), "cancelled before BPE saw a second piece");

        // The encoder is reusable afterwards.
        Assert.That(encoder.EncodeRaw("hello", null).TokenIds, Is.Not.Empty);
    }

    [Test]
    public void Cancellation_BeforeEncoding_DoesNoWork()
    {
        PromptEncoder encoder = LlamaGuard("8b");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        BoundedPreTokenizer.ResetCharsHandedOut();
        Assert.Throws<OperationCanceledException>(() => encoder.EncodeRaw(IssueText(1000), null, cts.Token));
        Assert.That(BoundedPreTokenizer.CharsHandedOut, Is.Zero);
    }

    /// <summary>The guard passes its caller's token to the encoder (issue: a token cancelled at 0.5 s took effect at 6.1 s).</summary>
    [Test]
    public void Guard_EvaluateAsync_CancelledDuringEncoding_Throws()
    {
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(Gpt2DecoderGuard.Path, new GuardModelOptions { MaxSequenceLength = 4096 });
        using var cts = new CancellationTokenSource();
        BoundedPreTokenizer.ResetCharsHandedOut();
        BoundedPreTokenizer.PieceHook = _ => cts.Cancel();
        try
        {
            Assert.That(async () => await guard.EvaluateAsync(new SafetyRequest(IssueText(14_222)), cts.Token), Throws.InstanceOf<OperationCanceledException>());
        }
        finally
        {
            BoundedPreTokenizer.PieceHook = null;
        }

        Assert.That(BoundedPreTokenizer.CharsHandedOut, Is.LessThanOrEqualTo(Chunk));
    }
}
