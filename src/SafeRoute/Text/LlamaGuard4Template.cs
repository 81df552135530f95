using SafeRoute.Models;

namespace SafeRoute.Text;

/// <summary>
/// Llama Guard 4 (12B; text path only): Llama Guard 3's prompt sections and S1–S14 categories in Llama 4's chat format
/// (<c>&lt;|header_start|&gt;</c>, <c>&lt;|header_end|&gt;</c>, <c>&lt;|eot|&gt;</c>), for one user turn and for one user
/// + one agent turn, ending with the assistant header and <c>\n\n</c>; the model writes <c>safe</c> or <c>unsafe</c>
/// next (no prefill).
/// </summary>
/// <remarks>
/// <para>Source: Meta's Llama Guard 4 prompt-format page (llama.com/docs/model-cards-and-prompt-formats/llama-guard-4:
/// the special tokens <c>&lt;|begin_of_text|&gt;</c>, <c>&lt;|header_start|&gt;</c>/<c>&lt;|header_end|&gt;</c> around
/// the role, <c>&lt;|eot|&gt;</c>; roles User/Agent as in Llama Guard 3) as summarised in
/// <c>../shared/docs/guard-families.md</c> §1c ("same sections" as Llama Guard 3, Llama 4 special tokens). The section
/// texts are those of Llama Guard 3 8B's <c>chat_template</c> (<see cref="LlamaGuard3Template"/>); the trailing
/// <c>\n\n</c> after the assistant header follows Llama 4's generation prompt. NOT verified byte for byte against the
/// <c>chat_template</c> of meta-llama/Llama-Guard-4-12B, which is gated and not obtainable here (the summary is a
/// secondary source): check a rendered prompt against <c>apply_chat_template</c> before relying on it, and use
/// <c>template.kind</c> "custom" with the exact text if it differs.</para>
/// <para>Images are not supported (the vision tower is not part of a text guard). Llama 4's tokenizer is not obtainable
/// here either: the manifest supplies it (a tiktoken rank file) and its special-token ids in
/// <c>tokenizer.specialTokens</c>; the verdict strings <c>safe</c>/<c>unsafe</c> are checked to be one token each when
/// the guard loads. User text is stripped, as Llama Guard 3's template does.</para>
/// </remarks>
internal static class LlamaGuard4Template
{
    /// <summary>The category codes, S1–S14 (names: <see cref="LlamaGuard3Template.CategoryNames"/>).</summary>
    public static IReadOnlyList<string> CategoryCodes => LlamaGuard3Template.CategoryCodes(is8B: true);

    public static readonly string PromptOnly = Text(withResponse: false);

    public static readonly string PromptAndResponse = Text(withResponse: true);

    public static readonly FamilyTemplate Family = new(
        "llama-guard-4",
        PromptOnly,
        PromptAndResponse,
        Prefill: null,
        Strip: true,
        new VerdictLabelsManifest { Safe = ["safe"], Unsafe = ["unsafe"] },
        ["<|begin_of_text|>", "<|header_start|>", "<|header_end|>", "<|eot|>"]);

    private static string Text(bool withResponse) =>
        PromptTemplate.LlamaGuard3Text(is8B: true, withResponse, referenceCompatiblePrefix: false)
            .Replace("<|start_header_id|>", "<|header_start|>", StringComparison.Ordinal)
            .Replace("<|end_header_id|>", "<|header_end|>", StringComparison.Ordinal)
            .Replace("<|eot_id|>", "<|eot|>", StringComparison.Ordinal) + "\n\n";
}
