namespace SafeRoute.Text;

/// <summary>A decoder's text tokenizer: no special tokens, so user text can never become a special id. Implemented by
/// <see cref="PieceTokenizer"/> (byte-level BPE over a split pattern) and <see cref="SentencePieceBpeTokenizer"/>
/// (SentencePiece-style BPE from a tokenizer.json).</summary>
internal interface ITextTokenizer
{
    /// <summary>Called at the start of every encoding call (per-call caches).</summary>
    void BeginCall();

    /// <summary>Tokenizes <paramref name="text"/> and appends every id.</summary>
    void EncodeAll(ReadOnlySpan<char> text, List<int> ids);

    /// <summary>Appends the ids of at most <paramref name="maxTokens"/> tokens; <paramref name="consumed"/> gets the
    /// characters they cover (the text's length when all of it was tokenized).</summary>
    int EncodeUpTo(ReadOnlySpan<char> text, List<int>? ids, int maxTokens, out int consumed);

    /// <summary>The end index of the first <paramref name="maxTokens"/> tokens.</summary>
    int IndexByTokenCount(ReadOnlySpan<char> text, int maxTokens, out int tokenCount);

    /// <summary>The start index of the last <paramref name="maxTokens"/> tokens.</summary>
    int IndexByTokenCountFromEnd(ReadOnlySpan<char> text, int maxTokens, out int tokenCount);

    /// <summary>Counts every token of a text.</summary>
    int CountAll(ReadOnlySpan<char> text);

    /// <summary>Encodes text that continues a sequence (verdict tokens, a category prefix). Tokenizers that mark the start
    /// of a segment (SentencePiece's <c>Prepend</c> normalizer) leave that mark out; the others encode as <see cref="EncodeAll"/>.</summary>
    void EncodeContinuation(ReadOnlySpan<char> text, List<int> ids) => EncodeAll(text, ids);
}
