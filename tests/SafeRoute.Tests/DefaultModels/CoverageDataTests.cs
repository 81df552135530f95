using System.Text.Json;
using System.Text.RegularExpressions;

namespace SafeRoute.Tests.DefaultModels;

/// <summary>
/// The hand-written coverage rows the default guards train on (training/coverage/*.jsonl, issue 16): their schema, and
/// that none is a near copy of a probe prompt. Both sets were written for this project, so a coverage row that reuses a
/// probe's words would turn the probe rates into training-set rates. Prompts are never printed; failures name ids.
/// </summary>
[TestFixture]
public sealed partial class CoverageDataTests
{
    /// <summary>Word-set Jaccard similarity at or above which a coverage row counts as a near copy of a probe prompt.</summary>
    private const double NearCopy = 0.4;

    private static string Folder => Path.Combine(TestContext.CurrentContext.TestDirectory, "DefaultModels", "coverage");

    [Test]
    public void BothFiles_AreThere_WithRowsOfBothLabels()
    {
        List<Row> rows = Load();
        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(Path.Combine(Folder, "harmful.jsonl")) && File.Exists(Path.Combine(Folder, "benign.jsonl")), Is.True);
            Assert.That(rows.Count(r => r.Label == 1), Is.GreaterThanOrEqualTo(300));
            Assert.That(rows.Count(r => r.Label == 0), Is.GreaterThanOrEqualTo(300));
        });
    }

    [Test]
    public void EveryRow_HasTheDatasetSchema_AndAUniqueIdAndPrompt()
    {
        List<Row> rows = Load();
        var problems = new List<string>();
        foreach (Row r in rows)
        {
            string prefix = r.Label == 1 ? "cov-h-" : "cov-b-";
            if (!r.Id.StartsWith(prefix + r.Category + "-", StringComparison.Ordinal) || r.Source != "saferoute-coverage" || r.Response is not null)
            {
                problems.Add(r.Id);
            }

            int words = r.Prompt.Split(default(char[]), StringSplitOptions.RemoveEmptyEntries).Length;
            if (words is < 3 or > 40)
            {
                problems.Add($"{r.Id}: {words} words");
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(problems, Is.Empty);
            Assert.That(rows.GroupBy(r => r.Id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key), Is.Empty, "duplicate ids");
            Assert.That(rows.GroupBy(r => string.Join(' ', Words(r.Prompt)), StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.First().Id), Is.Empty, "duplicate prompts");
        });
    }

    [Test]
    public void NoRow_IsANearCopyOfAProbePrompt()
    {
        string probesPath = Path.Combine(TestContext.CurrentContext.TestDirectory, "DefaultModels", "probes.jsonl");
        var probes = new List<(string Id, HashSet<string> Words)>();
        foreach (string line in File.ReadLines(probesPath))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            probes.Add((doc.RootElement.GetProperty("id").GetString()!, Words(doc.RootElement.GetProperty("prompt").GetString()!)));
        }

        var near = new List<string>();
        foreach (Row r in Load())
        {
            HashSet<string> words = Words(r.Prompt);
            foreach ((string id, HashSet<string> probe) in probes)
            {
                double jaccard = Jaccard(words, probe);
                if (jaccard >= NearCopy)
                {
                    near.Add($"{r.Id} ~ {id} ({jaccard:0.00})");
                }
            }
        }

        Assert.That(near, Is.Empty, $"coverage rows with word Jaccard ≥ {NearCopy} to a probe prompt (ids only)");
    }

    [Test]
    public void TheNearCopyCheck_FlagsARewordedProbe()
    {
        // The check above must be able to fail: a probe prompt with one word changed is caught.
        string line = File.ReadLines(Path.Combine(TestContext.CurrentContext.TestDirectory, "DefaultModels", "probes.jsonl")).First();
        using JsonDocument doc = JsonDocument.Parse(line);
        HashSet<string> probe = Words(doc.RootElement.GetProperty("prompt").GetString()!);
        HashSet<string> reworded = [.. probe.Skip(1).Append("please")];
        Assert.That(Jaccard(reworded, probe), Is.GreaterThanOrEqualTo(NearCopy));
    }

    /// <summary>Word-set Jaccard index: shared words over all words of either.</summary>
    private static double Jaccard(HashSet<string> a, HashSet<string> b) => (double)a.Count(b.Contains) / a.Union(b).Count();

    private static HashSet<string> Words(string text) => [.. WordPattern().Matches(text.ToLowerInvariant()).Select(m => m.Value)];

    private static List<Row> Load()
    {
        var rows = new List<Row>();
        foreach (string file in Directory.GetFiles(Folder, "*.jsonl").Order(StringComparer.Ordinal))
        {
            int n = 0;
            foreach (string line in File.ReadLines(file))
            {
                n++;
                using JsonDocument doc = JsonDocument.Parse(line);
                JsonElement e = doc.RootElement;
                string[] names = [.. e.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];
                Assert.That(names, Is.EqualTo(new[] { "category", "id", "label", "prompt", "response", "source" }), $"{Path.GetFileName(file)} line {n}");
                rows.Add(new Row(
                    e.GetProperty("id").GetString()!,
                    e.GetProperty("source").GetString()!,
                    e.GetProperty("prompt").GetString()!,
                    e.GetProperty("response").ValueKind == JsonValueKind.Null ? null : e.GetProperty("response").GetString(),
                    e.GetProperty("label").GetInt32(),
                    e.GetProperty("category").GetString()!));
            }
        }

        return rows;
    }

    [GeneratedRegex("[a-z0-9']+")]
    private static partial Regex WordPattern();

    private sealed record Row(string Id, string Source, string Prompt, string? Response, int Label, string Category);
}
