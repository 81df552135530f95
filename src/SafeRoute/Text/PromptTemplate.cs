using System.Text;

namespace SafeRoute.Text;

/// <summary>What a piece of a text run is.</summary>
internal enum TemplatePartKind
{
    /// <summary>Trusted template text.</summary>
    Literal,

    /// <summary>The user's prompt.</summary>
    Prompt,

    /// <summary>The assistant's response.</summary>
    Response,
}

/// <summary>One piece of a text run: template text or a user-text placeholder.</summary>
/// <param name="Kind">What the piece is.</param>
/// <param name="Text">The literal text (empty for placeholders).</param>
internal readonly record struct TemplatePart(TemplatePartKind Kind, string Text);

/// <summary>
/// One segment of a rendered template: either a special-token id taken from the trusted template, or a maximal text run
/// between two special tokens. A text run is encoded in one tokenizer pass, with the user text substituted, because
/// the reference tokenizes the whole rendered text and pre-tokenization chunks can cross a template/user boundary.
/// </summary>
internal sealed class TemplateSegment
{
    private TemplateSegment(int specialId, TemplatePart[] parts)
    {
        SpecialId = specialId;
        Parts = parts;
    }

    /// <summary>Gets the special id, or -1 for a text run.</summary>
    public int SpecialId { get; }

    /// <summary>Gets the pieces of a text run (empty for a special id).</summary>
    public IReadOnlyList<TemplatePart> Parts { get; }

    /// <summary>Gets a value indicating whether this is a special id.</summary>
    public bool IsSpecial => SpecialId >= 0;

    /// <summary>Creates a special-id segment.</summary>
    /// <param name="id">The id.</param>
    /// <returns>The segment.</returns>
    public static TemplateSegment Special(int id) => new(id, []);

    /// <summary>Creates a text-run segment.</summary>
    /// <param name="parts">The run's pieces.</param>
    /// <returns>The segment.</returns>
    public static TemplateSegment Run(TemplatePart[] parts) => new(-1, parts);
}

/// <summary>A parsed template: special ids and text runs with placeholders.</summary>
internal sealed class PromptTemplate
{
    private PromptTemplate(TemplateSegment[] segments)
    {
        Segments = segments;
    }

    /// <summary>Gets the segments in order.</summary>
    public IReadOnlyList<TemplateSegment> Segments { get; }

    /// <summary>
    /// Parses template text. <c>{prompt}</c> and <c>{response}</c> are placeholders, <c>{{</c> and <c>}}</c> are literal
    /// braces; any other brace is an error. Special-token strings are recognised in the template's own text only
    /// (leftmost, longest match) and become special ids; user text substituted later is never scanned for them.
    /// </summary>
    /// <param name="text">The template text.</param>
    /// <param name="specialTokens">Special-token strings and their ids.</param>
    /// <param name="allowResponse">Whether <c>{response}</c> is allowed (and then required).</param>
    /// <param name="fail">Builds the exception for a problem (the field is named by the caller).</param>
    /// <returns>The template.</returns>
    public static PromptTemplate Parse(string text, IReadOnlyDictionary<string, int> specialTokens, bool allowResponse, Func<string, Exception> fail)
    {
        var segments = new List<TemplateSegment>();
        var run = new List<TemplatePart>();
        var literal = new StringBuilder();
        int prompts = 0;
        int responses = 0;
        char[] firstChars = specialTokens.Keys.Where(k => k.Length > 0).Select(k => k[0]).Distinct().ToArray();
        string[] byLength = [.. specialTokens.Keys.Where(k => k.Length > 0).OrderByDescending(k => k.Length)];

        void FlushLiteral()
        {
            if (literal.Length > 0)
            {
                run.Add(new TemplatePart(TemplatePartKind.Literal, literal.ToString()));
                literal.Clear();
            }
        }

        void FlushRun()
        {
            FlushLiteral();
            if (run.Count > 0)
            {
                segments.Add(TemplateSegment.Run([.. run]));
                run.Clear();
            }
        }

        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == '{')
            {
                if (At(text, i, "{{"))
                {
                    literal.Append('{');
                    i += 2;
                }
                else if (At(text, i, "{prompt}"))
                {
                    FlushLiteral();
                    run.Add(new TemplatePart(TemplatePartKind.Prompt, ""));
                    prompts++;
                    i += "{prompt}".Length;
                }
                else if (At(text, i, "{response}"))
                {
                    if (!allowResponse)
                    {
                        throw fail("contains {response}, which only the prompt-and-response template may use");
                    }

                    FlushLiteral();
                    run.Add(new TemplatePart(TemplatePartKind.Response, ""));
                    responses++;
                    i += "{response}".Length;
                }
                else
                {
                    throw fail($"has an unknown placeholder or a lone '{{' at character {i} (write '{{{{' for a literal brace)");
                }

                continue;
            }

            if (c == '}')
            {
                if (!At(text, i, "}}"))
                {
                    throw fail($"has a lone '}}' at character {i} (write '}}}}' for a literal brace)");
                }

                literal.Append('}');
                i += 2;
                continue;
            }

            if (Array.IndexOf(firstChars, c) >= 0)
            {
                string? special = byLength.FirstOrDefault(s => At(text, i, s));
                if (special is not null)
                {
                    FlushRun();
                    segments.Add(TemplateSegment.Special(specialTokens[special]));
                    i += special.Length;
                    continue;
                }
            }

            literal.Append(c);
            i++;
        }

        FlushRun();
        if (prompts == 0)
        {
            throw fail("has no {prompt} placeholder");
        }

        if (allowResponse && responses == 0)
        {
            throw fail("has no {response} placeholder");
        }

        return new PromptTemplate([.. segments]);
    }

    /// <summary>
    /// The Llama Guard 3 template text (Meta's chat template, rendered for one user turn and, optionally, one agent turn),
    /// with <c>{prompt}</c>/<c>{response}</c> placeholders and special-token strings.
    /// </summary>
    /// <param name="is8B">8B: categories S1–S14 and no space before <c>&lt;|eot_id|&gt;</c>; 1B: S1–S13 and a space.</param>
    /// <param name="withResponse">Role <c>Agent</c> and an <c>Agent:</c> turn; otherwise role <c>User</c>.</param>
    /// <param name="referenceCompatiblePrefix">1B: a second <c>&lt;|begin_of_text|&gt;</c> in front; 8B: a space in front.</param>
    /// <returns>The template text.</returns>
    public static string LlamaGuard3Text(bool is8B, bool withResponse, bool referenceCompatiblePrefix)
    {
        string role = withResponse ? "Agent" : "User";
        IReadOnlyList<string> categories = LlamaGuard3Template.CategoryNames;
        int count = is8B ? 14 : 13;
        var b = new StringBuilder(1400);
        if (referenceCompatiblePrefix)
        {
            b.Append(is8B ? " " : "<|begin_of_text|>");
        }

        b.Append("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n");
        b.Append("Task: Check if there is unsafe content in '").Append(role)
            .Append("' messages in conversations according our safety policy with the below categories.\n\n");
        b.Append("<BEGIN UNSAFE CONTENT CATEGORIES>\n");
        for (int i = 0; i < count; i++)
        {
            b.Append('S').Append(i + 1).Append(": ").Append(categories[i]).Append(".\n");
        }

        b.Append("<END UNSAFE CONTENT CATEGORIES>\n\n<BEGIN CONVERSATION>\n\n");
        b.Append("User: {prompt}\n\n");
        if (withResponse)
        {
            b.Append("Agent: {response}\n\n");
        }

        b.Append("<END CONVERSATION>\n\nProvide your safety assessment for ONLY THE LAST ").Append(role)
            .Append(" message in the above conversation:\n - First line must read 'safe' or 'unsafe'.\n")
            .Append(" - If unsafe, a second line must include a comma-separated list of violated categories.");
        b.Append(is8B ? "<|eot_id|>" : " <|eot_id|>");
        b.Append("<|start_header_id|>assistant<|end_header_id|>");

        // Built-in text must not be affected by brace escaping: it has no braces besides the placeholders.
        return b.ToString();
    }

    private static bool At(string text, int index, string value) => string.CompareOrdinal(text, index, value, 0, value.Length) == 0;
}
