using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using SafeRoute.Models;

namespace SafeRoute.Text;

/// <summary>The token ids of one rendered guard prompt.</summary>
/// <param name="TokenIds">Template ids with the user text spliced in; never a special id from user text.</param>
/// <param name="Truncated">Whether user text was shortened to fit the encoder's maximum sequence length.</param>
internal readonly record struct EncodedPrompt(int[] TokenIds, bool Truncated)
{
    /// <summary>Classifiers: the segment id of each token (0 prompt, 1 response), or null for a decoder.</summary>
    public int[]? TypeIds { get; init; }

    /// <summary>Classifiers: the windows after the first one of a long input (each scanned; the worst decides), or null.</summary>
    public EncodedPrompt[]? MoreWindows { get; init; }

    /// <summary>Per-policy decoders: the rendered prompt of every policy, in policy order (the first is this one), or null.</summary>
    public EncodedPrompt[]? PolicyRows { get; init; }
}

/// <summary>Turns requests into token ids for one guard model. Implementations are thread-safe and never turn user
/// text into special ids.</summary>
internal interface IPromptEncoder
{
    /// <summary>The most tokens one encoded row (window) may have.</summary>
    int MaxSequenceLength { get; }

    /// <summary>Encodes a request.</summary>
    EncodedPrompt Encode(SafetyRequest request, CancellationToken cancellationToken = default);

    /// <summary>Encodes without <see cref="SafetyRequest"/>'s validation (a white-space prompt is allowed).</summary>
    EncodedPrompt EncodeRaw(string prompt, string? response, CancellationToken cancellationToken = default);
}

/// <summary>
/// Renders a <see cref="SafetyRequest"/> through a guard's template and tokenizer. CONTRACT (implemented in Text/):
/// thread-safe; user text is encoded with a tokenizer that knows no special tokens; special ids come only from the
/// template; over-long input keeps the head and tail of the user text and never cuts the template.
/// </summary>
/// <remarks>
/// <para><b>Rendering.</b> The template is a sequence of special ids (from special-token strings in the trusted
/// template text) and text runs. Each text run, with the user text substituted, is encoded in one tokenizer pass by a
/// tokenizer that has no special tokens, so user text can never produce a special id; every id a run produces is
/// checked to be below <see cref="BaseVocabularySize"/>. Then the suffix ids (Llama Guard 3: 271, "\n\n") follow.</para>
/// <para><b>User text.</b> Lone UTF-16 surrogates are replaced with U+FFFD; then, when the template asks for it (the
/// default), the text is stripped with Python's <c>str.strip()</c> semantics (which also removes U+001C–U+001F). A
/// response that is <see langword="null"/> or only (Python) white space is absent: the prompt-only template is used.</para>
/// <para><b>Truncation.</b> When the sequence would exceed <see cref="MaxSequenceLength"/>, only user text is
/// shortened, never the template. The token budget left by the template is shared: when one text needs less than
/// half, the other gets the rest; otherwise each gets half. An over-long text keeps its head and its tail (the head
/// gets the extra token of an odd split) joined by the marker <c>"\n…\n"</c> (newline, U+2026, newline), whose
/// tokens count against the budget. Cut points come from the tokenizer's token-count index functions and never split
/// a surrogate pair. The result is rendered and encoded again; if boundary effects make it overshoot, the budget
/// shrinks by the overshoot and the loop repeats, so the result always fits. <see cref="EncodedPrompt.Truncated"/> is
/// then <see langword="true"/>.</para>
/// <para><b>Bounded cost.</b> The pre-tokenizer (<see cref="BoundedPreTokenizer"/>) hands BPE pieces of at most
/// <see cref="CharsPerTokenCap"/> (64) characters: a pattern match longer than that (a run of digits under GPT-2's
/// pattern, a run of symbols, U+001C–U+001F mixed with symbols) is cut into consecutive 64-character chunks (a chunk
/// end never splits a surrogate pair), so only texts with such matches can encode differently from a one-pass
/// tokenization, and only inside those matches. As every piece yields a token, n tokens never cover more than 64 × n
/// characters, so: a text longer than 64 characters per available token is over-long without being counted; counting
/// stops one token past the budget; the first render of a text stops once the sequence is over the maximum; and the
/// head and tail cut points are found in windows of the text's ends (4 characters per kept token plus 64, then sized
/// from the characters per token seen, at most 64 per token). Encoding work grows with the token budget, not with
/// the input (only the linear clean-up scans, <c>strip</c> and the surrogate check, touch the whole text). Text is
/// tokenized by <see cref="PieceTokenizer"/> (the same ids and cut points as Microsoft.ML.Tokenizers 2.0.1's
/// <c>TiktokenTokenizer</c>), which byte-pair encodes each distinct piece of 16 or more characters once per call: runs
/// of long-token symbols, whose 64-character pieces each cost a long merge, repeat a few pieces. The cancellation token
/// passed to <see cref="Encode"/> is checked before every piece, cached or not.</para>
/// </remarks>
internal sealed partial class PromptEncoder : IPromptEncoder
{
    /// <summary>The text put between the kept head and tail of a shortened user text.</summary>
    public const string TruncationMarker = "\n\u2026\n";

    /// <summary>The most characters one token can cover: every pre-tokenizer piece is at most this long and yields at least one token.</summary>
    /// <remarks>
    /// So a text longer than this many characters per available token cannot fit and is shortened without being
    /// counted, and the first (or last) n tokens of any text lie within its first (or last) n × this many characters:
    /// tokenization work is bounded by the token budget, not by the length of the input.
    /// </remarks>
    internal const int CharsPerTokenCap = BoundedPreTokenizer.MaxPieceChars;

    /// <summary>Characters per wanted token in the first head or tail window (grown while too small).</summary>
    private const int FirstWindowCharsPerToken = 4;

    private readonly ITextTokenizer _tokenizer;
    private readonly PromptTemplate _promptOnly;
    private readonly PromptTemplate? _promptAndResponse;
    private readonly int[] _suffix;
    private readonly bool _strip;
    private readonly string _source;
    private readonly int _fixedPromptOnly;
    private readonly int _fixedPromptAndResponse;
    private readonly int _markerCost;
    private readonly Regex _pattern;
    private readonly CompiledSegment[] _compiledPromptOnly;
    private readonly CompiledSegment[]? _compiledPromptAndResponse;

    [ThreadStatic]
    private static List<int>? t_scratch;

    private PromptEncoder(ITextTokenizer tokenizer, Regex pattern, int baseVocabularySize, int maxSequenceLength, PromptTemplate promptOnly, PromptTemplate? promptAndResponse, int[] suffix, bool strip, string source)
    {
        _tokenizer = tokenizer;
        _pattern = pattern;
        BaseVocabularySize = baseVocabularySize;
        MaxSequenceLength = maxSequenceLength;
        _promptOnly = promptOnly;
        _promptAndResponse = promptAndResponse;
        _suffix = suffix;
        _strip = strip;
        _source = source;
        _compiledPromptOnly = Compile(promptOnly);
        _compiledPromptAndResponse = promptAndResponse is null ? null : Compile(promptAndResponse);
        _fixedPromptOnly = Render(promptOnly, "", null).Count;
        _fixedPromptAndResponse = promptAndResponse is null ? 0 : Render(promptAndResponse, "", "").Count;
        _markerCost = tokenizer.CountAll(TruncationMarker) + 1;
    }

    /// <summary>Gets how many template ids of the prompt-only template are cached rather than tokenized per call.</summary>
    internal int CachedTemplateIds
    {
        get
        {
            int count = 0;
            foreach (CompiledSegment segment in _compiledPromptOnly)
            {
                count += segment.Head.Length + segment.Tail.Length;
            }

            return count;
        }
    }

    /// <summary>Gets the text tokenizer (no special tokens), for tests.</summary>
    internal PieceTokenizer TextTokenizer => _tokenizer as PieceTokenizer ?? throw new InvalidOperationException("The text tokenizer is not a PieceTokenizer.");

    /// <summary>Gets the text tokenizer, whatever its kind, for tests.</summary>
    internal ITextTokenizer AnyTextTokenizer => _tokenizer;

    /// <summary>Gets the longest sequence <see cref="Encode"/> returns.</summary>
    public int MaxSequenceLength { get; }

    /// <summary>Gets the number of ranks in the tokenizer file (one more than the largest); user text ids are always below it.</summary>
    public int BaseVocabularySize { get; }

    /// <summary>Gets one more than the largest id the tokenizer knows: its ranks and its special tokens.</summary>
    public long VocabularySize { get; private init; }

    /// <summary>Builds the encoder a manifest describes.</summary>
    /// <param name="manifest">The manifest (its tokenizer, template and maxSequenceLength).</param>
    /// <returns>The encoder.</returns>
    /// <exception cref="SafeRouteException">The tokenizer file or the template is missing or invalid, or the template
    /// alone does not fit in maxSequenceLength; the message names the file and the field.</exception>
    public static PromptEncoder Create(GuardManifest manifest) => Create(manifest, null, null);

    /// <summary>Creates the encoder of one policy of a per-policy guard: the policy's texts go in the templates'
    /// <c>{policy}</c>. The tokenizer of <paramref name="sibling"/> (an encoder of the same manifest) is shared.</summary>
    /// <param name="manifest">The manifest.</param>
    /// <param name="policy">The policy, or null for a single-pass guard.</param>
    /// <param name="sibling">An encoder of the same manifest whose tokenizer is reused, or null to load it.</param>
    /// <returns>The encoder.</returns>
    internal static PromptEncoder Create(GuardManifest manifest, ResolvedPolicy? policy, PromptEncoder? sibling)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        string file = manifest.FilePath.Length > 0 ? manifest.FilePath : "(manifest in memory)";
        SafeRouteException Fail(string field, string problem) => new($"The manifest '{file}' is invalid: '{field}' {problem}.");

        TokenizerManifest tok = manifest.Tokenizer ?? throw Fail("tokenizer", "is missing");
        TemplateManifest tpl = manifest.Template ?? throw Fail("template", "is missing");
        bool byteLevelJson = string.Equals(tok.Kind, "bpe", StringComparison.Ordinal);
        bool sentencePiece = string.Equals(tok.Kind, "sentencepiece-bpe", StringComparison.Ordinal);
        if (!byteLevelJson && !sentencePiece && !string.Equals(tok.Kind, "tiktoken", StringComparison.Ordinal))
        {
            throw Fail("tokenizer.kind", $"is '{tok.Kind}'; a decoder reads 'tiktoken' (a rank file), 'bpe' (a Hugging Face byte-level BPE tokenizer.json) or 'sentencepiece-bpe' (a Hugging Face SentencePiece-style BPE tokenizer.json: Gemma, Llama 2)");
        }

        if ((byteLevelJson || sentencePiece) && string.IsNullOrWhiteSpace(tok.Path))
        {
            throw Fail("tokenizer.path", $"is missing (tokenizer.kind '{tok.Kind}' reads a tokenizer.json file; 'builtin' is for rank data)");
        }

        if (string.IsNullOrWhiteSpace(tok.Path) == string.IsNullOrWhiteSpace(tok.Builtin))
        {
            throw Fail("tokenizer.path", "or 'tokenizer.builtin' must be given, and not both");
        }

        if (manifest.MaxSequenceLength < 1)
        {
            throw Fail("maxSequenceLength", $"is {manifest.MaxSequenceLength.ToString(CultureInfo.InvariantCulture)}; it must be positive");
        }

        // Pattern and special tokens.
        string pattern;
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        if (sentencePiece)
        {
            // No split pattern: the tokenizer.json's own normalizer and pre-tokenizer apply; preset and pattern are unused.
            if (tok.Pattern is not null)
            {
                throw Fail("tokenizer.pattern", "may not be given when tokenizer.kind is 'sentencepiece-bpe' (the tokenizer.json has its own normalizer and pre-tokenizer)");
            }

            pattern = "(?s).+";
        }
        else if (string.Equals(tok.Preset, "custom", StringComparison.Ordinal))
        {
            if (string.IsNullOrEmpty(tok.Pattern))
            {
                throw Fail("tokenizer.pattern", "is missing (required when tokenizer.preset is 'custom')");
            }

            pattern = tok.Pattern;
        }
        else if (TokenizerPresets.TryGet(tok.Preset ?? "", out string presetPattern, out IReadOnlyDictionary<string, int> presetSpecial))
        {
            if (tok.Pattern is not null)
            {
                throw Fail("tokenizer.pattern", "may only be given when tokenizer.preset is 'custom'");
            }

            pattern = presetPattern;
            foreach (KeyValuePair<string, int> pair in presetSpecial)
            {
                special[pair.Key] = pair.Value;
            }
        }
        else
        {
            throw Fail("tokenizer.preset", $"is '{tok.Preset}'; expected 'llama3', 'qwen3', 'gpt2', 'r50k', 'cl100k', 'o200k' or 'custom'");
        }

        if (tok.SpecialTokens is not null)
        {
            foreach (KeyValuePair<string, int> pair in tok.SpecialTokens)
            {
                if (string.IsNullOrEmpty(pair.Key))
                {
                    throw Fail("tokenizer.specialTokens", "has an empty token string");
                }

                special[pair.Key] = pair.Value;
            }
        }

        Regex regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException ex)
        {
            throw new SafeRouteException($"The manifest '{file}' is invalid: 'tokenizer.pattern' is not a valid .NET regular expression: {ex.Message}", ex);
        }

        string tokenizerPath = tok.Builtin is { Length: > 0 } builtin ? $"builtin:{builtin}" : manifest.Resolve(tok.Path!);
        int baseVocabularySize;
        byte[] bytes = [];
        SentencePieceBpeTokenizer? sentencePieceTokenizer = sibling?._tokenizer as SentencePieceBpeTokenizer;
        if (sentencePiece && sibling is null)
        {
            sentencePieceTokenizer = SentencePieceBpeTokenizer.Load(tokenizerPath, $"manifest '{file}', field 'tokenizer.path'");
        }

        HashSet<int>? textForbidden = null;
        if (sentencePieceTokenizer is not null)
        {
            // Text ids span the whole vocabulary (special tokens included, as SentencePiece numbers them); the special
            // ids are the file's special added tokens, which the text tokenizer never produces, or ids above the file.
            baseVocabularySize = sentencePieceTokenizer.VocabularySize;
            foreach (KeyValuePair<string, int> pair in special)
            {
                if (pair.Value < baseVocabularySize && !sentencePieceTokenizer.SpecialTokens.Values.Contains(pair.Value))
                {
                    throw Fail("tokenizer.specialTokens", $"maps '{pair.Key}' to {pair.Value.ToString(CultureInfo.InvariantCulture)}, which is a text token of the tokenizer.json, not one of its special added tokens");
                }
            }

            foreach (KeyValuePair<string, int> pair in sentencePieceTokenizer.SpecialTokens)
            {
                special.TryAdd(pair.Key, pair.Value);
            }

            textForbidden = [.. special.Values];
        }
        else if (sibling is not null)
        {
            baseVocabularySize = sibling.BaseVocabularySize;
            bytes = [];
            foreach (KeyValuePair<string, int> pair in sibling.SpecialTokens)
            {
                special.TryAdd(pair.Key, pair.Value);
            }
        }
        else if (byteLevelJson)
        {
            bytes = ByteLevelBpeFile.Load(tokenizerPath, $"manifest '{file}', field 'tokenizer.path'", out baseVocabularySize, out Dictionary<string, int> added);
            foreach (KeyValuePair<string, int> pair in added)
            {
                // The file's added tokens are template-only special tokens too (a preset's or the manifest's win).
                special.TryAdd(pair.Key, pair.Value);
            }
        }
        else
        {
            bytes = tok.Builtin is { Length: > 0 } builtinName
                ? TiktokenFile.LoadBuiltin(builtinName, $"manifest '{file}', field 'tokenizer.builtin'", out baseVocabularySize)
                : TiktokenFile.Load(tokenizerPath, $"manifest '{file}', field 'tokenizer.path'", out baseVocabularySize);
        }
        foreach (KeyValuePair<string, int> pair in special)
        {
            if (pair.Value < baseVocabularySize && sentencePieceTokenizer is null)
            {
                throw Fail("tokenizer.specialTokens", $"maps '{pair.Key}' to {pair.Value.ToString(CultureInfo.InvariantCulture)}, which is not above the tokenizer's ranks (0–{(baseVocabularySize - 1).ToString(CultureInfo.InvariantCulture)})");
            }
        }

        ITextTokenizer tokenizer;
        try
        {
            // No special tokens anywhere in the text tokenizer: user text can never encode to a special id.
            tokenizer = sibling?._tokenizer ?? (ITextTokenizer?)sentencePieceTokenizer ?? (ITextTokenizer)new PieceTokenizer(regex, RankTable.Parse(bytes));
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException or IOException)
        {
            throw new SafeRouteException($"The tokenizer file '{tokenizerPath}' (manifest '{file}', field 'tokenizer.path') could not be loaded: {ex.Message}", ex);
        }

        // Template.
        PromptTemplate promptOnly;
        PromptTemplate? promptAndResponse;
        int[]? suffix = tpl.SuffixTokenIds;
        bool? strip = tpl.StripUserText;
        switch (tpl.Kind)
        {
            case "llama-guard-3-1b" or "llama-guard-3-8b":
                {
                    if (tpl.PromptOnly is not null || tpl.PromptAndResponse is not null)
                    {
                        throw Fail("template.promptOnly/promptAndResponse", $"must not be given when template.kind is '{tpl.Kind}' (the template is built in)");
                    }

                    foreach (string required in (string[])["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"])
                    {
                        if (!special.ContainsKey(required))
                        {
                            throw Fail("tokenizer.specialTokens", $"lacks '{required}', which template.kind '{tpl.Kind}' needs (use tokenizer.preset 'llama3')");
                        }
                    }

                    if (tpl.Prefill is not null)
                    {
                        throw Fail("template.prefill", $"must not be given when template.kind is '{tpl.Kind}' (Llama Guard 3's verdict is the first token after its suffix)");
                    }

                    bool is8B = tpl.Kind == "llama-guard-3-8b";
                    promptOnly = PromptTemplate.Parse(PromptTemplate.LlamaGuard3Text(is8B, false, tpl.ReferenceCompatiblePrefix), special, false, p => Fail("template.kind", p));
                    promptAndResponse = PromptTemplate.Parse(PromptTemplate.LlamaGuard3Text(is8B, true, tpl.ReferenceCompatiblePrefix), special, true, p => Fail("template.kind", p));
                    suffix ??= [271];
                    break;
                }

            case var kind when FamilyTemplates.TryGet(kind, out FamilyTemplate? family):
                {
                    if (tpl.PromptOnly is not null || tpl.PromptAndResponse is not null)
                    {
                        throw Fail("template.promptOnly/promptAndResponse", $"must not be given when template.kind is '{tpl.Kind}' (the template is built in)");
                    }

                    if (tpl.ReferenceCompatiblePrefix)
                    {
                        throw Fail("template.referenceCompatiblePrefix", "applies only to the built-in Llama Guard 3 templates");
                    }

                    foreach (string required in family.RequiredSpecialTokens)
                    {
                        if (!special.ContainsKey(required))
                        {
                            throw Fail("tokenizer.specialTokens", $"lacks '{required}', which template.kind '{tpl.Kind}' needs");
                        }
                    }

                    string prefill = EscapeBraces(tpl.Prefill ?? family.Prefill ?? "");
                    promptOnly = PromptTemplate.Parse(WithPolicy(family.PromptOnly, policy?.Text) + prefill, special, false, p => Fail("template.kind", p));
                    promptAndResponse = family.PromptAndResponse is null
                        ? null
                        : PromptTemplate.Parse(WithPolicy(family.PromptAndResponse, policy?.ResponseText) + prefill, special, true, p => Fail("template.kind", p));
                    suffix ??= [];
                    strip ??= family.Strip;
                    break;
                }

            case "custom":
                if (tpl.ReferenceCompatiblePrefix)
                {
                    throw Fail("template.referenceCompatiblePrefix", "applies only to the built-in Llama Guard 3 templates");
                }

                if (string.IsNullOrEmpty(tpl.PromptOnly))
                {
                    throw Fail("template.promptOnly", "is missing (required when template.kind is 'custom')");
                }

                {
                    string prefill = EscapeBraces(tpl.Prefill ?? "");
                    promptOnly = PromptTemplate.Parse(WithPolicy(tpl.PromptOnly, policy?.Text) + prefill, special, false, p => Fail("template.promptOnly", p));
                    promptAndResponse = tpl.PromptAndResponse is null
                        ? null
                        : PromptTemplate.Parse(WithPolicy(tpl.PromptAndResponse, policy?.ResponseText) + prefill, special, true, p => Fail("template.promptAndResponse", p));
                    suffix ??= [];
                    break;
                }

            default:
                throw Fail("template.kind", $"is '{tpl.Kind}'; expected 'llama-guard-3-1b', 'llama-guard-3-8b', {string.Join(", ", FamilyTemplates.Kinds.Select(k => $"'{k}'"))} or 'custom'");
        }

        if (suffix.Any(id => id < 0))
        {
            throw Fail("template.suffixTokenIds", "has a negative id");
        }

        long vocabularySize = special.Count == 0 ? baseVocabularySize : Math.Max(baseVocabularySize, special.Values.Max() + 1L);
        bool nfc = (tok.Normalization ?? (tok.Preset == "qwen3" ? "nfc" : "none")) == "nfc";
        var encoder = new PromptEncoder(tokenizer, regex, baseVocabularySize, manifest.MaxSequenceLength, promptOnly, promptAndResponse, [.. suffix], strip ?? true, file)
        {
            VocabularySize = vocabularySize,
            Nfc = nfc,
            SpecialTokens = special,
            TextForbiddenIds = textForbidden,
        };
        int fixedCost = Math.Max(encoder._fixedPromptOnly, encoder._fixedPromptAndResponse);
        if (fixedCost > manifest.MaxSequenceLength)
        {
            throw Fail("maxSequenceLength", $"is {manifest.MaxSequenceLength.ToString(CultureInfo.InvariantCulture)}, but the template alone takes {fixedCost.ToString(CultureInfo.InvariantCulture)} tokens");
        }

        return encoder;
    }

    /// <summary>
    /// The Microsoft.ML.Tokenizers tokenizer (2.0.1's <c>TiktokenTokenizer</c> over <see cref="BoundedPreTokenizer"/>, no
    /// special tokens) whose ids and index functions <see cref="PieceTokenizer"/> reproduces; for the tests that compare
    /// the two. Not used to encode.
    /// </summary>
    /// <param name="manifest">A valid manifest (its tokenizer preset or pattern, and path or builtin).</param>
    /// <returns>The reference tokenizer.</returns>
    internal static Tokenizer CreateReferenceTokenizer(GuardManifest manifest)
    {
        TokenizerManifest tok = manifest.Tokenizer!;
        string pattern = string.Equals(tok.Preset, "custom", StringComparison.Ordinal)
            ? tok.Pattern!
            : TokenizerPresets.TryGet(tok.Preset ?? "", out string presetPattern, out _) ? presetPattern : throw new ArgumentException("Unknown preset.", nameof(manifest));
        byte[] bytes = tok.Kind == "bpe"
            ? ByteLevelBpeFile.Load(manifest.Resolve(tok.Path!), "reference", out _, out _)
            : tok.Builtin is { Length: > 0 } builtin
            ? TiktokenFile.LoadBuiltin(builtin, "reference", out _)
            : TiktokenFile.Load(manifest.Resolve(tok.Path!), "reference", out _);
        using var stream = new MemoryStream(bytes, writable: false);
        return TiktokenTokenizer.Create(stream, new BoundedPreTokenizer(new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant)), null, null);
    }

    /// <summary>Encodes a request. Thread-safe.</summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Checked before every pre-tokenizer piece while encoding.</param>
    /// <returns>The ids, at most <see cref="MaxSequenceLength"/> of them.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public EncodedPrompt Encode(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return EncodeRaw(request.Prompt, request.Response, cancellationToken);
    }

    /// <summary>
    /// Encodes a prompt and optional response without <see cref="SafetyRequest"/>'s validation (so a white-space prompt,
    /// such as contextual calibration's content-free input " ", is allowed). Thread-safe.
    /// </summary>
    /// <param name="prompt">The prompt (may be empty or white space).</param>
    /// <param name="response">The response; <see langword="null"/> or only white space means none.</param>
    /// <param name="cancellationToken">Checked before every pre-tokenizer piece while encoding.</param>
    /// <returns>The ids, at most <see cref="MaxSequenceLength"/> of them.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public EncodedPrompt EncodeRaw(string prompt, string? response, CancellationToken cancellationToken = default)
    {
        ReadOnlySpan<int> ids = EncodeTransient(prompt, response, cancellationToken, out bool truncated, out int[]? owned);
        return new EncodedPrompt(owned ?? ids.ToArray(), truncated);
    }

    /// <summary>
    /// Encodes without copying the ids out of this thread's scratch buffer: the span is valid only until the next
    /// encoding on the same thread. Thread-safe.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="truncated">Whether user text was shortened.</param>
    /// <param name="cancellationToken">Checked before every pre-tokenizer piece while encoding.</param>
    /// <returns>The ids, at most <see cref="MaxSequenceLength"/> of them.</returns>
    internal ReadOnlySpan<int> EncodeTransient(SafetyRequest request, out bool truncated, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return EncodeTransient(request.Prompt, request.Response, cancellationToken, out truncated, out _);
    }

    private ReadOnlySpan<int> EncodeTransient(string prompt, string? response, CancellationToken cancellationToken, out bool truncated, out int[]? owned)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        cancellationToken.ThrowIfCancellationRequested();
        using BoundedPreTokenizer.CancellationScope scope = BoundedPreTokenizer.Cancellation(cancellationToken);
        _tokenizer.BeginCall();
        string p = Prepare(prompt);
        string? r = response is null || PythonText.IsAllWhiteSpace(response) ? null : Prepare(response);
        PromptTemplate template = r is null ? _promptOnly : _promptAndResponse
            ?? throw new SafeRouteException($"The manifest '{_source}' has no 'template.promptAndResponse', so this guard cannot check a response.");
        int available = MaxSequenceLength - (r is null ? _fixedPromptOnly : _fixedPromptAndResponse);
        long userChars = p.Length + (long)(r?.Length ?? 0);
        bool over = userChars > (long)CharsPerTokenCap * Math.Max(available, 1);
        if (!over)
        {
            // Stops tokenizing once the sequence is over the maximum, so an over-long text costs at most a budget's worth.
            List<int> ids = Render(template, p, r, MaxSequenceLength, out bool complete);
            if (complete && ids.Count <= MaxSequenceLength)
            {
                truncated = false;
                owned = null;
                return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids);
            }

            over = true;
        }

        EncodedPrompt shortened = Truncate(template, p, r, available, over);
        truncated = shortened.Truncated;
        owned = shortened.TokenIds;
        return owned;
    }

    private string Prepare(string text)
    {
        string t = PythonText.ReplaceLoneSurrogates(text);
        t = _strip ? PythonText.Strip(t) : t;

        // The tokenizer's normaliser (Qwen2/Qwen3: NFC) runs on each text run; template text around user text ends and
        // starts with a starter (space, newline), so normalising the user text alone gives the same characters.
        return Nfc && !t.IsNormalized(NormalizationForm.FormC) ? t.Normalize(NormalizationForm.FormC) : t;
    }

    /// <summary>Gets the ids text must never produce when they lie inside the text tokenizer's range (SentencePiece-style
    /// BPE: the special added tokens), or null.</summary>
    internal HashSet<int>? TextForbiddenIds { get; private init; }

    /// <summary>Gets a value indicating whether user text is NFC-normalised before tokenizing (the tokenizer's normaliser).</summary>
    internal bool Nfc { get; private init; }

    /// <summary>Gets the special tokens recognised in template text (and in verdict token strings), by string.</summary>
    internal IReadOnlyDictionary<string, int> SpecialTokens { get; private init; } = new Dictionary<string, int>();

    /// <summary>Encodes trusted text that continues the sequence (a verdict token string, a category prefix) with the text
    /// tokenizer, normalised like user text but never stripped and without a segment-start mark (SentencePiece's
    /// <c>Prepend</c>); a string that is exactly a special token gives its id.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The ids.</returns>
    internal int[] EncodeTrusted(string text)
    {
        if (SpecialTokens.TryGetValue(text, out int special))
        {
            return [special];
        }

        string t = Nfc ? text.Normalize(NormalizationForm.FormC) : text;
        var ids = new List<int>();
        _tokenizer.BeginCall();
        _tokenizer.EncodeContinuation(t, ids);
        return [.. ids];
    }

    /// <summary>The template text with the policy's text in its <c>{policy}</c> placeholders (unchanged without a policy:
    /// a placeholder left in then fails to parse, and the manifest check names the missing policies first).</summary>
    private static string WithPolicy(string template, string? policy) => policy is null ? template : PolicySet.Substitute(template, policy);

    private static string EscapeBraces(string text) => text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);

    /// <summary>Shortens user text until the rendered sequence fits.</summary>
    /// <param name="template">The template.</param>
    /// <param name="prompt">The prepared prompt.</param>
    /// <param name="response">The prepared response, or <see langword="null"/>.</param>
    /// <param name="available">The tokens the template leaves for user text.</param>
    /// <param name="over">Whether the text is already known not to fit (then a lone prompt need not be counted).</param>
    private EncodedPrompt Truncate(PromptTemplate template, string prompt, string? response, int available, bool over)
    {
        int promptCount = over && response is null ? Math.Max(available, 0) + 1 : CountCapped(prompt, available);
        int responseCount = response is null ? 0 : CountCapped(response, available);
        while (true)
        {
            (int promptBudget, int responseBudget) = SplitBudget(available, promptCount, response is null ? -1 : responseCount);
            string p = Shorten(prompt, promptCount, promptBudget);
            string? r = response is null ? null : Shorten(response, responseCount, responseBudget);
            List<int> ids = Render(template, p, r, int.MaxValue, out _);
            if (ids.Count <= MaxSequenceLength)
            {
                return new EncodedPrompt([.. ids], true);
            }

            // Boundary effects (merges across the cut or the template) overshot: shrink and retry. With empty user text
            // the sequence fits (checked at Create), so this ends.
            available -= Math.Max(1, ids.Count - MaxSequenceLength);
        }
    }

    /// <summary>Shares <paramref name="available"/> tokens: a text needing less than half leaves the rest to the other.</summary>
    private static (int Prompt, int Response) SplitBudget(int available, int promptCount, int responseCount)
    {
        if (responseCount < 0)
        {
            return (available, 0);
        }

        int half = available / 2;
        if (promptCount <= half)
        {
            return (promptCount, available - promptCount);
        }

        if (responseCount <= available - half)
        {
            return (available - responseCount, responseCount);
        }

        return (available - half, half);
    }

    /// <summary>Token count of a text when it is at most <paramref name="cap"/>, otherwise <c>cap + 1</c>.</summary>
    /// <remarks>A text longer than <see cref="CharsPerTokenCap"/> characters per token of <c>cap + 1</c> has more
    /// tokens and is not tokenized; otherwise tokenizing stops after <c>cap + 1</c> tokens.</remarks>
    private int CountCapped(string text, int cap)
    {
        cap = Math.Max(cap, 0);
        if (text.Length > (long)CharsPerTokenCap * (cap + 1))
        {
            return cap + 1;
        }

        if (text.Length == 0)
        {
            return 0;
        }

        int index = _tokenizer.IndexByTokenCount(text, cap + 1, out int count);
        return index < text.Length ? cap + 1 : Math.Min(count, cap + 1);
    }

    /// <summary>Keeps the head and tail of <paramref name="text"/> within <paramref name="budget"/> tokens, marker included.</summary>
    private string Shorten(string text, int count, int budget)
    {
        if (count <= budget)
        {
            return text;
        }

        int keep = budget - _markerCost;
        if (keep <= 0)
        {
            return "";
        }

        int headTokens = (keep + 1) / 2;
        int tailTokens = keep - headTokens;

        int headEnd = headTokens > 0 ? SafeEnd(text, HeadIndex(text, headTokens)) : 0;
        int tailStart = tailTokens > 0 ? SafeStart(text, TailIndex(text, tailTokens)) : text.Length;

        tailStart = Math.Max(tailStart, headEnd);
        return string.Concat(text.AsSpan(0, headEnd), TruncationMarker, text.AsSpan(tailStart));
    }

    /// <summary>Moves an end index back so that it does not split a surrogate pair.</summary>
    private static int SafeEnd(string text, int end) =>
        end > 0 && end < text.Length && char.IsHighSurrogate(text[end - 1]) && char.IsLowSurrogate(text[end]) ? end - 1 : end;

    /// <summary>Moves a start index forward so that it does not split a surrogate pair.</summary>
    private static int SafeStart(string text, int start) =>
        start > 0 && start < text.Length && char.IsHighSurrogate(text[start - 1]) && char.IsLowSurrogate(text[start]) ? start + 1 : start;

    /// <summary>Renders into a per-thread scratch list (valid until the next call on this thread) and returns it.</summary>
    private List<int> Render(PromptTemplate template, string prompt, string? response) => Render(template, prompt, response, int.MaxValue, out _);

    /// <summary>Renders into a per-thread scratch list, giving up (<paramref name="complete"/> false) once more than
    /// <paramref name="limit"/> ids are certain.</summary>
    private List<int> Render(PromptTemplate template, string prompt, string? response, int limit, out bool complete)
    {
        CompiledSegment[] segments = ReferenceEquals(template, _promptOnly) ? _compiledPromptOnly : _compiledPromptAndResponse!;
        List<int> ids = t_scratch ??= new List<int>(512);
        ids.Clear();
        complete = true;
        foreach (CompiledSegment segment in segments)
        {
            ids.AddRange(segment.Head);
            if (segment.Variable.Length > 0 && !AppendVariable(segment.Variable, prompt, response, ids, limit))
            {
                complete = false;
                return ids;
            }

            ids.AddRange(segment.Tail);
        }

        ids.AddRange(_suffix);
        return ids;
    }

    /// <summary>Encodes the variable middle of a text run (user text and the template text around it) in one tokenizer
    /// pass; <see langword="false"/> when it stopped because the ids passed <paramref name="limit"/>.</summary>
    private bool AppendVariable(TemplatePart[] parts, string prompt, string? response, List<int> ids, int limit)
    {
        int length = 0;
        foreach (TemplatePart part in parts)
        {
            length += PartText(part, prompt, response).Length;
        }

        if (length == 0)
        {
            return true;
        }

        char[] buffer = ArrayPool<char>.Shared.Rent(length);
        try
        {
            int at = 0;
            foreach (TemplatePart part in parts)
            {
                string text = PartText(part, prompt, response);
                text.CopyTo(0, buffer, at, text.Length);
                at += text.Length;
            }

            return AppendText(buffer.AsSpan(0, length), ids, limit);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    private static string PartText(TemplatePart part, string prompt, string? response) => part.Kind switch
    {
        TemplatePartKind.Prompt => prompt,
        TemplatePartKind.Response => response ?? "",
        _ => part.Text,
    };

    /// <summary>Tokenizes text (no special tokens) and appends the ids, checking each is a base-vocabulary id; stops
    /// (and returns <see langword="false"/>) once the ids would pass <paramref name="limit"/>.</summary>
    private bool AppendText(ReadOnlySpan<char> text, List<int> ids, int limit = int.MaxValue)
    {
        if (limit == int.MaxValue)
        {
            int before = ids.Count;
            _tokenizer.EncodeAll(text, ids);
            CheckIds(ids, before);
            return true;
        }

        int maxTokens = Math.Max(1, limit - ids.Count + 1);
        int first = ids.Count;
        _tokenizer.EncodeUpTo(text, ids, maxTokens, out int consumed);
        CheckIds(ids, first);
        return consumed >= text.Length;
    }

    private void CheckIds(List<int> ids, int from)
    {
        for (int i = from; i < ids.Count; i++)
        {
            int id = ids[i];
            if (TextForbiddenIds is { } forbidden && forbidden.Contains(id))
            {
                throw new SafeRouteException($"The tokenizer of '{_source}' produced the special id {id.ToString(CultureInfo.InvariantCulture)} from text.");
            }

            // Defence in depth: the text tokenizer knows no special tokens, so this cannot happen.
            if ((uint)id >= (uint)BaseVocabularySize)
            {
                throw new SafeRouteException($"The tokenizer of '{_source}' produced id {id.ToString(CultureInfo.InvariantCulture)} from text, outside its {BaseVocabularySize.ToString(CultureInfo.InvariantCulture)} ranks.");
            }

        }
    }

    /// <summary>Encodes fixed template text once (at construction).</summary>
    private int[] EncodeFixed(string text)
    {
        var ids = new List<int>(text.Length);
        AppendText(text, ids);
        return [.. ids];
    }

    /// <summary>
    /// Compiles a template: special ids and user-free runs become cached ids; in a run with placeholders, the literal
    /// text before the first placeholder is cached up to the last pre-tokenizer boundary that user text cannot move
    /// (and the literal text after the last one from the first such boundary), so that per call only the user text and
    /// the few template characters next to it are tokenized, still in one pass.
    /// </summary>
    private CompiledSegment[] Compile(PromptTemplate template)
    {
        var compiled = new List<CompiledSegment>(template.Segments.Count);
        foreach (TemplateSegment segment in template.Segments)
        {
            if (segment.IsSpecial)
            {
                compiled.Add(new CompiledSegment([segment.SpecialId], [], []));
                continue;
            }

            var parts = new List<TemplatePart>(segment.Parts);
            bool variable = parts.Exists(static p => p.Kind != TemplatePartKind.Literal);
            if (!variable)
            {
                string literal = string.Concat(parts.ConvertAll(static p => p.Text));
                compiled.Add(new CompiledSegment(EncodeFixed(literal), [], []));
                continue;
            }

            int[] head = [];
            if (parts[0].Kind == TemplatePartKind.Literal)
            {
                string text = parts[0].Text;
                int cut = HeadCut(text);
                head = cut > 0 ? EncodeFixed(text[..cut]) : [];
                parts[0] = new TemplatePart(TemplatePartKind.Literal, text[cut..]);
            }

            int[] tail = [];
            int last = parts.Count - 1;
            if (parts[last].Kind == TemplatePartKind.Literal)
            {
                string text = parts[last].Text;
                int cut = TailCut(text);
                tail = cut < text.Length ? EncodeFixed(text[cut..]) : [];
                parts[last] = new TemplatePart(TemplatePartKind.Literal, text[..cut]);
            }

            parts.RemoveAll(static p => p.Kind == TemplatePartKind.Literal && p.Text.Length == 0);
            compiled.Add(new CompiledSegment(head, [.. parts], tail));
        }

        return [.. compiled];
    }

    /// <summary>User texts of every character class, used to check that a cache boundary is one user text cannot move.</summary>
    private static readonly string[] s_probes = BuildProbes();

    private static string[] BuildProbes()
    {
        var probes = new List<string>
        {
            "", "ab", "12345", "!", "?!", ".", "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", " ", "  ", "   x",
            "\n", "\r", "\r\n", "\t", "\n\n", " a", "a ", "a\n", "a\n ", "x y", "é", "ß", "ſ", "\u212A", "\u0301", "中文",
            "\u00a0", "\u2028", "\u0085", "\u000b", "\u3000", "\u200d", "😀", "²", "Ⅷ", "٣", "-", "--a", "\\", "{", "_", "<", "\"",
        };

        // Every ASCII letter and digit on its own: contraction letters (s, t, d, m) and letters that merge with a
        // template's trailing letters are where a boundary can move.
        for (char c = 'a'; c <= 'z'; c++)
        {
            probes.Add(c.ToString());
            probes.Add(char.ToUpperInvariant(c).ToString());
        }

        for (char c = '0'; c <= '9'; c++)
        {
            probes.Add(c.ToString());
        }

        return [.. probes];
    }

    /// <summary>Whether <paramref name="position"/> is a pre-tokenizer chunk boundary of <paramref name="text"/>.</summary>
    private bool IsChunkBoundary(string text, int position)
    {
        if (position <= 0 || position >= text.Length)
        {
            return true;
        }

        foreach (ValueMatch match in _pattern.EnumerateMatches(text))
        {
            int end = match.Index + match.Length;
            if (end == position || match.Index == position)
            {
                return true;
            }

            if (match.Index > position)
            {
                break;
            }
        }

        return false;
    }

    /// <summary>The largest pre-tokenizer boundary in <paramref name="literal"/> (text that precedes user text) at which
    /// the ids of the text before it are the same whatever user text follows; 0 when there is none.</summary>
    private int HeadCut(string literal)
    {
        if (_tokenizer is SentencePieceBpeTokenizer)
        {
            // Whole-segment BPE: merges can cross any boundary, so each text run is encoded in one pass per call.
            return 0;
        }

        var ends = new List<int>();
        foreach (ValueMatch match in _pattern.EnumerateMatches(literal))
        {
            ends.Add(match.Index + match.Length);
        }

        for (int k = ends.Count - 1; k >= 0; k--)
        {
            int cut = ends[k];
            if (cut <= 0)
            {
                continue;
            }

            int[] head = EncodeFixed(literal[..cut]);
            string rest = literal[cut..];
            bool stable = true;
            foreach (string probe in s_probes)
            {
                if (!IsChunkBoundary(literal + probe, cut)
                    || !EncodeFixed(literal + probe).AsSpan().SequenceEqual([.. head, .. EncodeFixed(rest + probe)]))
                {
                    stable = false;
                    break;
                }
            }

            if (stable)
            {
                return cut;
            }
        }

        return 0;
    }

    /// <summary>The smallest pre-tokenizer boundary in <paramref name="literal"/> (text that follows user text) from which
    /// the ids of the rest are the same whatever user text precedes; the length of the text when there is none.</summary>
    private int TailCut(string literal)
    {
        if (_tokenizer is SentencePieceBpeTokenizer)
        {
            return literal.Length;
        }

        var starts = new List<int>();
        foreach (ValueMatch match in _pattern.EnumerateMatches(literal))
        {
            starts.Add(match.Index);
        }

        foreach (int cut in starts)
        {
            if (cut <= 0 || cut >= literal.Length)
            {
                continue;
            }

            int[] tail = EncodeFixed(literal[cut..]);
            string before = literal[..cut];
            bool stable = true;
            foreach (string probe in s_probes)
            {
                if (!IsChunkBoundary(probe + literal, probe.Length + cut)
                    || !EncodeFixed(probe + literal).AsSpan().SequenceEqual([.. EncodeFixed(probe + before), .. tail]))
                {
                    stable = false;
                    break;
                }
            }

            if (stable)
            {
                return cut;
            }
        }

        return literal.Length;
    }

    /// <summary>A compiled template segment: cached ids, then (for runs with user text) parts tokenized per call, then cached ids.</summary>
    private sealed record CompiledSegment(int[] Head, TemplatePart[] Variable, int[] Tail);

    /// <summary>The end index of the first <paramref name="tokens"/> tokens (the whole text when it has fewer).</summary>
    /// <remarks>Tokenizes windows of the head, each sized from the characters per token seen in the last, until the tokens end more than one piece
    /// before the window's end or the window holds <see cref="CharsPerTokenCap"/> characters per token.</remarks>
    private int HeadIndex(string text, int tokens)
    {
        long max = Math.Min(text.Length, (long)CharsPerTokenCap * (tokens + 1));
        long window = Math.Min(max, ((long)FirstWindowCharsPerToken * (tokens + 1)) + CharsPerTokenCap);
        while (true)
        {
            int end = SafeEnd(text, (int)window);
            int index = end == text.Length
                ? _tokenizer.IndexByTokenCount(text, tokens, out int count)
                : _tokenizer.IndexByTokenCount(text.AsSpan(0, end), tokens, out count);
            if (window >= max || index <= end - CharsPerTokenCap)
            {
                return index;
            }

            window = NextWindow(window, max, index, count, tokens);
        }
    }

    /// <summary>The next window: the characters per token seen so far, times the wanted tokens, plus a quarter and two
    /// pieces; at least twice the last window and at most <paramref name="max"/>.</summary>
    private static long NextWindow(long window, long max, long charsSeen, int tokensSeen, int tokens)
    {
        double perToken = tokensSeen > 0 ? Math.Min(CharsPerTokenCap, (double)charsSeen / tokensSeen) : CharsPerTokenCap;
        long estimate = (long)(perToken * (tokens + 1) * 1.25) + (2L * CharsPerTokenCap);
        return Math.Min(max, Math.Max(estimate, window * 2));
    }

    /// <summary>The start index of the last <paramref name="tokens"/> tokens (0 when the text has fewer).</summary>
    /// <remarks>Tokenizes windows of the tail, each sized from the characters per token seen in the last, until the tokens start more than one piece
    /// after the window's start or the window holds <see cref="CharsPerTokenCap"/> characters per token.</remarks>
    private int TailIndex(string text, int tokens)
    {
        long max = Math.Min(text.Length, (long)CharsPerTokenCap * (tokens + 1));
        long window = Math.Min(max, ((long)FirstWindowCharsPerToken * (tokens + 1)) + CharsPerTokenCap);
        while (true)
        {
            int start = SafeStart(text, text.Length - (int)window);
            int index = start == 0
                ? _tokenizer.IndexByTokenCountFromEnd(text, tokens, out int count)
                : _tokenizer.IndexByTokenCountFromEnd(text.AsSpan(start), tokens, out count);
            if (window >= max || index >= CharsPerTokenCap)
            {
                return start + index;
            }

            window = NextWindow(window, max, text.Length - start - index, count, tokens);
        }
    }
}
