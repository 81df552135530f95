using System.Buffers;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace SafeRoute.Text;

/// <summary>
/// The split pattern's pre-tokenizer, with two additions that bound the cost of tokenizing hostile text: a match longer
/// than <see cref="MaxPieceChars"/> characters is handed to BPE as consecutive chunks of that many characters, and the
/// calling thread's cancellation token is checked before every piece.
/// </summary>
/// <remarks>
/// <para>BPE over one pre-tokenizer piece costs about quadratic time in its length, and some pieces are unbounded
/// (GPT-2's <c> ?\p{N}+</c>, symbol runs, and runs of U+001C–U+001F, which are white space for Python but not for the
/// pattern's <c>\s</c>). The chunks are cut from the pattern's own matches, so the cut never depends on a second,
/// possibly disagreeing, idea of a character class. A chunk end that would split a surrogate pair moves back one
/// character. Text whose matches are all at most <see cref="MaxPieceChars"/> long tokenizes exactly as with the plain
/// pattern; a longer match can tokenize differently only inside itself.</para>
/// <para>Because every piece yields at least one token, a token covers at most <see cref="MaxPieceChars"/> characters,
/// which bounds how much text any token budget can consume.</para>
/// </remarks>
internal sealed class BoundedPreTokenizer : PreTokenizer
{
    /// <summary>Longest piece handed to BPE, in UTF-16 characters.</summary>
    internal const int MaxPieceChars = 64;

    [ThreadStatic]
    private static CancellationToken t_cancellation;

    [ThreadStatic]
    private static long t_chars;

    [ThreadStatic]
    private static long t_pieceChars;

    [ThreadStatic]
    private static int t_longestPiece;

    [ThreadStatic]
    private static Action<long>? t_pieceHook;

    private readonly Regex _regex;

    /// <summary>Initializes a new instance of the <see cref="BoundedPreTokenizer"/> class.</summary>
    /// <param name="regex">The split pattern.</param>
    public BoundedPreTokenizer(Regex regex)
    {
        _regex = regex;
    }

    /// <summary>Gets the number of characters this thread has byte-pair encoded since <see cref="ResetCharsHandedOut"/>
    /// (pieces found in <see cref="PieceTokenizer"/>'s per-call cache are not encoded again and not counted; for tests).</summary>
    internal static long CharsHandedOut => t_chars;

    /// <summary>Gets the number of characters in the pieces this thread has walked since <see cref="ResetCharsHandedOut"/>,
    /// cached or not (for tests).</summary>
    internal static long PieceChars => t_pieceChars;

    /// <summary>Gets the longest piece this thread has handed to BPE since <see cref="ResetCharsHandedOut"/> (for tests).</summary>
    internal static int LongestPiece => t_longestPiece;

    /// <summary>Sets a callback run on this thread before every piece with the running count of piece characters (for tests).</summary>
    internal static Action<long>? PieceHook
    {
        get => t_pieceHook;
        set => t_pieceHook = value;
    }

    /// <summary>Resets this thread's counters.</summary>
    internal static void ResetCharsHandedOut()
    {
        t_chars = 0;
        t_pieceChars = 0;
        t_longestPiece = 0;
    }

    /// <summary>Gets the cancellation token of this thread's current encoding call.</summary>
    internal static CancellationToken CurrentCancellation => t_cancellation;

    /// <summary>Makes <paramref name="token"/> the token checked before every piece on this thread until the scope is disposed.</summary>
    /// <param name="token">The token.</param>
    /// <returns>The scope.</returns>
    internal static CancellationScope Cancellation(CancellationToken token)
    {
        CancellationToken previous = t_cancellation;
        t_cancellation = token;
        return new CancellationScope(previous);
    }

    /// <inheritdoc/>
    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }

        return Split(text, null, text.Length, _regex);
    }

    /// <inheritdoc/>
    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return [];
        }

        char[] buffer = ArrayPool<char>.Shared.Rent(text.Length);
        text.CopyTo(buffer);
        return Split(null, buffer, text.Length, _regex);
    }

    private static IEnumerable<(int Offset, int Length)> Split(string? text, char[]? buffer, int length, Regex regex)
    {
        try
        {
            int at = 0;
            while (at < length)
            {
                (int start, int matched) = NextMatch(regex, text is not null ? text.AsSpan(0, length) : buffer.AsSpan(0, length), at);
                if (start >= length)
                {
                    break;
                }

                if (matched == 0)
                {
                    // An empty match (possible only with a custom pattern) yields nothing; move on.
                    at = start + 1;
                    continue;
                }

                int end = start + matched;
                while (start < end)
                {
                    int piece = PieceLength(text is not null ? text.AsSpan(0, length) : buffer.AsSpan(0, length), start, end);
                    OnPiece(piece);
                    yield return (start, piece);
                    start += piece;
                }

                at = end;
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<char>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>The next pattern match at or after <paramref name="at"/>, found in the text from <paramref name="at"/> on
    /// (as the pattern sees it there); (<c>text.Length</c>, 0) when there is none.</summary>
    internal static (int Start, int Length) NextMatch(Regex regex, ReadOnlySpan<char> text, int at)
    {
        foreach (ValueMatch m in regex.EnumerateMatches(text[at..]))
        {
            return (at + m.Index, m.Length);
        }

        return (text.Length, 0);
    }

    /// <summary>The length of the piece that starts at <paramref name="start"/> in a match ending at <paramref name="end"/>:
    /// at most <see cref="MaxPieceChars"/>, one less when the cut would split a surrogate pair.</summary>
    internal static int PieceLength(ReadOnlySpan<char> text, int start, int end)
    {
        int piece = Math.Min(MaxPieceChars, end - start);
        if (start + piece < end && char.IsHighSurrogate(text[start + piece - 1]))
        {
            piece--;
        }

        return piece;
    }

    /// <summary>Called before every piece: counts it, runs the test hook, checks the thread's cancellation token.</summary>
    internal static void OnPiece(int length)
    {
        t_pieceChars += length;
        t_longestPiece = Math.Max(t_longestPiece, length);
        t_pieceHook?.Invoke(t_pieceChars);
        t_cancellation.ThrowIfCancellationRequested();
    }

    /// <summary>Called when a piece is byte-pair encoded (not found in a cache): counts its characters.</summary>
    internal static void OnBytePairEncode(int length) => t_chars += length;

    /// <summary>Restores the previous cancellation token of the thread.</summary>
    internal readonly struct CancellationScope : IDisposable
    {
        private readonly CancellationToken _previous;

        internal CancellationScope(CancellationToken previous)
        {
            _previous = previous;
        }

        /// <inheritdoc/>
        public void Dispose() => t_cancellation = _previous;
    }
}
