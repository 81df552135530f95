using System.Globalization;
using SafeRoute.Text;

namespace SafeRoute.Models;

/// <summary>One resolved policy of a per-policy guard.</summary>
/// <param name="Code">The category code reported for the policy.</param>
/// <param name="Text">The text put in the prompt-only template's <c>{policy}</c>.</param>
/// <param name="ResponseText">The text put in the prompt-and-response template's <c>{policy}</c>.</param>
internal sealed record ResolvedPolicy(string Code, string Text, string ResponseText);

/// <summary>
/// Resolves the policies of a per-policy guard (ShieldGemma, Granite Guardian, or a family described in JSON): the
/// manifest's <c>verdict.policies</c>, else the built-in family's; an entry with a code only takes the family's text
/// of that code. Checks that the templates and the policies go together.
/// </summary>
internal static class PolicySet
{
    /// <summary>The placeholder a per-policy template carries.</summary>
    public const string Placeholder = "{policy}";

    /// <summary>Gets the policies of a decoder manifest, or null for a single-pass guard.</summary>
    /// <exception cref="SafeRouteException">The policies and templates do not go together; the message names the field.</exception>
    public static ResolvedPolicy[]? Resolve(GuardManifest manifest)
    {
        string file = manifest.FilePath.Length > 0 ? manifest.FilePath : "(manifest in memory)";
        SafeRouteException Fail(string field, string problem) => new($"The manifest '{file}' is invalid: '{field}' {problem}.");
        TemplateManifest template = manifest.Template!;
        VerdictManifest verdict = manifest.Verdict!;
        FamilyTemplates.TryGet(template.Kind, out FamilyTemplate? family);
        PolicyManifest[]? listed = verdict.Policies;
        if (listed is not null)
        {
            PolicyManifest.ValidateList(listed, (field, problem) => throw Fail(field, problem));
        }

        bool promptHas = family is not null ? family.PromptOnly.Contains(Placeholder, StringComparison.Ordinal) : template.PromptOnly?.Contains(Placeholder, StringComparison.Ordinal) == true;
        bool responseHas = family is not null ? family.PromptAndResponse?.Contains(Placeholder, StringComparison.Ordinal) == true : template.PromptAndResponse?.Contains(Placeholder, StringComparison.Ordinal) == true;
        PolicyManifest[]? policies = listed ?? family?.Policies;
        if (policies is null)
        {
            if (promptHas || responseHas)
            {
                throw Fail(family is null ? (promptHas ? "template.promptOnly" : "template.promptAndResponse") : "template.kind", "has a {policy} placeholder, but 'verdict.policies' is not given; list the policies ({\"code\": …, \"text\": …}) or remove the placeholder");
            }

            return null;
        }

        string templateField = family is null ? "template.promptOnly" : "template.kind";
        if (!promptHas)
        {
            throw Fail(templateField, "has no {policy} placeholder, which 'verdict.policies' needs (each pass puts one policy's text there)");
        }

        bool hasResponse = family is not null ? family.PromptAndResponse is not null : template.PromptAndResponse is not null;
        if (hasResponse && !responseHas)
        {
            throw Fail(family is null ? "template.promptAndResponse" : "template.kind", "has no {policy} placeholder, which 'verdict.policies' needs");
        }

        if (manifest.Categories is not null)
        {
            throw Fail("categories", "cannot be given with 'verdict.policies': a per-policy guard reports each policy's probability as its category");
        }

        if (verdict.Labels?.Controversial is not null || (verdict.Labels is null && family?.Labels?.Controversial is not null))
        {
            throw Fail("verdict.labels.controversial", "is not used by a per-policy guard: each policy's verdict is Yes (violated) or No");
        }

        var resolved = new ResolvedPolicy[policies.Length];
        for (int i = 0; i < policies.Length; i++)
        {
            PolicyManifest policy = policies[i];
            string code = policy.Code!;
            string? text = policy.Text;
            string? responseText = policy.ResponseText;
            if (text is null)
            {
                PolicyManifest? builtin = family?.Policies?.FirstOrDefault(p => string.Equals(p.Code, code, StringComparison.OrdinalIgnoreCase));
                if (builtin is null)
                {
                    string known = family?.Policies is { } own ? $"; the built-in codes of template.kind '{family.Kind}' are {string.Join(", ", own.Select(p => $"'{p.Code}'"))}" : "";
                    throw Fail($"verdict.policies[{i.ToString(CultureInfo.InvariantCulture)}].text", $"is missing, and '{code}' is not a built-in policy{known}; give the policy's text (a custom risk definition)");
                }

                code = builtin.Code!;
                text = builtin.Text!;
                responseText ??= builtin.ResponseText;
            }

            resolved[i] = new ResolvedPolicy(code, text, responseText ?? text);
        }

        return resolved;
    }

    /// <summary>Puts a policy's text in the template's <c>{policy}</c> placeholders (braces in the policy text are
    /// escaped, so it stays literal; <c>{{</c> and <c>}}</c> in the template are kept as they are).</summary>
    public static string Substitute(string template, string policy)
    {
        string escaped = policy.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);
        var b = new System.Text.StringBuilder(template.Length + escaped.Length);
        int i = 0;
        while (i < template.Length)
        {
            if (string.CompareOrdinal(template, i, "{{", 0, 2) == 0 || string.CompareOrdinal(template, i, "}}", 0, 2) == 0)
            {
                b.Append(template, i, 2);
                i += 2;
            }
            else if (string.CompareOrdinal(template, i, Placeholder, 0, Placeholder.Length) == 0)
            {
                b.Append(escaped);
                i += Placeholder.Length;
            }
            else
            {
                b.Append(template[i]);
                i++;
            }
        }

        return b.ToString();
    }
}
