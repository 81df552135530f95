using SafeRoute.Models;

namespace SafeRoute.Text;

/// <summary>
/// Encodes requests for a sequence-classifier guard (BERT style): <c>[CLS] prompt [SEP]</c>, or
/// <c>[CLS] prompt [SEP] response [SEP]</c> with segment ids 0 for <c>[CLS] prompt [SEP]</c> and 1 for
/// <c>response [SEP]</c>. User text is tokenized by <see cref="WordPieceTokenizer"/> (Hugging Face's BERT normalizer, pre-tokenizer and WordPiece) with no
/// special tokens, so <c>[SEP]</c> typed by a user is ordinary text (white space at either end gives no token and lone
/// surrogates are deleted, as Python's <c>str.strip()</c> and a U+FFFD replacement would before BERT's clean-up).
/// </summary>
/// <remarks>
/// <para><b>Windows.</b> An input longer than <see cref="MaxSequenceLength"/> is cut into consecutive, non-overlapping
/// windows of the content budget (max − 2 tokens for a prompt; for a pair, the prompt keeps its first
/// ⌊(max − 3) / 2⌋ tokens at most and the response is windowed in the rest, each window repeating the kept prompt), up to
/// <c>classifier.maxWindows</c>; the guard scans every window in one batch and the worst (highest p(unsafe)) decides.
/// Text beyond the last window is not seen: the verdict then says <see cref="SafetyVerdict.WasTruncated"/>. The first
/// window is exactly what a trainer that truncates at the head produces.</para>
/// <para><b>Bounded cost.</b> The tokenizer stops one token past the windows' budget, so the WordPiece work grows with
/// the budget; the blank-response check and the tokenizer's scan of a long word are linear in the input, and nothing
/// is copied.</para>
/// </remarks>
internal sealed class ClassifierEncoder : IPromptEncoder
{
    private readonly WordPieceTokenizer _tokenizer;
    private readonly int _cls;
    private readonly int _sep;
    private readonly int _maxWindows;

    private ClassifierEncoder(WordPieceTokenizer tokenizer, int maxSequenceLength, int maxWindows)
    {
        _tokenizer = tokenizer;
        _cls = tokenizer.ClsId;
        _sep = tokenizer.SepId;
        MaxSequenceLength = maxSequenceLength;
        _maxWindows = maxWindows;
    }

    /// <inheritdoc/>
    public int MaxSequenceLength { get; }

    /// <summary>The pad id the vocabulary defines (<c>[PAD]</c>).</summary>
    public int PadTokenId => _tokenizer.PadId;

    /// <summary>The tokenizer (Hugging Face BERT semantics, no special tokens in user text).</summary>
    internal WordPieceTokenizer Tokenizer => _tokenizer;

    public static ClassifierEncoder Create(GuardManifest manifest)
    {
        TokenizerManifest tokenizer = manifest.Tokenizer!;
        if (tokenizer.Kind != "wordpiece")
        {
            throw new SafeRouteException($"The manifest '{manifest.FilePath}': classifier tokenizer kind '{tokenizer.Kind}' is not supported by this version of SafeRoute; use 'wordpiece' (a BERT vocab.txt).");
        }

        if (string.IsNullOrWhiteSpace(tokenizer.Path))
        {
            throw new SafeRouteException($"The manifest '{manifest.FilePath}' is invalid: 'tokenizer.path' is missing (the WordPiece vocab.txt).");
        }

        string path = manifest.Resolve(tokenizer.Path);
        if (!File.Exists(path))
        {
            throw new SafeRouteException($"The tokenizer file '{path}' named by '{manifest.FilePath}' does not exist.");
        }

        WordPieceTokenizer wordPiece;
        try
        {
            wordPiece = WordPieceTokenizer.Load(path, tokenizer.LowerCase);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw new SafeRouteException($"The WordPiece vocabulary '{path}' could not be read: {ex.Message}", ex);
        }

        return new ClassifierEncoder(wordPiece, manifest.MaxSequenceLength, manifest.Classifier!.MaxWindows);
    }

    /// <inheritdoc/>
    public EncodedPrompt Encode(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return EncodeRaw(request.Prompt, request.Response, cancellationToken);
    }

    /// <inheritdoc/>
    public EncodedPrompt EncodeRaw(string prompt, string? response, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        cancellationToken.ThrowIfCancellationRequested();
        // No strip or lone-surrogate pass (a copy of a large input): the tokenizer deletes lone surrogates, U+FFFD and
        // white space at either end produces no token, so the ids are those of the stripped, repaired text.
        string user = prompt;
        string? agent = response is null || SafetyText.IsBlank(response) ? null : response;
        int max = MaxSequenceLength;
        if (agent is null)
        {
            int budget = max - 2;
            List<int> ids = Tokenize(user, (budget * _maxWindows) + 1, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            bool truncated = ids.Count > budget * _maxWindows;
            int count = Math.Min(ids.Count, budget * _maxWindows);
            return Windows(pair: false, [], ids, count, budget, truncated);
        }

        int promptBudget = (max - 3) / 2;
        List<int> promptIds = Tokenize(user, promptBudget + 1, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        bool promptCut = promptIds.Count > promptBudget;
        if (promptCut)
        {
            promptIds.RemoveRange(promptBudget, promptIds.Count - promptBudget);
        }

        int responseBudget = max - 3 - promptIds.Count;
        List<int> responseIds = Tokenize(agent, (responseBudget * _maxWindows) + 1, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        bool responseCut = responseIds.Count > responseBudget * _maxWindows;
        return Windows(pair: true, promptIds, responseIds, Math.Min(responseIds.Count, responseBudget * _maxWindows), responseBudget, promptCut || responseCut);
    }

    /// <summary>Splits <paramref name="content"/> (the prompt alone, or the response after <paramref name="promptIds"/>) into windows.</summary>
    private EncodedPrompt Windows(bool pair, List<int> promptIds, List<int> content, int count, int budget, bool truncated)
    {
        int windows = Math.Max(1, (count + budget - 1) / budget);
        var rows = new EncodedPrompt[windows];
        for (int w = 0; w < windows; w++)
        {
            int start = w * budget;
            int length = Math.Min(budget, count - start);
            rows[w] = pair ? Pair(promptIds, content, start, Math.Max(0, length), truncated) : Single(content, start, Math.Max(0, length), truncated);
        }

        return windows == 1 ? rows[0] : rows[0] with { MoreWindows = rows[1..] };
    }

    private EncodedPrompt Single(List<int> ids, int start, int length, bool truncated)
    {
        int[] row = new int[length + 2];
        row[0] = _cls;
        ids.CopyTo(start, row, 1, length);
        row[^1] = _sep;
        return new EncodedPrompt(row, truncated) { TypeIds = new int[row.Length] };
    }

    private EncodedPrompt Pair(List<int> promptIds, List<int> response, int start, int length, bool truncated)
    {
        int first = promptIds.Count + 2;
        int[] row = new int[first + length + 1];
        int[] types = new int[row.Length];
        row[0] = _cls;
        promptIds.CopyTo(row, 1);
        row[first - 1] = _sep;
        response.CopyTo(start, row, first, length);
        row[^1] = _sep;
        types.AsSpan(first).Fill(1);
        return new EncodedPrompt(row, truncated) { TypeIds = types };
    }

    /// <summary>The ids of <paramref name="text"/>, at most <paramref name="maxTokens"/> (the tokenizer stops there).</summary>
    private List<int> Tokenize(string text, int maxTokens, CancellationToken cancellationToken)
    {
        var ids = new List<int>(Math.Min(maxTokens, 1 + (text.Length / 2)));
        _tokenizer.Encode(text, ids, maxTokens, cancellationToken);
        return ids;
    }
}
