using System.Buffers;
using System.Numerics.Tensors;
using System.Text.RegularExpressions;

namespace SafeRoute.Text;

/// <summary>
/// The text tokenizer of <see cref="PromptEncoder"/>: the split pattern's pieces (<see cref="BoundedPreTokenizer"/>'s
/// rule: matches cut into pieces of at most 64 characters), each byte-pair encoded over a <see cref="RankTable"/>.
/// Its ids and its index functions are those of Microsoft.ML.Tokenizers 2.0.1's <c>TiktokenTokenizer</c> with the same
/// pre-tokenizer and no special tokens (<c>EncodeToIds</c>, <c>GetIndexByTokenCount</c>,
/// <c>GetIndexByTokenCountFromEnd</c>, including how a token budget that ends inside a piece is resolved); tests
/// compare the two on every adversarial class and on random text.
/// </summary>
/// <remarks>
/// <para>Why not call that tokenizer: it caches only pieces of at most 15 characters, so a run of long-token symbols
/// (64-character pieces of <c>…</c> are 192 UTF-8 bytes and 4 tokens) byte-pair encodes every piece again, quadratic in
/// its bytes (about 100 µs a piece), and a 32k-token budget of such pieces took seconds. Here a piece of 16 or more
/// characters is looked up in a per-call cache first (bounded to <see cref="CacheCapacity"/> pieces; adversarial runs
/// repeat the same few pieces), rank lookups do not allocate, and ids are written straight into the caller's list.</para>
/// <para>The cancellation token of <see cref="BoundedPreTokenizer.Cancellation"/> is checked before every piece.</para>
/// </remarks>
internal sealed class PieceTokenizer : ITextTokenizer
{
    /// <summary>Pieces at least this long are cached per call (shorter ones merge in well under a microsecond).</summary>
    internal const int CachedPieceMinChars = 16;

    /// <summary>The most pieces cached per call (about 4 MB at 64 characters a piece): enough for every long piece a
    /// 32k-token budget of such pieces walks.</summary>
    internal const int CacheCapacity = 16384;

    [ThreadStatic]
    private static PieceCache? t_cache;

    [ThreadStatic]
    private static PieceTokenizer? t_cacheOwner;

    [ThreadStatic]
    private static Token[]? t_tokens;

    [ThreadStatic]
    private static List<(int Offset, int Length)>? t_pieces;

    private readonly Regex _regex;
    private readonly RankTable _ranks;

    /// <summary>Initializes a new instance of the <see cref="PieceTokenizer"/> class.</summary>
    /// <param name="regex">The split pattern.</param>
    /// <param name="ranks">The ranks.</param>
    public PieceTokenizer(Regex regex, RankTable ranks)
    {
        _regex = regex;
        _ranks = ranks;
    }

    /// <summary>Empties this thread's piece cache: called at the start of every encoding, so the cache holds only the
    /// pieces of one call.</summary>
    public void BeginCall()
    {
        t_cache?.Clear();

        t_cacheOwner = this;
    }

    /// <summary>Tokenizes <paramref name="text"/> and appends every id (as <c>EncodeToIds</c>).</summary>
    public void EncodeAll(ReadOnlySpan<char> text, List<int> ids)
    {
        var cursor = new PieceCursor(_regex, text);
        while (cursor.Next(out int offset, out int length))
        {
            foreach (Token token in Tokens(text.Slice(offset, length)))
            {
                ids.Add(token.Id);
            }
        }
    }

    /// <summary>Appends the ids of at most <paramref name="maxTokens"/> tokens (as <c>EncodeToIds</c> with a maximum
    /// token count); <paramref name="consumed"/> gets the characters they cover.</summary>
    /// <returns>The number of ids appended.</returns>
    public int EncodeUpTo(ReadOnlySpan<char> text, List<int>? ids, int maxTokens, out int consumed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        consumed = 0;
        int count = 0;
        var cursor = new PieceCursor(_regex, text);
        while (cursor.Next(out int offset, out int length))
        {
            count += ForwardResult(Tokens(text.Slice(offset, length)), ids, maxTokens - count, length, out int used);
            consumed = offset + used;
            if (used < length || count >= maxTokens)
            {
                break;
            }
        }

        return count;
    }

    /// <summary>The end index of the first <paramref name="maxTokens"/> tokens (as <c>GetIndexByTokenCount</c>).</summary>
    public int IndexByTokenCount(ReadOnlySpan<char> text, int maxTokens, out int tokenCount)
    {
        tokenCount = EncodeUpTo(text, null, maxTokens, out int consumed);
        return consumed;
    }

    /// <summary>The start index of the last <paramref name="maxTokens"/> tokens (as <c>GetIndexByTokenCountFromEnd</c>).</summary>
    public int IndexByTokenCountFromEnd(ReadOnlySpan<char> text, int maxTokens, out int tokenCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        tokenCount = 0;
        if (text.IsEmpty)
        {
            return 0;
        }

        List<(int Offset, int Length)> pieces = t_pieces ??= new List<(int, int)>(256);
        pieces.Clear();
        var cursor = new PieceCursor(_regex, text);
        while (cursor.Next(out int offset, out int length))
        {
            pieces.Add((offset, length));
        }

        for (int i = pieces.Count - 1; i >= 0; i--)
        {
            (int offset, int length) = pieces[i];
            tokenCount += FromEndResult(Tokens(text.Slice(offset, length)), maxTokens - tokenCount, length, out int index);
            if (index > 0 || tokenCount >= maxTokens)
            {
                return offset + index;
            }
        }

        return 0;
    }

    /// <summary>Counts every token of a text (fixed template text; not bounded).</summary>
    public int CountAll(ReadOnlySpan<char> text)
    {
        int count = 0;
        var cursor = new PieceCursor(_regex, text);
        while (cursor.Next(out int offset, out int length))
        {
            count += Tokens(text.Slice(offset, length)).Length;
        }

        return count;
    }

    /// <summary>Microsoft.ML.Tokenizers' <c>EncodeToIdsResult</c>: the first tokens of a piece within a budget, never
    /// ending inside a character.</summary>
    private static int ForwardResult(ReadOnlySpan<Token> tokens, List<int>? ids, int maxTokens, int pieceLength, out int consumed)
    {
        consumed = 0;
        if (tokens.Length <= maxTokens)
        {
            if (ids is not null)
            {
                foreach (Token t in tokens)
                {
                    ids.Add(t.Id);
                }
            }

            consumed = pieceLength;
            return tokens.Length;
        }

        int tokenCount;
        for (tokenCount = 0; tokenCount < maxTokens; tokenCount++)
        {
            int overlapIndex = tokens[tokenCount].Index + tokens[tokenCount].Length;
            if (tokens[tokenCount + 1].Index < overlapIndex)
            {
                // Tokens that share a character are kept or dropped together.
                int j = tokenCount + 2;
                while (j < tokens.Length && tokens[j].Index < overlapIndex)
                {
                    j++;
                }

                if (j <= maxTokens)
                {
                    for (int k = tokenCount; k < j; k++)
                    {
                        ids?.Add(tokens[k].Id);
                    }

                    tokenCount = j - 1;
                    consumed = tokens[tokenCount].Index + tokens[tokenCount].Length;
                }
                else
                {
                    break;
                }
            }
            else
            {
                ids?.Add(tokens[tokenCount].Id);
                consumed = tokens[tokenCount].Index + tokens[tokenCount].Length;
            }
        }

        return tokenCount;
    }

    /// <summary>Microsoft.ML.Tokenizers' <c>EncodeToIdsFromEndResult</c>: the last tokens of a piece within a budget.</summary>
    private static int FromEndResult(ReadOnlySpan<Token> tokens, int maxTokens, int pieceLength, out int index)
    {
        if (tokens.Length <= maxTokens)
        {
            index = 0;
            return tokens.Length;
        }

        int first = tokens.Length - maxTokens;
        while (first < tokens.Length && tokens[first].Index < tokens[first - 1].Index + tokens[first - 1].Length)
        {
            first++;
        }

        index = first >= tokens.Length ? pieceLength : tokens[first].Index;
        return tokens.Length - first;
    }

    /// <summary>The tokens of one piece: from this call's cache, or byte-pair encoded (and cached when long).</summary>
    private ReadOnlySpan<Token> Tokens(ReadOnlySpan<char> piece)
    {
        PieceCache? cache = null;
        if (piece.Length >= CachedPieceMinChars)
        {
            cache = t_cache ??= new PieceCache();
            if (!ReferenceEquals(t_cacheOwner, this))
            {
                cache.Clear();
                t_cacheOwner = this;
            }

            if (cache.TryGet(piece, out Token[]? cached))
            {
                return cached;
            }
        }

        BoundedPreTokenizer.OnBytePairEncode(piece.Length);
        int needed = (piece.Length * 3) + 1;
        Token[] tokens = t_tokens is { } scratch && scratch.Length >= needed ? scratch : t_tokens = new Token[Math.Max(needed, 256)];
        int count = Encode(piece, tokens);
        if (cache is not null && cache.Count < CacheCapacity)
        {
            Token[] copy = tokens.AsSpan(0, count).ToArray();
            cache.Add(piece, copy);
            return copy;
        }

        return tokens.AsSpan(0, count);
    }

    /// <summary>Byte-pair encodes one piece exactly as Microsoft.ML.Tokenizers 2.0.1 does on a cache miss: a piece that is
    /// itself a token (and decodes without U+FFFD) is that token; otherwise the lowest-ranked adjacent pair is merged
    /// (the leftmost of equal ranks) until no pair is a token.</summary>
    private int Encode(ReadOnlySpan<char> piece, Token[] output)
    {
        int maxBytes = piece.Length * 3;
        byte[]? rentedBytes = null;
        int[]? rentedMap = null;
        int[]? rentedStarts = null;
        int[]? rentedRanks = null;
        Span<byte> bytes = maxBytes <= 256 ? stackalloc byte[256] : (rentedBytes = ArrayPool<byte>.Shared.Rent(maxBytes));
        Span<int> map = maxBytes + 1 <= 257 ? stackalloc int[257] : (rentedMap = ArrayPool<int>.Shared.Rent(maxBytes + 1));
        try
        {
            int n = ToUtf8(piece, bytes, map, out bool decodable);
            map[n] = piece.Length;
            bytes = bytes[..n];
            map = map[..(n + 1)];

            // Microsoft.ML.Tokenizers looks the piece up among the tokens whose bytes decode without U+FFFD.
            if (decodable && _ranks.TryGetRank(bytes, out int whole))
            {
                output[0] = new Token(whole, 0, piece.Length);
                return 1;
            }

            // Part boundaries and the rank of merging each part with the next, as two arrays (the minimum is found
            // by a scan over contiguous ranks).
            Span<int> starts = n + 1 <= 257 ? stackalloc int[257] : (rentedStarts = ArrayPool<int>.Shared.Rent(n + 1));
            Span<int> ranks = n + 1 <= 257 ? stackalloc int[257] : (rentedRanks = ArrayPool<int>.Shared.Rent(n + 1));
            int parts = n + 1;
            for (int i = 0; i < parts; i++)
            {
                starts[i] = i;
                ranks[i] = int.MaxValue;
            }

            for (int i = 0; i < parts - 2; i++)
            {
                ranks[i] = Rank(bytes, starts, parts, i, 0);
            }

            while (parts > 1)
            {
                // The lowest rank, and the leftmost part that has it (both scans vectorized).
                ReadOnlySpan<int> live = ranks[..(parts - 1)];
                int minRank = TensorPrimitives.Min(live);
                if (minRank == int.MaxValue)
                {
                    break;
                }

                int j = live.IndexOf(minRank);
                ranks[j] = Rank(bytes, starts, parts, j, 1);
                if (j > 0)
                {
                    ranks[j - 1] = Rank(bytes, starts, parts, j - 1, 1);
                }

                starts[(j + 2)..parts].CopyTo(starts[(j + 1)..]);
                ranks[(j + 2)..parts].CopyTo(ranks[(j + 1)..]);
                parts--;
            }

            int count = parts - 1;
            for (int i = 0; i < count; i++)
            {
                int start = starts[i];
                int end = starts[i + 1];
                int mappedStart = map[start];
                int mappedEnd = map[end];
                int finalEnd = end;
                if (finalEnd > 0 && map[finalEnd - 1] == mappedEnd)
                {
                    // A token that ends inside a character covers the whole character.
                    finalEnd++;
                    while (finalEnd < map.Length && map[finalEnd] == mappedEnd)
                    {
                        finalEnd++;
                    }
                }

                if (!_ranks.TryGetRank(bytes[start..end], out int id))
                {
                    throw new SafeRouteException("The tokenizer's ranks lack a single byte: the file is not a byte-level BPE vocabulary.");
                }

                output[i] = new Token(id, mappedStart, map[finalEnd] - mappedStart);
            }

            return count;
        }
        finally
        {
            if (rentedBytes is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedBytes);
            }

            if (rentedMap is not null)
            {
                ArrayPool<int>.Shared.Return(rentedMap);
            }

            if (rentedStarts is not null)
            {
                ArrayPool<int>.Shared.Return(rentedStarts);
            }

            if (rentedRanks is not null)
            {
                ArrayPool<int>.Shared.Return(rentedRanks);
            }
        }
    }

    /// <summary>The rank of the bytes from part <paramref name="start"/> to part <c>start + skip + 2</c>; none: <see cref="int.MaxValue"/>.</summary>
    private int Rank(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> starts, int parts, int start, int skip)
    {
        if (start + skip + 2 < parts)
        {
            int from = starts[start];
            int to = starts[start + skip + 2];
            if (_ranks.TryGetRank(bytes[from..to], out int rank))
            {
                return rank;
            }
        }

        return int.MaxValue;
    }

    /// <summary>UTF-8 bytes of a piece with, for each byte, the index of its character (as Microsoft.ML.Tokenizers'
    /// <c>Helpers.EncodeToUtf8</c>: a lone surrogate becomes three bytes). <paramref name="decodable"/> is false when
    /// the piece has a lone surrogate or U+FFFD, which no token of its vocabulary map decodes to.</summary>
    private static int ToUtf8(ReadOnlySpan<char> text, Span<byte> destination, Span<int> map, out bool decodable)
    {
        decodable = true;
        int at = 0;
        for (int i = 0; i < text.Length; i++)
        {
            uint c = text[i];
            if (c <= 0x7Fu)
            {
                destination[at] = (byte)c;
                map[at] = i;
                at++;
                continue;
            }

            if (c <= 0x7FFu)
            {
                destination[at] = (byte)((c + (0b110u << 11)) >> 6);
                destination[at + 1] = (byte)((c & 0x3Fu) + 0x80u);
                map[at] = map[at + 1] = i;
                at += 2;
                continue;
            }

            if (i < text.Length - 1 && char.IsSurrogatePair((char)c, text[i + 1]))
            {
                uint value = (uint)char.ConvertToUtf32((char)c, text[i + 1]);
                destination[at] = (byte)((value + (0b11110u << 21)) >> 18);
                destination[at + 1] = (byte)(((value & (0x3Fu << 12)) >> 12) + 0x80u);
                destination[at + 2] = (byte)(((value & (0x3Fu << 6)) >> 6) + 0x80u);
                destination[at + 3] = (byte)((value & 0x3Fu) + 0x80u);
                map[at] = map[at + 1] = map[at + 2] = map[at + 3] = i;
                i++;
                at += 4;
                continue;
            }

            if (char.IsSurrogate((char)c) || c == 0xFFFDu)
            {
                decodable = false;
            }

            destination[at] = (byte)((c + (0b1110u << 16)) >> 12);
            destination[at + 1] = (byte)(((c & (0x3Fu << 6)) >> 6) + 0x80u);
            destination[at + 2] = (byte)((c & 0x3Fu) + 0x80u);
            map[at] = map[at + 1] = map[at + 2] = i;
            at += 3;
        }

        return at;
    }

    /// <summary>One token of a piece: its id and the characters it covers (a token inside a character covers all of it).</summary>
    internal readonly record struct Token(int Id, int Index, int Length);

    /// <summary>Walks the pieces of a text without allocating (see <see cref="BoundedPreTokenizer"/>).</summary>
    private ref struct PieceCursor
    {
        private readonly Regex _regex;
        private readonly ReadOnlySpan<char> _text;
        private int _at;
        private int _start;
        private int _end;

        public PieceCursor(Regex regex, ReadOnlySpan<char> text)
        {
            _regex = regex;
            _text = text;
        }

        public bool Next(out int offset, out int length)
        {
            while (_start >= _end)
            {
                if (_at >= _text.Length)
                {
                    offset = length = 0;
                    return false;
                }

                (int start, int matched) = BoundedPreTokenizer.NextMatch(_regex, _text, _at);
                if (start >= _text.Length)
                {
                    _at = _text.Length;
                    continue;
                }

                if (matched == 0)
                {
                    _at = start + 1;
                    continue;
                }

                _start = start;
                _end = start + matched;
                _at = _end;
            }

            int piece = BoundedPreTokenizer.PieceLength(_text, _start, _end);
            BoundedPreTokenizer.OnPiece(piece);
            offset = _start;
            length = piece;
            _start += piece;
            return true;
        }
    }

    /// <summary>An open-addressing map from piece text to tokens, for one call on one thread; it starts small and
    /// doubles while more than half full, up to <see cref="CacheCapacity"/> pieces.</summary>
    private sealed class PieceCache
    {
        private string?[] _keys = new string?[64];
        private Token[]?[] _values = new Token[]?[64];
        private int[] _used = new int[32];

        public int Count { get; private set; }

        public bool TryGet(ReadOnlySpan<char> piece, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Token[]? tokens)
        {
            int mask = _keys.Length - 1;
            for (int slot = string.GetHashCode(piece) & mask; _keys[slot] is { } key; slot = (slot + 1) & mask)
            {
                if (piece.SequenceEqual(key))
                {
                    tokens = _values[slot]!;
                    return true;
                }
            }

            tokens = null;
            return false;
        }

        /// <summary>Adds a piece that is not in the map (the caller keeps <see cref="Count"/> below <see cref="CacheCapacity"/>).</summary>
        public void Add(ReadOnlySpan<char> piece, Token[] tokens)
        {
            if (Count == _used.Length)
            {
                Grow();
            }

            Put(piece.ToString(), tokens);
        }

        public void Clear()
        {
            for (int i = 0; i < Count; i++)
            {
                _keys[_used[i]] = null;
                _values[_used[i]] = null;
            }

            Count = 0;
        }

        private void Put(string key, Token[] tokens)
        {
            int mask = _keys.Length - 1;
            int slot = string.GetHashCode(key) & mask;
            while (_keys[slot] is not null)
            {
                slot = (slot + 1) & mask;
            }

            _keys[slot] = key;
            _values[slot] = tokens;
            _used[Count++] = slot;
        }

        private void Grow()
        {
            string?[] keys = _keys;
            Token[]?[] values = _values;
            int[] used = _used;
            int count = Count;
            _keys = new string?[keys.Length * 2];
            _values = new Token[]?[keys.Length * 2];
            _used = new int[used.Length * 2];
            Count = 0;
            for (int i = 0; i < count; i++)
            {
                Put(keys[used[i]]!, values[used[i]]!);
            }
        }
    }
}
