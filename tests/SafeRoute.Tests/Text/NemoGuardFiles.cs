using System.Text.Json;

namespace SafeRoute.Tests.Text;

/// <summary>
/// Reads the committed golden vectors of tools/vectors/llama3/nemoguard-vectors.mjs (NemoGuard on Llama 3.1's tokenizer,
/// WildGuard on the Llama 3 stand-in tokenizer, Llama Guard 4 rendered text). The Llama 3 tokenizer itself comes from
/// the shared folder (<see cref="SharedFiles.RequireLlama3Tokenizer"/>).
/// </summary>
internal static class NemoGuardFiles
{
    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    private static readonly Lazy<NemoGuardVectors> LoadedVectors = new(() =>
        JsonSerializer.Deserialize<NemoGuardVectors>(File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "Text", "NemoGuardVectors.json")), CaseInsensitive)!);

    /// <summary>Gets the golden vectors.</summary>
    public static NemoGuardVectors Vectors => LoadedVectors.Value;
}

internal sealed class NemoGuardVectors
{
    public string PromptPrefill { get; set; } = "";

    public string ResponsePrefill { get; set; } = "";

    public Dictionary<string, int> Llama3SpecialTokens { get; set; } = [];

    public List<Qwen3VerdictToken> VerdictTokens { get; set; } = [];

    public List<Qwen3Case> NemoGuard { get; set; } = [];

    public List<Qwen3Case> WildGuardStandIn { get; set; } = [];

    public List<Qwen3Case> LlamaGuard4 { get; set; } = [];

    public int[] Ids(string text) => VerdictTokens.Single(t => t.Text == text).Ids;
}
