using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SafeRoute.Text;

/// <summary>
/// A SentencePiece-style BPE tokenizer read from a Hugging Face <c>tokenizer.json</c> (Gemma / Gemma 2, Llama 2,
/// Mistral's HF form): manifest <c>tokenizer.kind</c> <c>"sentencepiece-bpe"</c>. Reproduces what Hugging Face
/// tokenizers does with such a file, minus the special tokens:
/// </summary>
/// <remarks>
/// <para><b>Added tokens.</b> Tokens marked <c>special</c> (Gemma's <c>&lt;bos&gt;</c>, <c>&lt;start_of_turn&gt;</c>…,
/// Llama 2's <c>&lt;s&gt;</c>) are returned as <see cref="SpecialTokens"/> for the template only; text never matches
/// them, no merge may produce them and a single character that is one of them takes the byte fallback, so user text
/// containing <c>"&lt;bos&gt;"</c> tokenizes as plain text. Non-special added tokens (Gemma's <c>"\n"</c>,
/// <c>"\n\n"</c>, runs of <c>▁</c> and tabs, HTML tags, <c>&lt;unusedN&gt;</c>) are ordinary text tokens and are split
/// off the raw text first, leftmost-longest, as Hugging Face does (they must have <c>normalized</c>, <c>lstrip</c>,
/// <c>rstrip</c> and <c>single_word</c> false).</para>
/// <para><b>Normalizer</b> (per segment between added tokens, as in Hugging Face): <c>Replace</c> of one character by
/// one character (<c>' '</c> → <c>'▁'</c>), <c>Prepend</c> (a non-empty segment gets the string in front), or a
/// <c>Sequence</c> of those; anything else (NFKC included) is rejected at load.</para>
/// <para><b>Pre-tokenizer</b>: none, or a <c>Split</c> on a string that the normalizer has replaced (Gemma's Split on
/// <c>' '</c> after <c>' '</c> → <c>'▁'</c>: it never matches), so each segment is byte-pair encoded whole.
/// <c>Metaspace</c> and other pre-tokenizers are rejected at load.</para>
/// <para><b>BPE</b> as Hugging Face's <c>Word::merge_all</c>: one symbol per code point (its vocabulary id, or the
/// <c>&lt;0xXX&gt;</c> tokens of its UTF-8 bytes), then the applicable merge of lowest rank (ties: leftmost) is applied
/// repeatedly, from a priority queue over a linked list of symbols: O(n log n) in the segment's length.</para>
/// <para><b>Bounded cost.</b> Loading requires byte fallback with a byte token for every byte (an ASCII byte may instead
/// be a character token: Gemma has <c>"\t"</c>, not <c>&lt;0x09&gt;</c>), so no character is ever unknown, and
/// no vocabulary or added token longer than <see cref="MaxTokenChars"/> characters, so n tokens never cover more than
/// 64 × n characters. <see cref="EncodeUpTo"/> and the index functions therefore tokenize at most a window of
/// 64 × (n + 1) characters of the text's head or tail; as whole-segment BPE is not prefix-stable, their cut points are
/// those of the window (the prompt encoder renders the result again and shrinks its budget on overshoot).</para>
/// </remarks>
internal sealed class SentencePieceBpeTokenizer : ITextTokenizer
{
    /// <summary>The most characters a vocabulary or added token may have.</summary>
    public const int MaxTokenChars = BoundedPreTokenizer.MaxPieceChars;

    private readonly Dictionary<int, int> _charIds;
    private readonly Dictionary<string, int>? _wholeWords;
    private readonly int[] _byteIds;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly (bool IsPrepend, string Prepend, char From, char To)[] _normalizers;
    private readonly AddedTrie _added;

    private SentencePieceBpeTokenizer(Dictionary<int, int> charIds, Dictionary<string, int>? wholeWords, int[] byteIds, Dictionary<long, (int, int)> merges, (bool, string, char, char)[] normalizers, AddedTrie added, Dictionary<string, int> special, int vocabularySize)
    {
        _charIds = charIds;
        _wholeWords = wholeWords;
        _byteIds = byteIds;
        _merges = merges;
        _normalizers = normalizers;
        _added = added;
        SpecialTokens = special;
        VocabularySize = vocabularySize;
    }

    /// <summary>Gets the added tokens marked special (string to id): for template text only.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>Gets one more than the largest id of the file.</summary>
    public int VocabularySize { get; }

    /// <summary>Reads and checks a tokenizer.json.</summary>
    /// <param name="path">The file's full path.</param>
    /// <param name="describe">Where the path came from, for error messages.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="SafeRouteException">The file is missing, unreadable, or not a SentencePiece-style BPE this class reproduces exactly.</exception>
    public static SentencePieceBpeTokenizer Load(string path, string describe)
    {
        using (JsonDocument document = ByteLevelBpeFile.ReadJson(path, describe))
        {
            return Parse(document.RootElement, m => new SafeRouteException($"The tokenizer file '{path}' ({describe}) cannot be used as a SentencePiece-style BPE tokenizer.json (tokenizer.kind 'sentencepiece-bpe'): {m}."));
        }
    }

    private static SentencePieceBpeTokenizer Parse(JsonElement root, Func<string, SafeRouteException> bad)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object
            || !model.TryGetProperty("type", out JsonElement type) || type.ValueKind != JsonValueKind.String || type.GetString() != "BPE")
        {
            throw bad("its 'model.type' is not 'BPE'");
        }

        if (!model.TryGetProperty("byte_fallback", out JsonElement fallback) || fallback.ValueKind != JsonValueKind.True)
        {
            throw bad("'model.byte_fallback' is not true (a byte-level BPE file is tokenizer.kind 'bpe')");
        }

        foreach (string unsupported in (string[])["continuing_subword_prefix", "end_of_word_suffix", "dropout"])
        {
            if (model.TryGetProperty(unsupported, out JsonElement value) && value.ValueKind != JsonValueKind.Null
                && !(unsupported == "dropout" && value.ValueKind == JsonValueKind.Number && value.GetDouble() == 0))
            {
                throw bad($"'model.{unsupported}' is set, which is not supported");
            }
        }

        bool ignoreMerges = model.TryGetProperty("ignore_merges", out JsonElement ignore) && ignore.ValueKind == JsonValueKind.True;
        var normalizers = new List<(bool, string, char, char)>();
        if (root.TryGetProperty("normalizer", out JsonElement normalizer) && normalizer.ValueKind != JsonValueKind.Null)
        {
            AddNormalizer(normalizer, normalizers, bad);
        }

        if (root.TryGetProperty("pre_tokenizer", out JsonElement pre) && pre.ValueKind != JsonValueKind.Null)
        {
            CheckPreTokenizer(pre, normalizers, bad);
        }

        if (!model.TryGetProperty("vocab", out JsonElement vocab) || vocab.ValueKind != JsonValueKind.Object)
        {
            throw bad("it has no 'model.vocab' object");
        }

        // Added tokens: special ones for the template; the others are text tokens split off first.
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        var addedText = new List<(string Content, int Id)>();
        if (root.TryGetProperty("added_tokens", out JsonElement added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement token in added.EnumerateArray())
            {
                if (!token.TryGetProperty("content", out JsonElement content) || content.GetString() is not { Length: > 0 } text
                    || !token.TryGetProperty("id", out JsonElement idElement) || !idElement.TryGetInt32(out int id) || id < 0)
                {
                    throw bad("an entry of 'added_tokens' has no non-empty 'content' or no non-negative 'id'");
                }

                if (token.TryGetProperty("special", out JsonElement isSpecial) && isSpecial.ValueKind == JsonValueKind.True)
                {
                    special[text] = id;
                    continue;
                }

                foreach (string flag in (string[])["normalized", "lstrip", "rstrip", "single_word"])
                {
                    if (token.TryGetProperty(flag, out JsonElement f) && f.ValueKind == JsonValueKind.True)
                    {
                        throw bad($"the non-special added token with id {id} has '{flag}' true, which is not supported");
                    }
                }

                if (text.Length > MaxTokenChars)
                {
                    throw bad($"the added token with id {id} has more than {MaxTokenChars} characters");
                }

                addedText.Add((text, id));
            }
        }

        var specialIds = new HashSet<int>(special.Values);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var charIds = new Dictionary<int, int>();
        int[] byteIds = new int[256];
        Array.Fill(byteIds, -1);
        int maxId = -1;
        var seen = new HashSet<int>();
        foreach (JsonProperty entry in vocab.EnumerateObject())
        {
            if (!entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw bad($"the vocabulary entry \"{entry.Name}\" has no non-negative integer id");
            }

            if (entry.Name.Length == 0 || !seen.Add(id))
            {
                throw bad($"the vocabulary entry with id {id} is empty or its id is repeated");
            }

            ids[entry.Name] = id;
            maxId = Math.Max(maxId, id);
            if (entry.Name.Length == 6 && entry.Name.StartsWith("<0x", StringComparison.Ordinal) && entry.Name[5] == '>'
                && byte.TryParse(entry.Name.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b)
                && entry.Name.AsSpan(3, 2).ToString() == b.ToString("X2", CultureInfo.InvariantCulture))
            {
                byteIds[b] = id;
                continue;
            }

            if (entry.Name.Length > MaxTokenChars)
            {
                throw bad($"the vocabulary entry with id {id} has more than {MaxTokenChars} characters (the bound on characters per token)");
            }

            if (Rune.DecodeFromUtf16(entry.Name, out Rune rune, out int used) == System.Buffers.OperationStatus.Done && used == entry.Name.Length
                && !specialIds.Contains(id))
            {
                charIds[rune.Value] = id;
            }
        }

        for (int b = 0; b < 256; b++)
        {
            // An ASCII byte only occurs as its own character, which may be a token instead (Gemma: '\t', no <0x09>).
            if (byteIds[b] < 0 && !(b < 0x80 && charIds.ContainsKey(b)))
            {
                throw bad($"the byte fallback token '<0x{b:X2}>' is missing from the vocabulary");
            }
        }

        var merges = new Dictionary<long, (int, int)>();
        if (!model.TryGetProperty("merges", out JsonElement mergeArray) || mergeArray.ValueKind != JsonValueKind.Array)
        {
            throw bad("it has no 'model.merges' array");
        }

        int rank = 0;
        foreach (JsonElement merge in mergeArray.EnumerateArray())
        {
            (string? left, string? right) = merge.ValueKind switch
            {
                JsonValueKind.String => Split(merge.GetString()!),
                JsonValueKind.Array when merge.GetArrayLength() == 2 => (merge[0].GetString(), merge[1].GetString()),
                _ => (null, null),
            };
            if (left is null || right is null || !ids.TryGetValue(left, out int a) || !ids.TryGetValue(right, out int c)
                || !ids.TryGetValue(left + right, out int merged))
            {
                throw bad($"merge {rank} does not name two vocabulary tokens whose concatenation is a vocabulary token");
            }

            // A merge that would make a special token from text is left out: text never becomes a special id.
            if (!specialIds.Contains(merged))
            {
                merges[((long)a << 32) | (uint)c] = (rank, merged);
            }

            rank++;
        }

        foreach ((string content, int id) in addedText)
        {
            maxId = Math.Max(maxId, id);
        }

        foreach (int id in special.Values)
        {
            maxId = Math.Max(maxId, id);
        }

        var trie = new AddedTrie();
        foreach ((string content, int id) in addedText)
        {
            trie.Add(content, id);
        }

        return new SentencePieceBpeTokenizer(charIds, ignoreMerges ? ids : null, byteIds, merges, [.. normalizers], trie, special, maxId + 1);

        static (string?, string?) Split(string merge)
        {
            int space = merge.IndexOf(' ', StringComparison.Ordinal);
            return space <= 0 || merge.IndexOf(' ', space + 1) >= 0 ? (null, null) : (merge[..space], merge[(space + 1)..]);
        }
    }

    private static void AddNormalizer(JsonElement normalizer, List<(bool, string, char, char)> list, Func<string, SafeRouteException> bad)
    {
        string? kind = normalizer.TryGetProperty("type", out JsonElement t) ? t.GetString() : null;
        switch (kind)
        {
            case "Sequence" when normalizer.TryGetProperty("normalizers", out JsonElement inner) && inner.ValueKind == JsonValueKind.Array:
                foreach (JsonElement n in inner.EnumerateArray())
                {
                    AddNormalizer(n, list, bad);
                }

                break;
            case "Prepend" when normalizer.TryGetProperty("prepend", out JsonElement p) && p.GetString() is { Length: > 0 } prepend:
                list.Add((true, prepend, '\0', '\0'));
                break;
            case "Replace" when normalizer.TryGetProperty("pattern", out JsonElement pattern) && pattern.TryGetProperty("String", out JsonElement from)
                && from.GetString() is { Length: 1 } f && normalizer.TryGetProperty("content", out JsonElement to) && to.GetString() is { Length: 1 } c:
                list.Add((false, "", f[0], c[0]));
                break;
            default:
                throw bad($"its normalizer '{kind}' is not supported (supported: Replace of one character by one character, Prepend, and a Sequence of those)");
        }
    }

    private static void CheckPreTokenizer(JsonElement pre, List<(bool IsPrepend, string Prepend, char From, char To)> normalizers, Func<string, SafeRouteException> bad)
    {
        string? kind = pre.TryGetProperty("type", out JsonElement t) ? t.GetString() : null;
        if (kind == "Split" && pre.TryGetProperty("pattern", out JsonElement pattern) && pattern.TryGetProperty("String", out JsonElement s)
            && s.GetString() is { Length: 1 } split && !(pre.TryGetProperty("invert", out JsonElement invert) && invert.ValueKind == JsonValueKind.True))
        {
            // The split string cannot occur after the normalizer when the last normalizer touching it replaces it.
            int last = normalizers.FindLastIndex(n => !n.IsPrepend && n.From == split[0]);
            bool reintroduced = last < 0 || normalizers.Skip(last + 1).Any(n => n.IsPrepend ? n.Prepend.Contains(split[0], StringComparison.Ordinal) : n.To == split[0]);
            if (!reintroduced)
            {
                return;
            }
        }

        throw bad($"its pre_tokenizer '{kind}' is not supported (supported: none, or a Split on a character that the normalizer replaces, as in Gemma's file)");
    }

    /// <inheritdoc/>
    public void BeginCall()
    {
    }

    /// <inheritdoc/>
    public void EncodeAll(ReadOnlySpan<char> text, List<int> ids)
    {
        foreach (Token token in Tokenize(text))
        {
            ids.Add(token.Id);
        }
    }

    /// <summary>Encodes text that continues a sequence (a verdict token after the prefill, a category prefix): the
    /// <c>Prepend</c> normalizers, which mark the start of a segment, are not applied, so <c>" yes"</c> is <c>▁yes</c> as
    /// the model writes it after <c>Harmful request:</c>, not <c>▁▁yes</c>.</summary>
    public void EncodeContinuation(ReadOnlySpan<char> text, List<int> ids)
    {
        foreach (Token token in Tokenize(text, prepend: false))
        {
            ids.Add(token.Id);
        }
    }

    /// <inheritdoc/>
    public int EncodeUpTo(ReadOnlySpan<char> text, List<int>? ids, int maxTokens, out int consumed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        long window = (long)MaxTokenChars * (maxTokens + 1);
        bool whole = text.Length <= window;
        ReadOnlySpan<char> head = whole ? text : text[..SafeEnd(text, (int)window)];
        List<Token> tokens = Tokenize(head);
        int count = Math.Min(maxTokens, tokens.Count);
        for (int i = 0; i < count && ids is not null; i++)
        {
            ids.Add(tokens[i].Id);
        }

        consumed = whole && count == tokens.Count ? text.Length : count == 0 ? 0 : Math.Min(tokens[count - 1].End, text.Length - 1);
        return count;
    }

    /// <inheritdoc/>
    public int IndexByTokenCount(ReadOnlySpan<char> text, int maxTokens, out int tokenCount)
    {
        tokenCount = EncodeUpTo(text, null, maxTokens, out int consumed);
        return consumed;
    }

    /// <inheritdoc/>
    public int IndexByTokenCountFromEnd(ReadOnlySpan<char> text, int maxTokens, out int tokenCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        long window = (long)MaxTokenChars * (maxTokens + 1);
        int offset = text.Length <= window ? 0 : SafeStart(text, text.Length - (int)window);
        List<Token> tokens = Tokenize(text[offset..]);
        tokenCount = Math.Min(maxTokens, tokens.Count);
        if (tokenCount == tokens.Count && offset == 0)
        {
            return 0;
        }

        return offset + tokens[tokens.Count - tokenCount].Start;
    }

    /// <inheritdoc/>
    public int CountAll(ReadOnlySpan<char> text) => Tokenize(text).Count;

    private static int SafeEnd(ReadOnlySpan<char> text, int end) =>
        end > 0 && end < text.Length && char.IsHighSurrogate(text[end - 1]) && char.IsLowSurrogate(text[end]) ? end - 1 : end;

    private static int SafeStart(ReadOnlySpan<char> text, int start) =>
        start > 0 && start < text.Length && char.IsHighSurrogate(text[start - 1]) && char.IsLowSurrogate(text[start]) ? start + 1 : start;

    /// <summary>Tokenizes text: added text tokens split off leftmost-longest, each other segment normalised and byte-pair encoded.</summary>
    internal List<Token> Tokenize(ReadOnlySpan<char> text, bool prepend = true)
    {
        var tokens = new List<Token>(text.Length / 3 + 4);
        int segment = 0;
        int i = 0;
        while (i < text.Length)
        {
            int length = _added.Match(text[i..], out int id);
            if (length == 0)
            {
                i++;
                continue;
            }

            EncodeSegment(text[segment..i], segment, tokens, prepend);
            tokens.Add(new Token(id, i, i + length));
            i += length;
            segment = i;
        }

        EncodeSegment(text[segment..], segment, tokens, prepend);
        return tokens;
    }

    private void EncodeSegment(ReadOnlySpan<char> original, int offset, List<Token> tokens, bool withPrepend)
    {
        if (original.IsEmpty)
        {
            return;
        }

        BoundedPreTokenizer.CurrentCancellation.ThrowIfCancellationRequested();
        var builder = new StringBuilder(original.Length + 4);
        builder.Append(original);
        foreach ((bool isPrepend, string prepend, char from, char to) in _normalizers)
        {
            if (isPrepend)
            {
                if (withPrepend)
                {
                    builder.Insert(0, prepend);
                }
            }
            else
            {
                builder.Replace(from, to);
            }
        }

        string text = builder.ToString();
        int shift = text.Length - original.Length;
        int Map(int normalized) => offset + Math.Max(0, normalized - shift);

        if (_wholeWords is not null && _wholeWords.TryGetValue(text, out int whole))
        {
            tokens.Add(new Token(whole, offset, offset + original.Length));
            return;
        }

        // Symbols: one per code point, or one per UTF-8 byte for a code point outside the vocabulary.
        var ids = new List<int>(text.Length);
        var starts = new List<int>(text.Length);
        var ends = new List<int>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int at = 0; at < text.Length;)
        {
            Rune.DecodeFromUtf16(text.AsSpan(at), out Rune rune, out int used);
            int start = Map(at);
            int end = Map(at + used);
            if (_charIds.TryGetValue(rune.Value, out int charId))
            {
                ids.Add(charId);
                starts.Add(start);
                ends.Add(end);
            }
            else
            {
                int n = rune.EncodeToUtf8(utf8);
                for (int k = 0; k < n; k++)
                {
                    // A byte token covers its character only as the character's last (end) or first (start) byte.
                    ids.Add(_byteIds[utf8[k]]);
                    starts.Add(k == 0 ? start : end);
                    ends.Add(k == n - 1 ? end : start);
                }
            }

            at += used;
        }

        int count = ids.Count;
        int[] prev = new int[count];
        int[] next = new int[count];
        bool[] removed = new bool[count];
        for (int k = 0; k < count; k++)
        {
            prev[k] = k - 1;
            next[k] = k + 1 < count ? k + 1 : -1;
        }

        var queue = new PriorityQueue<(int Pos, int NewId), long>(count);
        for (int k = 0; k + 1 < count; k++)
        {
            if (_merges.TryGetValue(Key(ids[k], ids[k + 1]), out (int Rank, int NewId) m))
            {
                queue.Enqueue((k, m.NewId), Priority(m.Rank, k));
            }
        }

        while (queue.TryDequeue(out (int Pos, int NewId) top, out _))
        {
            int pos = top.Pos;
            if (removed[pos] || next[pos] < 0)
            {
                continue;
            }

            int right = next[pos];
            if (!_merges.TryGetValue(Key(ids[pos], ids[right]), out (int Rank, int NewId) current) || current.NewId != top.NewId)
            {
                continue;
            }

            ids[pos] = top.NewId;
            ends[pos] = ends[right];
            removed[right] = true;
            next[pos] = next[right];
            if (next[right] >= 0)
            {
                prev[next[right]] = pos;
            }

            if (prev[pos] >= 0 && _merges.TryGetValue(Key(ids[prev[pos]], ids[pos]), out (int Rank, int NewId) left))
            {
                queue.Enqueue((prev[pos], left.NewId), Priority(left.Rank, prev[pos]));
            }

            if (next[pos] >= 0 && _merges.TryGetValue(Key(ids[pos], ids[next[pos]]), out (int Rank, int NewId) after))
            {
                queue.Enqueue((pos, after.NewId), Priority(after.Rank, pos));
            }
        }

        for (int k = 0; k < count; k++)
        {
            if (!removed[k])
            {
                tokens.Add(new Token(ids[k], starts[k], ends[k]));
            }
        }

        static long Key(int a, int b) => ((long)a << 32) | (uint)b;
        static long Priority(int rank, int pos) => ((long)rank << 32) | (uint)pos;
    }

    /// <summary>A token: its id and the characters of the original text it covers.</summary>
    internal readonly record struct Token(int Id, int Start, int End);

    /// <summary>Leftmost-longest matching of the non-special added tokens.</summary>
    private sealed class AddedTrie
    {
        private readonly Dictionary<char, AddedTrie> _children = [];
        private int _id = -1;

        public void Add(string content, int id)
        {
            AddedTrie node = this;
            foreach (char c in content)
            {
                if (!node._children.TryGetValue(c, out AddedTrie? child))
                {
                    child = new AddedTrie();
                    node._children[c] = child;
                }

                node = child;
            }

            node._id = id;
        }

        /// <summary>The length of the longest added token at the start of <paramref name="text"/> (0 when none).</summary>
        public int Match(ReadOnlySpan<char> text, out int id)
        {
            id = -1;
            int length = 0;
            AddedTrie node = this;
            for (int i = 0; i < text.Length && node._children.TryGetValue(text[i], out AddedTrie? child); i++)
            {
                node = child;
                if (node._id >= 0)
                {
                    id = node._id;
                    length = i + 1;
                }
            }

            return length;
        }
    }
}
