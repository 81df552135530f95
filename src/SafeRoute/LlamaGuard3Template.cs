using System.Diagnostics.CodeAnalysis;
using SafeRoute.Text;

namespace SafeRoute;

/// <summary>
/// Meta's Llama Guard 3 prompt (the model's chat template rendered for one user turn and, optionally, one agent turn)
/// and its hazard categories, for guards that speak to a Llama Guard 3 model some other way (a remote server, say).
/// </summary>
/// <remarks>
/// Source: the <c>chat_template</c> of meta-llama/Llama-Guard-3-1B and -8B (<c>tokenizer_config.json</c>) and the
/// categories of the model cards (MLCommons hazard taxonomy); see <c>docs/saferoute-method.md</c>. The 1B model has
/// S1–S13 and a space before <c>&lt;|eot_id|&gt;</c>; the 8B model has S1–S14.
/// </remarks>
[Experimental(DiagnosticIds.Scoring)]
public static class LlamaGuard3Template
{
    private static readonly string[] Names =
    [
        "Violent Crimes", "Non-Violent Crimes", "Sex Crimes", "Child Exploitation", "Defamation", "Specialized Advice",
        "Privacy", "Intellectual Property", "Indiscriminate Weapons", "Hate", "Self-Harm", "Sexual Content", "Elections",
        "Code Interpreter Abuse",
    ];

    /// <summary>Gets the names of categories S1–S14, in order (index 0 is S1).</summary>
    public static IReadOnlyList<string> CategoryNames { get; } = Array.AsReadOnly(Names);

    /// <summary>Gets the category codes of a model: <c>S1</c>–<c>S14</c> for 8B, <c>S1</c>–<c>S13</c> for 1B.</summary>
    /// <param name="is8B">The 8B model (otherwise 1B).</param>
    /// <returns>The codes, in order.</returns>
    public static IReadOnlyList<string> CategoryCodes(bool is8B) => is8B ? Codes14 : Codes13;

    private static readonly IReadOnlyList<string> Codes14 = Array.AsReadOnly(Enumerable.Range(1, 14).Select(i => "S" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());

    private static readonly IReadOnlyList<string> Codes13 = Array.AsReadOnly(Codes14.Take(13).ToArray());

    /// <summary>Returns the template text, beginning with <c>&lt;|begin_of_text|&gt;</c> and ending with the assistant
    /// header; <c>{prompt}</c> and <c>{response}</c> mark where the (stripped) user and agent messages go. The model
    /// generates <c>\n\n</c> and then <c>safe</c> or <c>unsafe</c> after it.</summary>
    /// <param name="is8B">The 8B model (otherwise 1B).</param>
    /// <param name="withResponse">Classify an agent reply (role <c>Agent</c>, with an <c>Agent:</c> turn); otherwise the user message.</param>
    /// <returns>The template text with special-token strings. Never insert user text into it without neutralising
    /// special-token strings (a tokenizer that parses them would let user text close the turn).</returns>
    public static string Text(bool is8B, bool withResponse) => PromptTemplate.LlamaGuard3Text(is8B, withResponse, referenceCompatiblePrefix: false);
}
