using System.Text.Json;
using SafeRoute.Cli;

namespace SafeRoute.Tests.DefaultModels;

/// <summary>
/// The everyday-behaviour probe set (issue 16): models/probes/probes.jsonl, copied beside the tests as
/// DefaultModels/probes.jsonl. Checks its schema and minimum counts, and that the rates the model card quotes are what
/// <c>saferoute probe</c> prints for the shipped default models; prompts are never printed.
/// </summary>
[TestFixture]
public sealed class ProbeSetTests
{
    private static readonly string[] Categories = [.. Enumerable.Range(1, 14).Select(i => $"S{i}")];

    private static readonly Lazy<List<Probe>> Probes = new(Load);

    [Test]
    public async Task ModelCardProbeTable_IsWhatTheProbeCommandPrints_ForTheShippedModels()
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "DefaultModels", "probes.jsonl");
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = await CliApp.RunAsync(["probe", "--file", path, "--by-domain"], output, error, CancellationToken.None);
        Assert.That(code, Is.Zero, error.ToString());

        // MODEL_CARD.md (written by training/model_card_v2.py) quotes the command's table in the code block after the
        // "Everyday-behaviour probe set" heading; the README quotes the same rates.
        string card = File.ReadAllText(Path.Combine(DefaultGuardModels.Directory, "MODEL_CARD.md"));
        int section = card.IndexOf("## Everyday-behaviour probe set", StringComparison.Ordinal);
        Assert.That(section, Is.GreaterThan(0), "the model card has the probe section");
        int start = card.IndexOf("```\n", section, StringComparison.Ordinal) + 4;
        int end = card.IndexOf("\n```", start, StringComparison.Ordinal);
        string quoted = card[start..end];
        Assert.That(output.ToString().ReplaceLineEndings("\n").TrimEnd('\n'), Is.EqualTo(quoted));
    }

    [Test]
    public void EveryRow_HasTheSchema()
    {
        var problems = new List<string>();
        foreach (Probe p in Probes.Value)
        {
            bool harmful = p.Kind == "harmful";
            if (p.Kind is not ("everyday" or "sounds-dangerous" or "harmful"))
            {
                problems.Add($"{p.Id}: kind '{p.Kind}'");
            }

            if (p.Label != (harmful ? "unsafe" : "safe"))
            {
                problems.Add($"{p.Id}: label '{p.Label}'");
            }

            if (harmful ? !Categories.Contains(p.Category) : p.Category is not null)
            {
                problems.Add($"{p.Id}: category '{p.Category}'");
            }

            if (string.IsNullOrWhiteSpace(p.Domain) || !p.Id.StartsWith($"{p.Kind}-{p.Domain}-", StringComparison.Ordinal) || string.IsNullOrWhiteSpace(p.Prompt))
            {
                problems.Add($"{p.Id}: id, domain or prompt");
            }
        }

        Assert.That(problems, Is.Empty);
    }

    [Test]
    public void IdsAndPrompts_AreUnique()
    {
        List<Probe> probes = Probes.Value;
        string[] duplicateIds = [.. probes.GroupBy(p => p.Id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key)];
        string[] duplicatePrompts = [.. probes.GroupBy(p => string.Join(' ', p.Prompt.Split(default(char[]), StringSplitOptions.RemoveEmptyEntries)), StringComparer.OrdinalIgnoreCase)
            .Where(g => g.Count() > 1).Select(g => string.Join(",", g.Select(p => p.Id)))];
        Assert.Multiple(() =>
        {
            Assert.That(duplicateIds, Is.Empty, "duplicate ids");
            Assert.That(duplicatePrompts, Is.Empty, "ids of rows with the same prompt");
        });
    }

    [Test]
    public void Counts_MeetTheIssueMinimums()
    {
        List<Probe> probes = Probes.Value;
        Probe[] everyday = [.. probes.Where(p => p.Kind == "everyday")];
        Probe[] dangerous = [.. probes.Where(p => p.Kind == "sounds-dangerous")];
        Probe[] harmful = [.. probes.Where(p => p.Kind == "harmful")];
        TestContext.Out.WriteLine($"everyday {everyday.Length} ({everyday.Select(p => p.Domain).Distinct().Count()} domains), sounds-dangerous {dangerous.Length}, harmful {harmful.Length}");
        TestContext.Out.WriteLine(string.Join(", ", Categories.Select(c => $"{c} {harmful.Count(p => p.Category == c)}")));
        Assert.Multiple(() =>
        {
            Assert.That(everyday, Has.Length.GreaterThanOrEqualTo(300));
            Assert.That(everyday.Select(p => p.Domain).Distinct().Count(), Is.GreaterThanOrEqualTo(15));
            Assert.That(dangerous, Has.Length.GreaterThanOrEqualTo(100));
            Assert.That(harmful, Has.Length.GreaterThanOrEqualTo(300));
            foreach (string c in Categories)
            {
                Assert.That(harmful.Count(p => p.Category == c), Is.GreaterThanOrEqualTo(15), c);
            }
        });
    }

    private static List<Probe> Load()
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "DefaultModels", "probes.jsonl");
        var probes = new List<Probe>();
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            using JsonDocument doc = JsonDocument.Parse(text);
            JsonElement row = doc.RootElement;
            string[] names = [.. row.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];
            bool harmful = row.TryGetProperty("kind", out JsonElement k) && k.GetString() == "harmful";
            string[] expected = harmful ? ["category", "domain", "id", "kind", "label", "prompt"] : ["domain", "id", "kind", "label", "prompt"];
            Assert.That(names, Is.EqualTo(expected), $"fields of line {line}");
            probes.Add(new Probe(
                row.GetProperty("id").GetString()!,
                row.GetProperty("kind").GetString()!,
                row.GetProperty("domain").GetString()!,
                harmful ? row.GetProperty("category").GetString() : null,
                row.GetProperty("label").GetString()!,
                row.GetProperty("prompt").GetString()!));
        }

        return probes;
    }

    private sealed record Probe(string Id, string Kind, string Domain, string? Category, string Label, string Prompt);
}
