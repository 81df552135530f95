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

    /// <summary>Gets the number of characters this thread has handed to BPE since <see cref="ResetCharsHandedOut"/> (for tests).</summary>
    internal static long CharsHandedOut => t_chars;

    /// <summary>Gets the longest piece this thread has handed to BPE since <see cref="ResetCharsHandedOut"/> (for tests).</summary>
    internal static int LongestPiece => t_longestPiece;

    /// <summary>Sets a callback run on this thread before every piece with the running character count (for tests).</summary>
    internal static Action<long>? PieceHook
    {
        get => t_pieceHook;
        set => t_pieceHook = value;
    }

    /// <summary>Resets this thread's counters.</summary>
    internal static void ResetCharsHandedOut()
    {
        t_chars = 0;
        t_longestPiece = 0;
    }

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
                (int start, int matched) = NextMatch(regex, text, buffer, at, length);
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
                    int piece = Math.Min(MaxPieceChars, end - start);
                    if (start + piece < end && char.IsHighSurrogate(At(text, buffer, start + piece - 1)))
                    {
                        piece--;
                    }

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

    private static char At(string? text, char[]? buffer, int index) => text is not null ? text[index] : buffer![index];

    private static (int Start, int Length) NextMatch(Regex regex, string? text, char[]? buffer, int at, int length)
    {
        ReadOnlySpan<char> rest = text is not null ? text.AsSpan(at, length - at) : buffer.AsSpan(at, length - at);
        foreach (ValueMatch m in regex.EnumerateMatches(rest))
        {
            return (at + m.Index, m.Length);
        }

        return (length, 0);
    }

    private static void OnPiece(int length)
    {
        t_chars += length;
        t_longestPiece = Math.Max(t_longestPiece, length);
        t_pieceHook?.Invoke(t_chars);
        t_cancellation.ThrowIfCancellationRequested();
    }

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
