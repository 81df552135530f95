using System.Globalization;
using SafeRoute.Training;

namespace SafeRoute.Benchmarks;

/// <summary>
/// The default models' development split: the row ids and labels that training/train.sh wrote to the test fixture
/// (tests/SafeRoute.Tests/DefaultModels/default-dev-fingerprint.tsv), joined with their text from
/// ../shared/datasets/train (or $SAFEROUTE_SHARED_DIR/datasets/train). Never printed.
/// </summary>
internal static class DevSet
{
    /// <summary>Rows in the development split (the fixture's row count; checked on load).</summary>
    public const int Rows = 1746;

    private static readonly Lazy<(SafetyRequest[] Requests, bool[] Unsafe)> s_rows = new(Load);

    public static SafetyRequest[] Requests => s_rows.Value.Requests;

    public static bool[] Labels => s_rows.Value.Unsafe;

    /// <summary>The first <paramref name="count"/> rows in a fixed shuffled order (seed 5), for smaller benchmarks.</summary>
    public static SafetyRequest[] Sample(int count)
    {
        SafetyRequest[] all = Requests;
        int[] order = [.. Enumerable.Range(0, all.Length)];
        new Random(5).Shuffle(order);
        return [.. order.Take(count).Select(i => all[i])];
    }

    public static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SafeRoute.sln")))
            {
                return dir.FullName;
            }
        }

        // BenchmarkDotNet runs benchmarks from a generated project under bin/: fall back to the working directory's parents.
        for (DirectoryInfo? dir = new(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SafeRoute.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Run the benchmarks from inside the SafeRoute repository.");
    }

    private static string DatasetDirectory(string root)
    {
        string? env = Environment.GetEnvironmentVariable("SAFEROUTE_SHARED_DIR");
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(env))
        {
            candidates.Add(Path.Combine(env, "datasets", "train"));
        }

        for (DirectoryInfo? dir = new(root); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "shared", "datasets", "train"));
        }

        return candidates.FirstOrDefault(Directory.Exists)
            ?? throw new InvalidOperationException($"The training data (shared/datasets/train) was not found; looked in: {string.Join(", ", candidates)}. Set SAFEROUTE_SHARED_DIR.");
    }

    /// <summary>The GPT-2 decoder guard the tests keep (the v1 default small guard): the decoder path's overhead and
    /// allocation benchmarks run on it, since the default guards became sequence classifiers (issue 16).</summary>
    public static string Gpt2DecoderGuardPath => Path.Combine(RepositoryRoot(), "tests", "SafeRoute.Tests", "TestModels", "gpt2-decoder-guard");

    private static (SafetyRequest[], bool[]) Load()
    {
        string root = RepositoryRoot();
        string fixture = Path.Combine(root, "tests", "SafeRoute.Tests", "DefaultModels", "default-dev-fingerprint.tsv");
        var ids = new List<(string Id, int Label)>();
        foreach (string line in File.ReadLines(fixture))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] f = line.Split('\t');
            ids.Add((f[0], int.Parse(f[1], CultureInfo.InvariantCulture)));
        }

        var byId = new Dictionary<string, SafetyExample>(StringComparer.Ordinal);
        foreach (string file in Directory.GetFiles(DatasetDirectory(root), "*.jsonl"))
        {
            foreach (SafetyExample example in SafetyDataset.Read(file))
            {
                byId[example.Id] = example;
            }
        }

        if (ids.Count != Rows)
        {
            throw new InvalidOperationException($"The development split has {ids.Count} rows; the benchmarks were written for {Rows}. Update DevSet.Rows.");
        }

        var requests = new SafetyRequest[ids.Count];
        bool[] labels = new bool[ids.Count];
        for (int i = 0; i < ids.Count; i++)
        {
            SafetyExample example = byId[ids[i].Id];
            requests[i] = new SafetyRequest(example.Prompt, example.Response);
            labels[i] = ids[i].Label == 1;
        }

        return (requests, labels);
    }
}
