using System.Diagnostics.CodeAnalysis;
using System.Text;
using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute;

/// <summary>
/// A decoder guard family's prompt as text, for guards that run the model on an inference server (an OpenAI-compatible
/// <c>/v1/completions</c> API such as vLLM's): the family's template rendered for a <see cref="SafetyRequest"/>, then the
/// prefill its verdict follows, and the verdict token strings by label. The text is what the local guard tokenizes for
/// the same family (same template, same prefill, same treatment of user text), written with special-token strings,
/// which the server's tokenizer turns into special ids.
/// </summary>
/// <remarks>
/// <para>Formats: <see cref="LlamaGuard3"/> (the default of the remote guard), the built-in families by
/// <c>template.kind</c> (<see cref="FromKind"/>: <c>llama-guard-3-1b</c>, <c>llama-guard-3-8b</c>, <c>qwen3guard-gen</c>,
/// <c>wildguard</c>), and a family described by a model folder's <c>saferoute.json</c> (<see cref="FromModelFolder"/>:
/// template texts, prefill and <c>verdict.labels</c>).</para>
/// <para>User text can never forge the template: every <c>&lt;|</c> in it becomes <c>&lt; |</c>, and every other
/// special-token string the family knows (<c>&lt;s&gt;</c>, <c>[INST]</c>, <c>&lt;think&gt;</c>, the manifest's
/// <c>tokenizer.specialTokens</c>) gets a space after its first character.</para>
/// <para>The beginning-of-text token (<c>&lt;|begin_of_text|&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;bos&gt;</c>) that a template
/// starts with is left out by default, because servers add it themselves when they tokenize a completions prompt
/// (writing it again would double it). Immutable and thread-safe.</para>
/// </remarks>
[Experimental(DiagnosticIds.Scoring)]
public sealed class GuardPromptFormat
{
    private static readonly string[] BeginOfTextStrings = ["<|begin_of_text|>", "<s>", "<bos>"];

    private readonly TemplatePart[] _promptOnly;
    private readonly TemplatePart[]? _promptAndResponse;
    private readonly string _suffix;
    private readonly bool _strip;
    private readonly string[] _neutralized;

    private GuardPromptFormat(string kind, string promptOnly, string? promptAndResponse, string suffix, string? prefill, bool strip, VerdictLabelsManifest labels, bool controversialAsUnsafe, IEnumerable<string> specialTokens, Func<string, Exception> fail)
    {
        Kind = kind;
        _promptOnly = Parse(promptOnly, false, fail);
        _promptAndResponse = promptAndResponse is null ? null : Parse(promptAndResponse, true, fail);
        _suffix = suffix;
        _strip = strip;
        Prefill = prefill;
        SafeTokens = Array.AsReadOnly(labels.Safe!.ToArray());
        UnsafeTokens = Array.AsReadOnly(labels.Unsafe!.ToArray());
        ControversialTokens = Array.AsReadOnly((labels.Controversial ?? []).ToArray());
        ControversialAsUnsafe = controversialAsUnsafe;
        BeginOfText = Array.Find(BeginOfTextStrings, b => promptOnly.StartsWith(b, StringComparison.Ordinal));
        _neutralized = [.. specialTokens.Where(t => t.Length > 1 && !t.StartsWith("<|", StringComparison.Ordinal)).Distinct(StringComparer.Ordinal).OrderByDescending(t => t.Length)];
    }

    /// <summary>Gets the family: the manifest's <c>template.kind</c> (<c>llama-guard-3-8b</c>, <c>qwen3guard-gen</c>, …,
    /// or <c>custom</c>).</summary>
    public string Kind { get; }

    /// <summary>Gets the text the assistant turn starts with, before the verdict token (<c>Safety:</c>,
    /// <c>Harmful request:</c>); <see langword="null"/> for none (Llama Guard 3, whose verdict follows <c>\n\n</c>).</summary>
    public string? Prefill { get; }

    /// <summary>Gets the beginning-of-text string the template starts with, which <see cref="Render"/> leaves out unless
    /// asked; <see langword="null"/> when the template starts with none (Qwen3Guard).</summary>
    public string? BeginOfText { get; }

    /// <summary>Gets the verdict token strings that mean safe (each one token of the family's tokenizer, as the server
    /// writes it: <c>safe</c>, <c> Safe</c>, <c> no</c>).</summary>
    public IReadOnlyList<string> SafeTokens { get; }

    /// <summary>Gets the verdict token strings that mean unsafe.</summary>
    public IReadOnlyList<string> UnsafeTokens { get; }

    /// <summary>Gets the verdict token strings that mean controversial (Qwen3Guard's <c> Cont</c>); empty for two-way families.</summary>
    public IReadOnlyList<string> ControversialTokens { get; }

    /// <summary>Gets a value indicating whether controversial counts as unsafe (strict, the default) rather than safe
    /// (loose): the manifest's <c>verdict.controversialAs</c>.</summary>
    public bool ControversialAsUnsafe { get; }

    /// <summary>Gets a value indicating whether the family can check a response (it has a prompt-and-response template).</summary>
    public bool SupportsResponses => _promptAndResponse is not null;

    /// <summary>Gets the Llama Guard 3 format (Meta's template for one user turn and, with a response, one agent turn,
    /// followed by the <c>\n\n</c> the model writes before <c>safe</c> or <c>unsafe</c>).</summary>
    /// <param name="is8B">8B: categories S1–S14; 1B: S1–S13 and a space before <c>&lt;|eot_id|&gt;</c>.</param>
    /// <returns>The format.</returns>
    public static GuardPromptFormat LlamaGuard3(bool is8B = true) => is8B ? LlamaGuard3Formats.Is8B : LlamaGuard3Formats.Is1B;

    /// <summary>Gets the format of a built-in family by its <c>template.kind</c>.</summary>
    /// <param name="kind"><c>llama-guard-3-1b</c>, <c>llama-guard-3-8b</c>, or a built-in <c>template.kind</c> whose verdict
    /// is one token after the prompt (<c>qwen3guard-gen</c>, <c>wildguard</c>, <c>llama-guard-4</c>,
    /// <c>nemoguard-content-safety</c>); the per-policy families (<c>shieldgemma</c>, <c>granite-guardian</c>) are refused.</param>
    /// <returns>The format.</returns>
    /// <exception cref="ArgumentException"><paramref name="kind"/> is not a built-in family, or is a per-policy family.</exception>
    public static GuardPromptFormat FromKind(string kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        switch (kind)
        {
            case "llama-guard-3-8b":
                return LlamaGuard3(true);
            case "llama-guard-3-1b":
                return LlamaGuard3(false);
        }

        if (!FamilyTemplates.TryGet(kind, out FamilyTemplate? family))
        {
            throw new ArgumentException($"'{kind}' is not a built-in guard family; expected 'llama-guard-3-1b', 'llama-guard-3-8b', {string.Join(", ", FamilyTemplates.Kinds.Select(k => $"'{k}'"))}.", nameof(kind));
        }

        return FromFamily(family, prefill: null, controversialAsUnsafe: true, extraSpecial: [], e => new ArgumentException(e, nameof(kind)));
    }

    /// <summary>Reads the format of a decoder guard from a model folder's <c>saferoute.json</c>: a built-in
    /// <c>template.kind</c> (with the manifest's prefill and <c>verdict.controversialAs</c>), or a <c>custom</c> family's
    /// template texts, prefill and <c>verdict.labels</c>. The model itself is not needed or loaded.</summary>
    /// <param name="modelDirectory">The folder. A relative path is resolved against <see cref="AppContext.BaseDirectory"/>.</param>
    /// <returns>The format.</returns>
    /// <exception cref="ArgumentException"><paramref name="modelDirectory"/> is null or white space.</exception>
    /// <exception cref="SafeRouteException">The manifest is missing or invalid, describes a classifier, gives its verdict
    /// only as token ids (a server's top logprobs name tokens by their text: give <c>verdict.labels</c>), or needs
    /// <c>template.suffixTokenIds</c> (ids cannot be written as prompt text).</exception>
    public static GuardPromptFormat FromModelFolder(string modelDirectory)
    {
        GuardManifest manifest = GuardManifest.Load(modelDirectory);
        SafeRouteException Fail(string field, string problem) => new($"The manifest '{manifest.FilePath}' cannot be served as prompt text: '{field}' {problem}.");
        if (manifest.ModelKind == GuardModelKind.Classifier)
        {
            throw Fail("kind", "is 'classifier', which has no prompt format (a classifier is served over a classification endpoint)");
        }

        TemplateManifest tpl = manifest.Template!;
        VerdictManifest verdict = manifest.Verdict!;
        bool asUnsafe = verdict.ControversialAs == "unsafe";
        if (tpl.Kind is "llama-guard-3-1b" or "llama-guard-3-8b")
        {
            if (tpl.ReferenceCompatiblePrefix || (tpl.SuffixTokenIds is { } s && !s.SequenceEqual([271])) || tpl.StripUserText == false)
            {
                throw Fail("template", "changes the Llama Guard 3 token prefix, suffix or stripping, which the text format does not do");
            }

            return LlamaGuard3(tpl.Kind == "llama-guard-3-8b");
        }

        if (tpl.SuffixTokenIds is { Length: > 0 })
        {
            throw Fail("template.suffixTokenIds", "lists token ids, which cannot be written as prompt text (put the text in 'template.prefill')");
        }

        string[] special = manifest.Tokenizer?.SpecialTokens is { } specialTokens ? [.. specialTokens.Keys] : [];
        if (FamilyTemplates.TryGet(tpl.Kind, out FamilyTemplate? family))
        {
            VerdictLabelsManifest? own = verdict.Labels;
            if (own is null && (verdict.SafeTokenId != -1 || verdict.UnsafeTokenId != -1))
            {
                throw Fail("verdict", "gives token ids only; list the verdict token strings in 'verdict.labels'");
            }

            FamilyTemplate withLabels = own is null ? family : family with { Labels = own };
            return FromFamily(withLabels with { Strip = tpl.StripUserText ?? family.Strip }, tpl.Prefill, asUnsafe, special, e => Fail("template", e));
        }

        if (verdict.Labels is null)
        {
            throw Fail("verdict", "gives token ids only; list the verdict token strings in 'verdict.labels'");
        }

        if (verdict.Policies is not null)
        {
            throw Fail("verdict.policies", "asks for one pass per policy, which one completions prompt cannot express (serve it locally, or one policy per custom template)");
        }

        string prefill = tpl.Prefill ?? "";
        return new GuardPromptFormat(
            "custom",
            tpl.PromptOnly!,
            tpl.PromptAndResponse,
            EscapeBraces(prefill),
            tpl.Prefill,
            tpl.StripUserText ?? true,
            verdict.Labels,
            asUnsafe,
            special,
            e => Fail("template", e));
    }

    /// <summary>Renders the prompt text for <paramref name="request"/>: the template with the user text inserted (stripped
    /// when the family strips it, lone surrogates replaced, special-token strings neutralised), then the prefill.</summary>
    /// <param name="request">The prompt (and optional response) to check.</param>
    /// <param name="includeBeginOfText">Whether the text keeps the template's <see cref="BeginOfText"/> (leave it out when
    /// the server adds BOS, as vLLM, TGI and llama.cpp do).</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is <see langword="null"/>.</exception>
    /// <exception cref="NotSupportedException">The request has a response and the family cannot check one
    /// (<see cref="SupportsResponses"/> is <see langword="false"/>).</exception>
    public string Render(SafetyRequest request, bool includeBeginOfText = false)
    {
        ArgumentNullException.ThrowIfNull(request);
        TemplatePart[] parts = request.HasResponse
            ? _promptAndResponse ?? throw new NotSupportedException($"The '{Kind}' guard format has no prompt-and-response template, so it cannot check a response.")
            : _promptOnly;
        var b = new StringBuilder(2048 + request.Prompt.Length + (request.Response?.Length ?? 0));
        string prompt = Clean(request.Prompt);
        string? response = request.HasResponse ? Clean(request.Response!) : null;
        for (int i = 0; i < parts.Length; i++)
        {
            TemplatePart part = parts[i];
            switch (part.Kind)
            {
                case TemplatePartKind.Prompt:
                    b.Append(prompt);
                    break;
                case TemplatePartKind.Response:
                    b.Append(response);
                    break;
                default:
                    string text = part.Text;
                    if (i == 0 && !includeBeginOfText && BeginOfText is not null && text.StartsWith(BeginOfText, StringComparison.Ordinal))
                    {
                        text = text[BeginOfText.Length..];
                    }

                    b.Append(text);
                    break;
            }
        }

        return b.Append(_suffix).ToString();
    }

    /// <summary>Reads the user prompt and optional response back out of text rendered by <see cref="Render"/> (for servers
    /// such as the SafeRoute.GuardServer sample). User text comes back as it was rendered (stripped and neutralised).</summary>
    /// <param name="text">The prompt text.</param>
    /// <param name="request">The request, when the text is a prompt of this format.</param>
    /// <returns><see langword="true"/> when the text is a prompt of this format.</returns>
    /// <remarks>A response that itself contains the text between the two placeholders is split at its last occurrence.</remarks>
    public bool TryParse(string? text, [NotNullWhen(true)] out SafetyRequest? request)
    {
        request = null;
        if (text is null)
        {
            return false;
        }

        if (TryParse(_promptAndResponse, text, out string? p, out string? r) || TryParse(_promptOnly, text, out p, out r))
        {
            if (SafetyText.IsBlank(p!) || (r is not null && SafetyText.IsBlank(r)))
            {
                return false;
            }

            request = new SafetyRequest(p!, r);
            return true;
        }

        return false;
    }

    /// <summary>The Llama Guard 3 formats, built once.</summary>
    private static class LlamaGuard3Formats
    {
        public static readonly GuardPromptFormat Is8B = Create(true);

        public static readonly GuardPromptFormat Is1B = Create(false);

        private static GuardPromptFormat Create(bool is8B) => new(
            is8B ? "llama-guard-3-8b" : "llama-guard-3-1b",
            PromptTemplate.LlamaGuard3Text(is8B, false, referenceCompatiblePrefix: false),
            PromptTemplate.LlamaGuard3Text(is8B, true, referenceCompatiblePrefix: false),
            "\n\n",
            prefill: null,
            strip: true,
            new VerdictLabelsManifest { Safe = ["safe"], Unsafe = ["unsafe"] },
            controversialAsUnsafe: true,
            [],
            e => new InvalidOperationException(e));
    }

    private static GuardPromptFormat FromFamily(FamilyTemplate family, string? prefill, bool controversialAsUnsafe, string[] extraSpecial, Func<string, Exception> fail)
    {
        if (family.Policies is not null)
        {
            throw fail($"'{family.Kind}' is a per-policy family (one pass per policy), which one completions prompt cannot express; serve it locally (OnnxSafetyGuard) or describe one policy as a 'custom' template");
        }

        string p = prefill ?? family.Prefill ?? "";
        return new GuardPromptFormat(
            family.Kind,
            family.PromptOnly,
            family.PromptAndResponse,
            EscapeBraces(p),
            p.Length == 0 ? null : p,
            family.Strip,
            family.Labels!,
            controversialAsUnsafe,
            [.. family.RequiredSpecialTokens, .. FamilySpecialTokens(family.Kind), .. extraSpecial],
            fail);
    }

    /// <summary>Special-token strings of the family's real tokenizer that user text must not spell (beyond <c>&lt;|…|&gt;</c>).</summary>
    private static string[] FamilySpecialTokens(string kind) => kind switch
    {
        "wildguard" => ["<s>", "</s>", "<unk>", "[INST]", "[/INST]"],
        "qwen3guard-gen" => ["<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"],
        _ => [],
    };

    private static TemplatePart[] Parse(string text, bool withResponse, Func<string, Exception> fail)
    {
        PromptTemplate template = PromptTemplate.Parse(text, new Dictionary<string, int>(), withResponse, fail);
        return [.. template.Segments.SelectMany(s => s.Parts)];
    }

    private static string EscapeBraces(string text) => text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);

    private bool TryParse(TemplatePart[]? parts, string text, out string? prompt, out string? response)
    {
        prompt = null;
        response = null;
        if (parts is null || !text.EndsWith(_suffix, StringComparison.Ordinal))
        {
            return false;
        }

        int length = text.Length - _suffix.Length;
        int at = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            TemplatePart part = parts[i];
            if (part.Kind == TemplatePartKind.Literal)
            {
                string literal = part.Text;
                if (i == 0 && BeginOfText is not null && literal.StartsWith(BeginOfText, StringComparison.Ordinal) && !text.StartsWith(BeginOfText, StringComparison.Ordinal))
                {
                    literal = literal[BeginOfText.Length..];
                }

                if (at + literal.Length > length || string.CompareOrdinal(text, at, literal, 0, literal.Length) != 0)
                {
                    return false;
                }

                at += literal.Length;
                continue;
            }

            // A placeholder runs to the last place where the next literal fits before the fixed text after it.
            if (i + 1 < parts.Length && parts[i + 1].Kind != TemplatePartKind.Literal)
            {
                return false;
            }

            string next = i + 1 < parts.Length ? parts[i + 1].Text : "";
            int after = 0;
            for (int j = i + 2; j < parts.Length; j++)
            {
                after += parts[j].Kind == TemplatePartKind.Literal ? parts[j].Text.Length : 0;
            }

            int stop = -1;
            for (int s = length - after - next.Length; s >= at; s--)
            {
                if (string.CompareOrdinal(text, s, next, 0, next.Length) == 0)
                {
                    stop = s;
                    break;
                }
            }

            if (stop < 0)
            {
                return false;
            }

            string value = text[at..stop];
            if (part.Kind == TemplatePartKind.Prompt)
            {
                if (prompt is not null && prompt != value)
                {
                    return false;
                }

                prompt = value;
            }
            else
            {
                response = value;
            }

            at = stop;
        }

        return at == length && prompt is not null;
    }

    private string Clean(string text)
    {
        string t = SafetyText.ReplaceLoneSurrogates(text);
        t = _strip ? SafetyText.Strip(t) : t;
        return Neutralize(t);
    }

    private string Neutralize(string text)
    {
        if (text.Contains("<|", StringComparison.Ordinal))
        {
            text = text.Replace("<|", "< |", StringComparison.Ordinal);
        }

        foreach (string special in _neutralized)
        {
            if (text.Contains(special, StringComparison.Ordinal))
            {
                text = text.Replace(special, string.Concat(special.AsSpan(0, 1), " ", special.AsSpan(1)), StringComparison.Ordinal);
            }
        }

        return text;
    }
}
