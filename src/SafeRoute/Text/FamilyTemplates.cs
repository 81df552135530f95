namespace SafeRoute.Text;

/// <summary>A guard family's built-in prompt: template texts, the prefill the verdict follows, verdict token strings by
/// label and the special tokens the texts need. Each family is one file (<see cref="Qwen3GuardGenTemplate"/>,
/// <see cref="WildGuardTemplate"/>) that cites its published source.</summary>
/// <param name="Kind">The manifest's <c>template.kind</c>.</param>
/// <param name="PromptOnly">The prompt-only template text (<c>{prompt}</c>), with special-token strings.</param>
/// <param name="PromptAndResponse">The prompt-and-response template text, or null when the family has no verdict on a
/// response that this kind of verdict can read.</param>
/// <param name="Prefill">The text the assistant turn starts with, before the verdict token.</param>
/// <param name="Strip">Whether the family's template strips user text.</param>
/// <param name="Labels">Verdict token strings by label (safe, unsafe, controversial), or null.</param>
/// <param name="RequiredSpecialTokens">Special-token strings the texts use, which the tokenizer must define.</param>
/// <param name="Policies">Per-policy families (<see cref="ShieldGemmaTemplate"/>, <see cref="GraniteGuardianTemplate"/>):
/// the built-in policies, one pass each, whose text goes in the templates' <c>{policy}</c>; null for one pass.</param>
/// <param name="LogitSoftcap">The model's final logit soft-cap (Gemma 2: 30), applied to verdict logits computed from
/// lm_head rows; null for none.</param>
internal sealed record FamilyTemplate(
    string Kind,
    string PromptOnly,
    string? PromptAndResponse,
    string? Prefill,
    bool Strip,
    Models.VerdictLabelsManifest? Labels,
    string[] RequiredSpecialTokens,
    Models.PolicyManifest[]? Policies = null,
    double? LogitSoftcap = null);

/// <summary>The built-in family templates by <c>template.kind</c> (Llama Guard 3 is handled by its own code path).</summary>
internal static class FamilyTemplates
{
    private static readonly Dictionary<string, FamilyTemplate> ByKind = new(StringComparer.Ordinal)
    {
        [Qwen3GuardGenTemplate.Family.Kind] = Qwen3GuardGenTemplate.Family,
        [WildGuardTemplate.Family.Kind] = WildGuardTemplate.Family,
        [ShieldGemmaTemplate.Family.Kind] = ShieldGemmaTemplate.Family,
        [GraniteGuardianTemplate.Family.Kind] = GraniteGuardianTemplate.Family,
        [LlamaGuard4Template.Family.Kind] = LlamaGuard4Template.Family,
        [NemoGuardContentSafetyTemplate.Family.Kind] = NemoGuardContentSafetyTemplate.Family,
    };

    /// <summary>Gets the kinds, for messages.</summary>
    public static IEnumerable<string> Kinds => ByKind.Keys;

    public static bool TryGet(string? kind, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out FamilyTemplate? family)
    {
        family = null;
        return kind is not null && ByKind.TryGetValue(kind, out family);
    }
}
