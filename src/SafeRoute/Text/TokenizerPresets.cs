using System.Globalization;

namespace SafeRoute.Text;

/// <summary>Split patterns and special tokens of the tiktoken presets a manifest can name.</summary>
/// <remarks>
/// Patterns are the published ones (tiktoken's <c>openai_public.py</c>; Meta's Llama 3 tokenizer), in the forms
/// without possessive quantifiers, which .NET regular expressions do not support (they match the same text).
/// </remarks>
internal static class TokenizerPresets
{
    /// <summary>Llama 3 (and cl100k_base) split pattern.</summary>
    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>GPT-2 / r50k_base split pattern.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>cl100k_base split pattern (the same as Llama 3's).</summary>
    public const string Cl100kPattern = Llama3Pattern;

    /// <summary>o200k_base split pattern.</summary>
    public const string O200kPattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Llama 3 <c>&lt;|begin_of_text|&gt;</c>.</summary>
    public const int BeginOfText = 128000;

    /// <summary>Llama 3 <c>&lt;|start_header_id|&gt;</c>.</summary>
    public const int StartHeaderId = 128006;

    /// <summary>Llama 3 <c>&lt;|end_header_id|&gt;</c>.</summary>
    public const int EndHeaderId = 128007;

    /// <summary>Llama 3 <c>&lt;|eot_id|&gt;</c>.</summary>
    public const int EotId = 128009;

    private static readonly Lazy<Dictionary<string, int>> Llama3 = new(CreateLlama3SpecialTokens);

    /// <summary>
    /// The 256 special tokens of Llama 3.1 / 3.2 (and Llama Guard 3), ids 128000–128255, as in the models'
    /// Hugging Face <c>tokenizer_config.json</c>: 128011 is <c>&lt;|reserved_special_token_3|&gt;</c> and 128255
    /// <c>&lt;|reserved_special_token_247|&gt;</c>, i.e. N = id − 128008 from 128011 on.
    /// </summary>
    public static IReadOnlyDictionary<string, int> Llama3SpecialTokens => Llama3.Value;

    /// <summary>Gets a preset's pattern and special tokens.</summary>
    /// <param name="preset">"llama3", "gpt2" (alias "r50k"), "cl100k" or "o200k".</param>
    /// <param name="pattern">The split pattern.</param>
    /// <param name="specialTokens">The preset's special tokens.</param>
    /// <returns><see langword="false"/> for an unknown preset (including "custom").</returns>
    public static bool TryGet(string preset, out string pattern, out IReadOnlyDictionary<string, int> specialTokens)
    {
        switch (preset)
        {
            case "llama3":
                pattern = Llama3Pattern;
                specialTokens = Llama3SpecialTokens;
                return true;
            case "gpt2" or "r50k":
                pattern = Gpt2Pattern;
                specialTokens = new Dictionary<string, int>(StringComparer.Ordinal) { ["<|endoftext|>"] = 50256 };
                return true;
            case "cl100k":
                pattern = Cl100kPattern;
                specialTokens = new Dictionary<string, int>(StringComparer.Ordinal)
                {
                    ["<|endoftext|>"] = 100257,
                    ["<|fim_prefix|>"] = 100258,
                    ["<|fim_middle|>"] = 100259,
                    ["<|fim_suffix|>"] = 100260,
                    ["<|endofprompt|>"] = 100276,
                };
                return true;
            case "o200k":
                pattern = O200kPattern;
                specialTokens = new Dictionary<string, int>(StringComparer.Ordinal) { ["<|endoftext|>"] = 199999, ["<|endofprompt|>"] = 200018 };
                return true;
            default:
                pattern = "";
                specialTokens = new Dictionary<string, int>();
                return false;
        }
    }

    private static Dictionary<string, int> CreateLlama3SpecialTokens()
    {
        var tokens = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["<|begin_of_text|>"] = 128000,
            ["<|end_of_text|>"] = 128001,
            ["<|reserved_special_token_0|>"] = 128002,
            ["<|reserved_special_token_1|>"] = 128003,
            ["<|finetune_right_pad_id|>"] = 128004,
            ["<|reserved_special_token_2|>"] = 128005,
            ["<|start_header_id|>"] = 128006,
            ["<|end_header_id|>"] = 128007,
            ["<|eom_id|>"] = 128008,
            ["<|eot_id|>"] = 128009,
            ["<|python_tag|>"] = 128010,
        };
        for (int id = 128011; id <= 128255; id++)
        {
            tokens[string.Create(CultureInfo.InvariantCulture, $"<|reserved_special_token_{id - 128008}|>")] = id;
        }

        return tokens;
    }
}
