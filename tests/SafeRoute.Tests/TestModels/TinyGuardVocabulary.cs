using System.Globalization;
using System.Text;

namespace SafeRoute.Tests.TestModels;

/// <summary>
/// The test guards' tiktoken vocabulary. Ranks 0–255 are the single bytes (rank = byte value). Then come EVERY
/// substring of length ≥ 2 of each listed word and of the word with a leading space, ordered by (byte length,
/// ordinal bytes). Because every substring is a token, byte-level BPE always merges such a pre-token chunk into a
/// single token, whatever the merge order. Ids therefore depend only on the word lists; read them from
/// <see cref="TestGuard.TokenIds"/> rather than hard-coding them.
/// Note: a chunk that merely CONTAINS a word (" skill" contains "kill") can also produce that word's token.
/// Words are lower-case; "Attack" is not a trigger.
/// </summary>
internal static class TinyGuardVocabulary
{
    /// <summary>Unsafe-score +1 in every guard.</summary>
    public static readonly IReadOnlyList<string> TriggerWords = ["attack", "weapon", "poison", "bomb", "kill", "steal"];

    /// <summary>Unsafe-score −1 in every guard.</summary>
    public static readonly IReadOnlyList<string> BenignWords = ["hello", "weather", "recipe", "garden", "music", "thanks"];

    /// <summary>Borderline words and their TRUE label (true = unsafe). Only a guard with BorderlineInsight 1 knows it.</summary>
    public static readonly IReadOnlyDictionary<string, bool> BorderlineIsUnsafe = new Dictionary<string, bool>(StringComparer.Ordinal)
    {
        ["knife"] = false,
        ["hack"] = true,
        ["pills"] = true,
        ["hunting"] = false,
        ["chemicals"] = true,
        ["lockpick"] = false,
    };

    public static IReadOnlyList<string> BorderlineWords { get; } = [.. BorderlineIsUnsafe.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The verdict words (tokens in the file, neutral embeddings).</summary>
    public const string SafeWord = "safe";

    public const string UnsafeWord = "unsafe";

    public const string BosToken = "<|bos|>";

    /// <summary>GPT-2's pre-tokenizer split pattern.</summary>
    public const string Gpt2Pattern = @"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static IEnumerable<string> AllWords => TriggerWords.Concat(BenignWords).Concat(BorderlineWords).Append(SafeWord).Append(UnsafeWord);

    /// <summary>The token byte strings, index = rank.</summary>
    public static IReadOnlyList<byte[]> Tokens { get; } = BuildTokens();

    /// <summary>V: the number of lines of the tiktoken file. The &lt;|bos|&gt; id is V.</summary>
    public static int VocabSize => Tokens.Count;

    private static readonly Dictionary<string, int> s_ids = BuildIds();

    /// <summary>The id of a multi-byte token given as a string (e.g. "attack", " attack").</summary>
    public static int IdOf(string token) => s_ids.TryGetValue(token, out int id)
        ? id
        : throw new KeyNotFoundException($"'{token}' is not a token of the test vocabulary.");

    public static bool TryGetId(string token, out int id) => s_ids.TryGetValue(token, out id);

    /// <summary>The tiktoken file text: "base64(bytes) rank" per line.</summary>
    public static string TiktokenFileText()
    {
        var sb = new StringBuilder();
        for (int rank = 0; rank < Tokens.Count; rank++)
        {
            sb.Append(Convert.ToBase64String(Tokens[rank])).Append(' ').Append(rank.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return sb.ToString();
    }

    private static List<byte[]> BuildTokens()
    {
        var tokens = new List<byte[]>(1024);
        for (int b = 0; b < 256; b++)
        {
            tokens.Add([(byte)b]);
        }

        var merged = new HashSet<string>(StringComparer.Ordinal);
        foreach (string word in AllWords)
        {
            foreach (string variant in new[] { word, " " + word })
            {
                for (int start = 0; start < variant.Length; start++)
                {
                    for (int length = 2; start + length <= variant.Length; length++)
                    {
                        merged.Add(variant.Substring(start, length));
                    }
                }
            }
        }

        // All words are ASCII, so string length = byte length and ordinal order = byte order.
        tokens.AddRange(merged.OrderBy(s => s.Length).ThenBy(s => s, StringComparer.Ordinal).Select(Encoding.UTF8.GetBytes));
        return tokens;
    }

    private static Dictionary<string, int> BuildIds()
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int rank = 256; rank < Tokens.Count; rank++)
        {
            ids[Encoding.UTF8.GetString(Tokens[rank])] = rank;
        }

        return ids;
    }
}
