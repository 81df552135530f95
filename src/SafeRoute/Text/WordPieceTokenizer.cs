using System.Globalization;
using System.Text;

namespace SafeRoute.Text;

/// <summary>
/// BERT WordPiece tokenization with Hugging Face's semantics (transformers <c>BertTokenizer</c>; tokenizers
/// <c>BertNormalizer</c> + <c>BertPreTokenizer</c> + <c>WordPiece</c>), without special tokens: user text never yields
/// <c>[CLS]</c>, <c>[SEP]</c>, <c>[PAD]</c> or <c>[MASK]</c> (<c>"[SEP]"</c> is <c>[</c>, <c>sep</c>, <c>]</c>).
/// </summary>
/// <remarks>
/// <para><b>Steps</b>, per Unicode code point (a surrogate pair is one character):</para>
/// <list type="number">
/// <item>clean_text: U+0000, U+FFFD and every character whose general category starts with C (control, format — the
/// zero-width characters and the BOM —, private use, surrogate, unassigned) are deleted, except tab, LF and CR;
/// tab, LF, CR and the separators (Zs, Zl, Zp) end a word. (Hugging Face's Python splits with <c>str.split()</c>, which
/// splits at U+2028 and U+2029 too; the Rust normalizer maps them to a space.)</item>
/// <item>CJK ideographs (the code-point ranges of Hugging Face's <c>_is_chinese_char</c>, including the astral
/// extensions B–F and the compatibility supplement) are words of their own.</item>
/// <item>When <see cref="LowerCase"/> is set: Python's <c>str.lower()</c> (the simple lower-case mapping, U+0130 to
/// <c>i</c> + U+0307, and capital sigma to final sigma ς where Unicode's Final_Sigma condition holds within the
/// whitespace-delimited token), then NFD, then every nonspacing mark (Mn) is deleted — Python's order.</item>
/// <item>Punctuation (ASCII 33–47, 58–64, 91–96, 123–126, or a general category starting with P) is a word of its
/// own.</item>
/// <item>WordPiece: greedy longest match first, <c>##</c> for a continuation; a word with no segmentation, or longer
/// than <see cref="MaxInputCharsPerWord"/> code points, is <c>[UNK]</c>.</item>
/// </list>
/// <para><b>Bounded cost.</b> The text is scanned once, word by word; <see cref="Encode(string, List{int}, int, CancellationToken)"/>
/// returns as soon as its budget is spent. Every word that is looked up appends at least one id, and a word costs at
/// most <c>min(100, L)</c> look-ups per code point (L: the longest vocabulary entry), so the WordPiece work is bounded by
/// the budget; a word past 100 code points is <c>[UNK]</c> after a scan, without look-ups. Normalisation is per code
/// point (a BMP cache of folded characters; the nonspacing marks NFD would reorder are deleted, and the 25 spacing
/// marks with a non-zero combining class are reordered in the word buffer), so nothing is allocated per call beyond the
/// output list.</para>
/// <para><b>Not done.</b> Recent transformers versions apply NFC to the whole text before BasicTokenizer's other steps;
/// the Rust tokenizers library and transformers.js do not, and neither does this class (it differs from NFC-first
/// only for exotic sequences whose NFC composition lower-cases differently). The Unicode data are .NET's.</para>
/// <para>Instances are immutable after <see cref="Load(Stream, bool)"/> and safe to share between threads.</para>
/// </remarks>
internal sealed class WordPieceTokenizer
{
    /// <summary>Hugging Face's <c>max_input_chars_per_word</c>: a longer word (in code points, after normalisation) is <c>[UNK]</c>.</summary>
    public const int MaxInputCharsPerWord = 100;

    /// <summary>The continuation prefix.</summary>
    private const string ContinuationPrefix = "##";

    /// <summary>Code points scanned between two cancellation checks inside one long word.</summary>
    private const int CancellationInterval = 4096;

    /// <summary>Word buffer: two prefix slots plus (100 + 1) code points of up to two UTF-16 units.</summary>
    private const int WordBufferLength = 2 + (2 * (MaxInputCharsPerWord + 1));

    /// <summary>
    /// Folded BMP characters (lower-case, NFD, nonspacing marks deleted), filled on first use. Races are benign: every
    /// thread computes the same immutable string and a reference write is atomic.
    /// </summary>
    private static readonly string?[] FoldedBmp = new string?[0x10000];

    /// <summary>
    /// Astral code points whose fold is known to be themselves (1) or not (2); 0: not yet computed. One byte per code
    /// point (1 MiB), allocated at the first astral character; races are benign.
    /// </summary>
    private static byte[]? s_astralIdentity;

    private readonly Dictionary<string, int> _vocab;
    private readonly SpanLookup _lookup;

    /// <summary>The longest entry that starts a word, and the longest continuation after <c>##</c>, in UTF-16 units.</summary>
    private readonly int _longestStart;
    private readonly int _longestContinuation;

    private WordPieceTokenizer(Dictionary<string, int> vocab, int size, bool lowerCase)
    {
        _vocab = vocab;
        _lookup = new SpanLookup(vocab);
        VocabularySize = size;
        LowerCase = lowerCase;
        foreach (string token in vocab.Keys)
        {
            if (token.StartsWith(ContinuationPrefix, StringComparison.Ordinal))
            {
                _longestContinuation = Math.Max(_longestContinuation, token.Length - ContinuationPrefix.Length);
            }
            else
            {
                _longestStart = Math.Max(_longestStart, token.Length);
            }
        }

        ClsId = Special("[CLS]");
        SepId = Special("[SEP]");
        PadId = Special("[PAD]");
        UnkId = Special("[UNK]");
        MaskId = vocab.TryGetValue("[MASK]", out int mask) ? mask : -1;

        int Special(string token) => vocab.TryGetValue(token, out int id)
            ? id
            : throw new InvalidDataException($"The WordPiece vocabulary has no '{token}' line.");
    }

    /// <summary>The id of <c>[CLS]</c>.</summary>
    public int ClsId { get; }

    /// <summary>The id of <c>[SEP]</c>.</summary>
    public int SepId { get; }

    /// <summary>The id of <c>[PAD]</c>.</summary>
    public int PadId { get; }

    /// <summary>The id of <c>[UNK]</c>.</summary>
    public int UnkId { get; }

    /// <summary>The id of <c>[MASK]</c>, or -1 when the vocabulary has none.</summary>
    public int MaskId { get; }

    /// <summary>The number of lines of the vocabulary (ids are line numbers, 0 to this − 1).</summary>
    public int VocabularySize { get; }

    /// <summary>Whether text is lower-cased and its accents stripped (uncased models).</summary>
    public bool LowerCase { get; }

    /// <summary>Test hook: called after each word's ids are appended (never set in production).</summary>
    internal Action? AfterWord { get; set; }

    /// <summary>Reads a BERT <c>vocab.txt</c> (UTF-8, one token per line, the id is the line number).</summary>
    /// <param name="vocabPath">The file.</param>
    /// <param name="lowerCase">Lower-case and strip accents (uncased models).</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="InvalidDataException">The vocabulary lacks <c>[CLS]</c>, <c>[SEP]</c>, <c>[PAD]</c> or <c>[UNK]</c>.</exception>
    public static WordPieceTokenizer Load(string vocabPath, bool lowerCase)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabPath);
        using FileStream stream = File.OpenRead(vocabPath);
        return Load(stream, lowerCase);
    }

    /// <summary>Reads a BERT <c>vocab.txt</c> from a stream (UTF-8, one token per line, the id is the line number).</summary>
    /// <param name="vocab">The stream; read to its end, not disposed.</param>
    /// <param name="lowerCase">Lower-case and strip accents (uncased models).</param>
    /// <returns>The tokenizer.</returns>
    /// <remarks>Lines end at LF, CR LF or CR (Python's universal newlines); a leading byte-order mark is skipped. A token
    /// listed twice keeps its last id, as in Hugging Face's <c>load_vocab</c>.</remarks>
    /// <exception cref="InvalidDataException">The vocabulary lacks <c>[CLS]</c>, <c>[SEP]</c>, <c>[PAD]</c> or <c>[UNK]</c>.</exception>
    public static WordPieceTokenizer Load(Stream vocab, bool lowerCase)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        var tokens = new Dictionary<string, int>(StringComparer.Ordinal);
        using var reader = new StreamReader(vocab, new UTF8Encoding(false, true), detectEncodingFromByteOrderMarks: true, leaveOpen: true);
        int id = 0;
        while (reader.ReadLine() is { } line)
        {
            tokens[line] = id++;
        }

        return new WordPieceTokenizer(tokens, id, lowerCase);
    }

    /// <summary>The id of a vocabulary entry (for example <c>"##ing"</c>), or -1.</summary>
    /// <param name="token">The entry.</param>
    /// <returns>Its id, or -1 when the vocabulary has none.</returns>
    public int IdOf(string token) => _vocab.TryGetValue(token, out int id) ? id : -1;

    /// <summary>Tokenizes <paramref name="text"/> and appends at most <paramref name="maxTokens"/> ids (no special tokens).</summary>
    /// <param name="text">The text.</param>
    /// <param name="output">Receives the ids.</param>
    /// <param name="maxTokens">The budget: scanning stops as soon as this many ids are appended.</param>
    /// <param name="cancellationToken">Checked after every word and every 4096 code points of a long word.</param>
    /// <returns>The number of ids appended.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public int Encode(string text, List<int> output, int maxTokens, CancellationToken cancellationToken) =>
        Encode(text, output, maxTokens, cancellationToken, out _);

    /// <summary>As <see cref="Encode(string, List{int}, int, CancellationToken)"/>, and reports the work done.</summary>
    /// <param name="text">The text.</param>
    /// <param name="output">Receives the ids.</param>
    /// <param name="maxTokens">The budget.</param>
    /// <param name="cancellationToken">Checked after every word and every 4096 code points of a long word.</param>
    /// <param name="work">The code points examined, the words tokenized and the vocabulary look-ups made.</param>
    /// <returns>The number of ids appended.</returns>
    internal int Encode(string text, List<int> output, int maxTokens, CancellationToken cancellationToken, out WordPieceWork work)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(output);
        cancellationToken.ThrowIfCancellationRequested();
        work = default;
        if (maxTokens <= 0 || text.Length == 0)
        {
            return 0;
        }

        Span<char> buffer = stackalloc char[WordBufferLength];
        Span<char> folded = stackalloc char[32];
        Span<int> pieces = stackalloc int[MaxInputCharsPerWord];
        var word = new Word(buffer);
        int start = output.Count;
        int budgetEnd = start + maxTokens;
        bool lower = LowerCase;
        bool afterCased = false;
        int sinceCheck = 0;
        int i = 0;
        while (i < text.Length)
        {
            if (++sinceCheck >= CancellationInterval)
            {
                sinceCheck = 0;
                cancellationToken.ThrowIfCancellationRequested();
            }

            char ch = text[i];
            if (char.IsAsciiLetterOrDigit(ch))
            {
                // Fast path: an ASCII letter or digit is a word character, cased when a letter, never case-ignorable.
                if (word.CodePoints > MaxInputCharsPerWord)
                {
                    // Past the length limit only the count matters: skip the run (at most one cancellation interval).
                    int end = Math.Min(text.Length, i + CancellationInterval);
                    int j = i + 1;
                    while (j < end && char.IsAsciiLetterOrDigit(text[j]))
                    {
                        j++;
                    }

                    afterCased = char.IsAsciiLetter(text[j - 1]);
                    word.Skip(j - i);
                    work.CodePoints += j - i;
                    sinceCheck += j - i;
                    i = j;
                    continue;
                }

                i++;
                work.CodePoints++;
                word.Append(lower && char.IsAsciiLetterUpper(ch) ? ch + 32 : ch, 0);
                afterCased = char.IsAsciiLetter(ch);
                continue;
            }

            int cp = ReadCodePoint(text, i, out int units);
            i += units;
            work.CodePoints++;
            CharClass kind = Classify(cp);
            if (kind == CharClass.Removed)
            {
                continue;
            }

            if (kind == CharClass.Separator)
            {
                afterCased = false;
                if (Flush(ref word, pieces, output, budgetEnd, ref work, cancellationToken))
                {
                    break;
                }

                continue;
            }

            if (kind == CharClass.Cjk)
            {
                afterCased = false;
                if (Flush(ref word, pieces, output, budgetEnd, ref work, cancellationToken))
                {
                    break;
                }

                int n = lower ? Fold(cp, folded) : WriteCodePoint(cp, folded);
                for (int k = 0; k < n; k += char.IsHighSurrogate(folded[k]) ? 2 : 1)
                {
                    word.Append(ReadCodePoint(folded, k), 0);
                }

                if (Flush(ref word, pieces, output, budgetEnd, ref work, cancellationToken))
                {
                    break;
                }

                continue;
            }

            int length;
            if (!lower)
            {
                length = WriteCodePoint(cp, folded);
            }
            else if (cp == 0x03A3)
            {
                // Python's str.lower(): Σ is ς after a cased letter (case-ignorable characters skipped) when no cased
                // letter follows (case-ignorable characters skipped) within the whitespace-delimited token.
                folded[0] = afterCased && !CasedLetterFollows(text, i) ? '\u03C2' : '\u03C3';
                length = 1;
            }
            else
            {
                length = Fold(cp, folded);
            }

            if (lower && !IsCaseIgnorable(cp))
            {
                afterCased = IsCased(cp);
            }

            bool stop = false;
            for (int k = 0; k < length && !stop; k += char.IsHighSurrogate(folded[k]) ? 2 : 1)
            {
                int c = ReadCodePoint(folded, k);
                if (IsPunctuation(c))
                {
                    stop = Flush(ref word, pieces, output, budgetEnd, ref work, cancellationToken);
                    if (!stop)
                    {
                        word.Append(c, 0);
                        stop = Flush(ref word, pieces, output, budgetEnd, ref work, cancellationToken);
                    }
                }
                else
                {
                    word.Append(c, lower ? CombiningClassOfSpacingMark(c) : 0);
                }
            }

            if (stop)
            {
                break;
            }
        }

        if (output.Count < budgetEnd)
        {
            Flush(ref word, pieces, output, budgetEnd, ref work, cancellationToken);
        }

        return output.Count - start;
    }

    /// <summary>Tokenizes the buffered word (if any) and empties the buffer.</summary>
    /// <returns><see langword="true"/> when the budget is spent.</returns>
    private bool Flush(ref Word word, Span<int> pieces, List<int> output, int budgetEnd, ref WordPieceWork work, CancellationToken cancellationToken)
    {
        if (word.CodePoints == 0)
        {
            return false;
        }

        work.Words++;
        if (word.CodePoints > MaxInputCharsPerWord)
        {
            output.Add(UnkId);
        }
        else
        {
            int count = Segment(word.Buffer, word.Units, pieces, ref work);
            if (count < 0)
            {
                output.Add(UnkId);
            }
            else
            {
                for (int k = 0; k < count && output.Count < budgetEnd; k++)
                {
                    output.Add(pieces[k]);
                }
            }
        }

        word.Clear();
        AfterWord?.Invoke();
        cancellationToken.ThrowIfCancellationRequested();
        return output.Count >= budgetEnd;
    }

    /// <summary>
    /// Greedy longest-match-first WordPiece over <c>buffer[2..2+units]</c>. Each continuation look-up writes <c>##</c> over
    /// the two UTF-16 units before its start (already consumed, or the two prefix slots).
    /// </summary>
    /// <returns>The number of pieces, or -1 when the word has no segmentation.</returns>
    private int Segment(Span<char> buffer, int units, Span<int> pieces, ref WordPieceWork work)
    {
        int count = 0;
        int start = 0;
        while (start < units)
        {
            int longest = start == 0 ? _longestStart : _longestContinuation;
            int end = Math.Min(units, start + longest);
            int id = -1;
            while (end > start)
            {
                if (end < units && char.IsLowSurrogate(buffer[2 + end]))
                {
                    end--;
                    continue;
                }

                ReadOnlySpan<char> key;
                if (start == 0)
                {
                    key = buffer[2..(2 + end)];
                }
                else
                {
                    buffer[start] = '#';
                    buffer[start + 1] = '#';
                    key = buffer[start..(2 + end)];
                }

                work.Lookups++;
                if (_lookup.TryGetValue(key, out id))
                {
                    break;
                }

                id = -1;
                end--;
            }

            if (id < 0)
            {
                return -1;
            }

            pieces[count++] = id;
            start = end;
        }

        return count;
    }

    /// <summary>Python <c>str.lower()</c>, NFD and deletion of nonspacing marks, for one code point other than Σ.</summary>
    /// <param name="cp">The code point.</param>
    /// <param name="destination">Receives the folded characters (32 UTF-16 units suffice).</param>
    /// <returns>The number of UTF-16 units written to <paramref name="destination"/>.</returns>
    internal static int Fold(int cp, Span<char> destination)
    {
        if (cp < 0x80)
        {
            destination[0] = (char)(cp is >= 'A' and <= 'Z' ? cp + 32 : cp);
            return 1;
        }

        if (cp < 0x10000)
        {
            string? cached = FoldedBmp[cp];
            if (cached is null)
            {
                Span<char> scratch = stackalloc char[32];
                cached = new string(scratch[..FoldUncached(cp, scratch)]);
                FoldedBmp[cp] = cached;
            }

            cached.AsSpan().CopyTo(destination);
            return cached.Length;
        }

        byte[] identity = s_astralIdentity ??= new byte[0x100000];
        int slot = cp - 0x10000;
        if (identity[slot] == 1)
        {
            return WriteCodePoint(cp, destination);
        }

        int n = FoldUncached(cp, destination);
        identity[slot] = n == 2 && ReadCodePoint(destination, 0) == cp ? (byte)1 : (byte)2;
        return n;
    }

    private static int FoldUncached(int cp, Span<char> destination)
    {
        Span<char> lowered = stackalloc char[4];
        int length;
        if (cp == 0x0130)
        {
            // The one unconditional multi-character lower-case mapping (SpecialCasing.txt): İ → i + combining dot above.
            lowered[0] = 'i';
            lowered[1] = '\u0307';
            length = 2;
        }
        else
        {
            length = Rune.ToLowerInvariant(new Rune(cp)).EncodeToUtf16(lowered);
        }

#if NET10_0_OR_GREATER
        Span<char> decomposed = stackalloc char[32];
        if (!lowered[..length].TryNormalize(decomposed, out int written, NormalizationForm.FormD))
        {
            written = length;
            lowered[..length].CopyTo(decomposed);
        }
#else
        ReadOnlySpan<char> decomposed = new string(lowered[..length]).Normalize(NormalizationForm.FormD);
        int written = decomposed.Length;
#endif

        int n = 0;
        for (int k = 0; k < written; k += char.IsHighSurrogate(decomposed[k]) ? 2 : 1)
        {
            int c = ReadCodePoint(decomposed, k);
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark)
            {
                n += WriteCodePoint(c, destination[n..]);
            }
        }

        return n;
    }

    /// <summary>
    /// Whether, after position <paramref name="index"/> and skipping deleted and case-ignorable characters, the token
    /// continues with a cased character (Unicode's Final_Sigma condition, second half). White space, a CJK ideograph or
    /// the end of the text stop the scan: none is cased.
    /// </summary>
    private static bool CasedLetterFollows(string text, int index)
    {
        while (index < text.Length)
        {
            int cp = ReadCodePoint(text, index, out int units);
            index += units;
            CharClass kind = Classify(cp);
            if (kind == CharClass.Removed || IsCaseIgnorable(cp))
            {
                continue;
            }

            return kind == CharClass.Other && IsCased(cp);
        }

        return false;
    }

    private enum CharClass : byte
    {
        /// <summary>Deleted by clean_text.</summary>
        Removed,

        /// <summary>White space: ends a word.</summary>
        Separator,

        /// <summary>A CJK ideograph: a word of its own.</summary>
        Cjk,

        /// <summary>Anything else (punctuation is decided after folding).</summary>
        Other,
    }

    private static CharClass Classify(int cp)
    {
        if (cp < 0x80)
        {
            return cp switch
            {
                ' ' or '\t' or '\n' or '\r' => CharClass.Separator,
                < 0x20 or 0x7F => CharClass.Removed,
                _ => CharClass.Other,
            };
        }

        if (cp == 0xFFFD)
        {
            return CharClass.Removed;
        }

        if (IsCjk(cp))
        {
            return CharClass.Cjk;
        }

        return CharUnicodeInfo.GetUnicodeCategory(cp) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned => CharClass.Removed,
            UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => CharClass.Separator,
            _ => CharClass.Other,
        };
    }

    /// <summary>Hugging Face's <c>_is_chinese_char</c> ranges.</summary>
    private static bool IsCjk(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    /// <summary>Hugging Face's <c>_is_punctuation</c>: the ASCII non-alphanumerics, or a general category starting with P.</summary>
    private static bool IsPunctuation(int cp)
    {
        if (cp < 0x80)
        {
            return cp is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126);
        }

        return CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>Unicode's Cased property (Lu, Ll, Lt, Other_Lowercase, Other_Uppercase) for characters that are not case-ignorable.</summary>
    private static bool IsCased(int cp) =>
        CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            || cp is 0xAA or 0xBA or (>= 0x2160 and <= 0x217F) or (>= 0x24B6 and <= 0x24E9)
                or (>= 0x1F130 and <= 0x1F149) or (>= 0x1F150 and <= 0x1F169) or (>= 0x1F170 and <= 0x1F189);

    /// <summary>Unicode's Case_Ignorable property: Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter, MidNumLet or Single_Quote.</summary>
    private static bool IsCaseIgnorable(int cp) =>
        cp is 0x27 or 0x2E or 0x3A or 0xB7 or 0x387 or 0x55F or 0x5F4 or 0x2018 or 0x2019 or 0x2024 or 0x2027 or 0xFE13
            or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A
        || CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark
            or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;

    /// <summary>
    /// The canonical combining class of the spacing marks (Mc) that have a non-zero one: after the nonspacing marks are
    /// deleted these are the only characters NFD's canonical ordering can move (Unicode 14 data; 0 for everything else).
    /// </summary>
    private static int CombiningClassOfSpacingMark(int cp) => cp switch
    {
        < 0x1715 => 0,
        0x1715 or 0x1734 or 0x1B44 or 0x1BAA or 0x1BF2 or 0x1BF3 or 0xA953 or 0xA9C0 or 0x111C0 or 0x11235 or 0x1134D
            or 0x116B6 or 0x1193D => 9,
        0x302E or 0x302F => 224,
        0x16FF0 or 0x16FF1 => 6,
        0x1D165 or 0x1D166 or 0x1D16E or 0x1D16F or 0x1D170 or 0x1D171 or 0x1D172 => 216,
        0x1D16D => 226,
        _ => 0,
    };

    /// <summary>The code point at <paramref name="index"/>; a lone surrogate is returned as itself (category Cs).</summary>
    private static int ReadCodePoint(ReadOnlySpan<char> text, int index, out int units)
    {
        char c = text[index];
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            units = 2;
            return char.ConvertToUtf32(c, text[index + 1]);
        }

        units = 1;
        return c;
    }

    private static int ReadCodePoint(ReadOnlySpan<char> text, int index) => ReadCodePoint(text, index, out _);

    private static int WriteCodePoint(int cp, Span<char> destination)
    {
        if (cp < 0x10000)
        {
            destination[0] = (char)cp;
            return 1;
        }

        cp -= 0x10000;
        destination[0] = (char)(0xD800 + (cp >> 10));
        destination[1] = (char)(0xDC00 + (cp & 0x3FF));
        return 2;
    }

    /// <summary>The word being built: up to 101 code points after the two prefix slots; past that only counted.</summary>
    private ref struct Word
    {
        public Word(Span<char> buffer) => Buffer = buffer;

        public Span<char> Buffer { get; }

        /// <summary>UTF-16 units stored (after the two prefix slots).</summary>
        public int Units { get; private set; }

        /// <summary>Code points in the word (counted past the buffer).</summary>
        public int CodePoints { get; private set; }

        public void Append(int cp, int combiningClass)
        {
            CodePoints++;
            if (CodePoints > MaxInputCharsPerWord)
            {
                return;
            }

            int at = 2 + Units;
            Units += WriteCodePoint(cp, Buffer[at..]);
            if (combiningClass == 0)
            {
                return;
            }

            // Canonical ordering: move the mark before preceding marks of a higher combining class (stable).
            int width = cp < 0x10000 ? 1 : 2;
            Span<char> swap = stackalloc char[4];
            while (at > 2)
            {
                int previousStart = char.IsLowSurrogate(Buffer[at - 1]) && at - 2 >= 2 ? at - 2 : at - 1;
                int previous = ReadCodePoint(Buffer, previousStart);
                if (CombiningClassOfSpacingMark(previous) <= combiningClass)
                {
                    break;
                }

                int previousWidth = at - previousStart;
                Buffer.Slice(previousStart, previousWidth + width).CopyTo(swap);
                swap.Slice(previousWidth, width).CopyTo(Buffer[previousStart..]);
                swap[..previousWidth].CopyTo(Buffer[(previousStart + width)..]);
                at = previousStart;
            }
        }

        /// <summary>Counts <paramref name="count"/> more code points of a word already past the limit.</summary>
        public void Skip(int count) => CodePoints += count;

        public void Clear()
        {
            Units = 0;
            CodePoints = 0;
        }
    }
}

/// <summary>
/// A read-only string-to-id table looked up by <see cref="ReadOnlySpan{T}"/> without allocating (net8.0 has no
/// dictionary alternate lookup). Separate chaining over arrays; built once.
/// </summary>
internal sealed class SpanLookup
{
    private readonly int[] _buckets;
    private readonly string[] _keys;
    private readonly int[] _values;
    private readonly int[] _next;

    /// <summary>Builds the table from <paramref name="entries"/>.</summary>
    /// <param name="entries">The keys and their ids.</param>
    public SpanLookup(IReadOnlyDictionary<string, int> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        int size = (int)Math.Min(1L << 30, Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)entries.Count * 2)));
        _buckets = new int[size];
        _buckets.AsSpan().Fill(-1);
        _keys = new string[entries.Count];
        _values = new int[entries.Count];
        _next = new int[entries.Count];
        int n = 0;
        foreach (KeyValuePair<string, int> entry in entries)
        {
            int bucket = string.GetHashCode(entry.Key.AsSpan()) & (size - 1);
            _keys[n] = entry.Key;
            _values[n] = entry.Value;
            _next[n] = _buckets[bucket];
            _buckets[bucket] = n;
            n++;
        }
    }

    /// <summary>Looks <paramref name="key"/> up.</summary>
    /// <param name="key">The characters.</param>
    /// <param name="value">The id, or 0.</param>
    /// <returns>Whether the key is in the table.</returns>
    public bool TryGetValue(ReadOnlySpan<char> key, out int value)
    {
        for (int k = _buckets[string.GetHashCode(key) & (_buckets.Length - 1)]; k >= 0; k = _next[k])
        {
            if (key.SequenceEqual(_keys[k]))
            {
                value = _values[k];
                return true;
            }
        }

        value = 0;
        return false;
    }
}

/// <summary>The work one <see cref="WordPieceTokenizer"/> call did (tests of bounded cost).</summary>
internal struct WordPieceWork
{
    /// <summary>Code points of the input examined (the main scan only).</summary>
    public long CodePoints;

    /// <summary>Words (after punctuation splitting) tokenized.</summary>
    public long Words;

    /// <summary>Vocabulary look-ups made by WordPiece.</summary>
    public long Lookups;
}
