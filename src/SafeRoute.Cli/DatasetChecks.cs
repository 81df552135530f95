using System.Globalization;
using System.Text;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary>Checks on data sets as they come: identical text carrying both labels. Reports counts and ids only, never text.</summary>
internal static class DatasetChecks
{
    /// <summary>The most conflicting groups whose ids are listed.</summary>
    public const int ListedGroups = 20;

    /// <summary>Groups of rows with identical text (prompt and response, ordinal) whose labels differ, as lists of ids in row order.</summary>
    public static List<string[]> ConflictingLabels(IReadOnlyList<SafetyExample> rows)
    {
        var groups = new Dictionary<(string Prompt, string Response), List<SafetyExample>>();
        var order = new List<(string, string)>();
        foreach (SafetyExample row in rows)
        {
            (string, string) key = (row.Prompt, row.Response ?? "");
            if (!groups.TryGetValue(key, out List<SafetyExample>? list))
            {
                groups[key] = list = [];
                order.Add(key);
            }

            list.Add(row);
        }

        return [.. order.Select(k => groups[k]).Where(g => g.Select(r => r.Label).Distinct().Count() > 1).Select(g => g.Select(r => r.Id).ToArray())];
    }

    /// <summary>One line (or a few) describing the conflicts, for the console and the report; empty when there are none.</summary>
    public static string Describe(IReadOnlyList<SafetyExample> rows, string what)
    {
        List<string[]> conflicts = ConflictingLabels(rows);
        if (conflicts.Count == 0)
        {
            return "";
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{what}: {conflicts.Count} group(s) of identical text ({conflicts.Sum(g => g.Length)} rows) carry both labels (ids, text not shown): ");
        sb.Append(string.Join("; ", conflicts.Take(ListedGroups).Select(g => string.Join(", ", g))));
        if (conflicts.Count > ListedGroups)
        {
            sb.Append(CultureInfo.InvariantCulture, $"; and {conflicts.Count - ListedGroups} more group(s)");
        }

        return sb.Append('.').ToString();
    }
}
