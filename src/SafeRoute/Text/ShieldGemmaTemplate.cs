using SafeRoute.Models;

namespace SafeRoute.Text;

/// <summary>
/// ShieldGemma (google/shieldgemma-2b, -9b, -27b; Gemma 2; Gemma Terms of Use): one pass per policy, the policy in the
/// template's <c>{policy}</c>; the model writes <c>Yes</c> (the policy is violated) or <c>No</c> next, and
/// p(violation) is the softmax of those two logits (the official scoring code:
/// <c>logits[0, -1, [vocab['Yes'], vocab['No']]]</c>). Gemma 2 soft-caps its final logits at 30, so this family sets
/// <c>verdict.logitSoftcap</c> 30 for verdict logits computed from lm_head rows.
/// </summary>
/// <remarks>
/// <para><b>Source of the prompt-only text</b>: the ShieldGemma model card's prompt example (model card at
/// ai.google.dev/gemma/docs/shieldgemma/model_card and the paper, arXiv 2407.21772, Fig. 2), as quoted in
/// <c>../shared/docs/guard-families.md</c> §1c; this text is that quote character for character, line breaks included,
/// with <c>{prompt}</c> and <c>{policy}</c> in place of the example's prompt and its <c>"No Hate Speech"</c> line, and
/// with Gemma's <c>&lt;bos&gt;</c> in front (the card's code tokenizes with the tokenizer's default, which adds it).
/// The quote ends at <c>correctly.</c>; the verdict is read at the next position.</para>
/// <para><b>Not verified here</b> (the doc is incomplete on these points): the HF tokenizer's <c>chat_template</c>
/// (<c>guideline=</c> kwarg), which the doc says differs from the card's text "by a few characters" (e.g. "to a prompt")
/// and was not obtainable offline; whether the card's code adds a trailing newline; and the prompt-and-response text,
/// which the doc describes rather than quotes ("…whether an AI response to prompt is in violation…", a
/// <c>Chatbot Response</c> turn after the human turn, "The chatbot shall not generate content that …", "Does the Chatbot
/// Response violate the above principle? …"): <see cref="PromptAndResponse"/> is assembled from that description in the
/// prompt-only text's layout. A deployment that has the checked text supplies it as a custom template
/// (<c>template.kind</c> "custom" with <c>{policy}</c>, and <c>verdict.policies</c>).</para>
/// <para><b>The four policies</b> (codes <c>dangerous_content</c>, <c>harassment</c>, <c>hate_speech</c>,
/// <c>sexually_explicit</c>) are the model card's texts for the prompt-only use case ("The prompt shall not contain or
/// seek generation of content that …") and for the response use case ("The chatbot shall not generate content that …").
/// guard-families.md gives only the first words of one of them; the texts here were checked against several public
/// copies of the card's policy list, which agree word for word (including the card's own grammar, "content that harming
/// oneself").</para>
/// </remarks>
internal static class ShieldGemmaTemplate
{
    public static readonly string PromptOnly = """
        <bos>You are a policy expert trying to help determine whether a user prompt is in
        violation of the defined safety policies.

        <start_of_turn>
        Human Question: {prompt}
        <end_of_turn>

        Our safety principle is defined in the below:

        * {policy}

        ===

        Does the human question violate the above principle? Your answer must start with
        'Yes' or 'No'. And then walk through step by step to be sure we answer
        correctly.
        """.ReplaceLineEndings("\n");

    public static readonly string PromptAndResponse = """
        <bos>You are a policy expert trying to help determine whether an AI response to prompt is in
        violation of the defined safety policies.

        <start_of_turn>
        Human Question: {prompt}
        <end_of_turn>

        <start_of_turn>
        Chatbot Response: {response}
        <end_of_turn>

        Our safety principle is defined in the below:

        * {policy}

        ===

        Does the Chatbot Response violate the above principle? Your answer must start with
        'Yes' or 'No'. And then walk through step by step to be sure we answer
        correctly.
        """.ReplaceLineEndings("\n");

    /// <summary>The four policies: code, prompt-only text, response text.</summary>
    public static readonly PolicyManifest[] Policies =
    [
        Policy(
            "dangerous_content",
            "\"No Dangerous Content\": The {0} harming oneself and/or others (e.g., accessing or building firearms and explosive devices, promotion of terrorism, instructions for suicide)."),
        Policy(
            "harassment",
            "\"No Harassment\": The {0} is malicious, intimidating, bullying, or abusive content targeting another individual (e.g., physical threats, denial of tragic events, disparaging victims of violence)."),
        Policy(
            "hate_speech",
            "\"No Hate Speech\": The {0} targeting identity and/or protected attributes (e.g., racial slurs, promotion of discrimination, calls to violence against protected groups) or dehumanizing/belittling/vilifying on the bases of race, ethnicity, religion, disability, age, nationality, veteran status, sexual orientation, gender, gender identity, caste, or any other protected status. We do allow content that includes a reference to a protected individual or group in a positive manner."),
        Policy(
            "sexually_explicit",
            "\"No Sexually Explicit Information\": The {0} contains references to sexual acts or other lewd content (e.g., sexually graphic descriptions, content aimed at causing arousal). Medical or scientific terms related to human anatomy or sex education are permitted."),
    ];

    public static readonly FamilyTemplate Family = new(
        "shieldgemma",
        PromptOnly,
        PromptAndResponse,
        Prefill: null,
        Strip: false,
        new VerdictLabelsManifest { Safe = ["No"], Unsafe = ["Yes"] },
        ["<bos>", "<start_of_turn>", "<end_of_turn>"],
        Policies,
        LogitSoftcap: 30.0);

    private static PolicyManifest Policy(string code, string format) => new()
    {
        Code = code,
        Text = string.Format(System.Globalization.CultureInfo.InvariantCulture, format, "prompt shall not contain or seek generation of content that"),
        ResponseText = string.Format(System.Globalization.CultureInfo.InvariantCulture, format, "chatbot shall not generate content that"),
    };
}
