using System.Text;

namespace SafeRoute.Remote;

/// <summary>
/// Renders the exact Llama Guard 3 prompt as text for a completions API, and reads one back (for servers such as the
/// SafeRoute.GuardServer sample). The text is the one the local path tokenizes (Meta's template for one user turn and,
/// with a response, one agent turn; messages stripped like Python's <c>str.strip()</c>, with the white-space set
/// <see cref="SafetyRequest"/> uses, so a response that is only white space gives the prompt-only template here as it
/// does locally), followed by the <c>\n\n</c> the
/// model emits before its verdict, so the next generated token is <c>safe</c> or <c>unsafe</c>.
/// </summary>
/// <remarks>
/// A server tokenizes prompt text and turns special-token strings into special ids. User text therefore never reaches
/// the server as written when it contains <c>&lt;|</c>: every <c>&lt;|</c> becomes <c>&lt; |</c> (see <see cref="Neutralize"/>),
/// so user text cannot close the user turn or forge a header.
/// </remarks>
public static class LlamaGuard3Prompt
{
    private const string BeginOfText = "<|begin_of_text|>";
    private const string ConversationStart = "<BEGIN CONVERSATION>\n\nUser: ";
    private const string AgentTurn = "\n\nAgent: ";
    private const string ConversationEnd = "\n\n<END CONVERSATION>\n\nProvide your safety assessment for ONLY THE LAST ";

    /// <summary>Renders the prompt for <paramref name="request"/>.</summary>
    /// <param name="request">The prompt (and optional response) to check.</param>
    /// <param name="is8B">8B: categories S1–S14; 1B: S1–S13 and a space before <c>&lt;|eot_id|&gt;</c>.</param>
    /// <param name="includeBeginOfText">Whether the text starts with <c>&lt;|begin_of_text|&gt;</c> (leave it out when the server adds BOS).</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is <see langword="null"/>.</exception>
    public static string Render(SafetyRequest request, bool is8B = true, bool includeBeginOfText = false)
    {
        ArgumentNullException.ThrowIfNull(request);
        string template = LlamaGuard3Template.Text(is8B, request.HasResponse);
        if (!includeBeginOfText && template.StartsWith(BeginOfText, StringComparison.Ordinal))
        {
            template = template[BeginOfText.Length..];
        }

        // Substitute by position so that user text containing "{response}" is never substituted again.
        var b = new StringBuilder(template.Length + request.Prompt.Length + (request.Response?.Length ?? 0) + 8);
        int promptAt = template.IndexOf("{prompt}", StringComparison.Ordinal);
        b.Append(template, 0, promptAt).Append(Clean(request.Prompt));
        int rest = promptAt + "{prompt}".Length;
        if (request.HasResponse)
        {
            int responseAt = template.IndexOf("{response}", rest, StringComparison.Ordinal);
            b.Append(template, rest, responseAt - rest).Append(Clean(request.Response!));
            rest = responseAt + "{response}".Length;
        }

        b.Append(template, rest, template.Length - rest).Append("\n\n");
        return b.ToString();
    }

    /// <summary>Makes user text safe to place inside a text prompt: every <c>&lt;|</c> becomes <c>&lt; |</c>, so no
    /// special-token string (<c>&lt;|eot_id|&gt;</c>, <c>&lt;|start_header_id|&gt;</c>, …) survives.</summary>
    /// <param name="text">User text.</param>
    /// <returns>The neutralised text (the same instance when there was nothing to change).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is <see langword="null"/>.</exception>
    public static string Neutralize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Contains("<|", StringComparison.Ordinal) ? text.Replace("<|", "< |", StringComparison.Ordinal) : text;
    }

    /// <summary>Reads the user prompt and optional response back out of a rendered Llama Guard 3 prompt.</summary>
    /// <param name="prompt">Prompt text rendered by <see cref="Render"/> (or by Meta's template).</param>
    /// <param name="request">The request, when the text is a Llama Guard 3 prompt.</param>
    /// <returns><see langword="true"/> when the text is a Llama Guard 3 prompt.</returns>
    /// <remarks>A response that itself contains <c>"\n\nAgent: "</c> is split at its last occurrence.</remarks>
    public static bool TryParse(string? prompt, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafetyRequest? request)
    {
        request = null;
        if (prompt is null)
        {
            return false;
        }

        int start = prompt.IndexOf(ConversationStart, StringComparison.Ordinal);
        int end = prompt.LastIndexOf(ConversationEnd, StringComparison.Ordinal);
        if (start < 0 || end < start + ConversationStart.Length)
        {
            return false;
        }

        start += ConversationStart.Length;
        bool agent = string.CompareOrdinal(prompt, end + ConversationEnd.Length, "Agent", 0, 5) == 0;
        string conversation = prompt[start..end];
        string user = conversation;
        string? response = null;
        if (agent)
        {
            int split = conversation.LastIndexOf(AgentTurn, StringComparison.Ordinal);
            if (split < 0)
            {
                return false;
            }

            user = conversation[..split];
            response = conversation[(split + AgentTurn.Length)..];
        }

        if (SafetyText.IsBlank(user) || (agent && SafetyText.IsBlank(response!)))
        {
            return false;
        }

        request = new SafetyRequest(user, response);
        return true;
    }

    private static string Clean(string text) => Neutralize(SafetyText.ReplaceLoneSurrogates(SafetyText.Strip(text)));
}
