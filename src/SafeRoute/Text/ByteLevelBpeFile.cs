using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SafeRoute.Text;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> of a byte-level BPE model (GPT-2 style: Qwen2/Qwen3, Llama 3's HF form)
/// as a tiktoken rank table: each vocabulary entry's byte-level characters are mapped back to bytes and its id becomes
/// its rank. That is exact when the merges are in rank order (the id of merge i's result grows with i, and every
/// byte has its own token), as for tokenizers converted from tiktoken (Qwen's 151,643 ranks: merge i gives id 256 + i);
/// otherwise loading fails rather than tokenize differently. The added tokens are returned as special tokens.
/// </summary>
internal static class ByteLevelBpeFile
{
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    /// <summary>Reads a Hugging Face <c>tokenizer.json</c> as a JSON document (any kind: byte-level or SentencePiece-style).</summary>
    /// <param name="path">The file's full path.</param>
    /// <param name="describe">Where the path came from, for error messages.</param>
    /// <returns>The document; the caller disposes it.</returns>
    /// <exception cref="SafeRouteException">The file is missing, unreadable or not valid JSON.</exception>
    internal static JsonDocument ReadJson(string path, string describe)
    {
        if (!File.Exists(path))
        {
            throw new SafeRouteException($"The tokenizer file '{path}' ({describe}) does not exist.");
        }

        try
        {
            using FileStream stream = File.OpenRead(path);
            return JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SafeRouteException($"The tokenizer file '{path}' ({describe}) cannot be read: {ex.Message}", ex);
        }
        catch (JsonException ex)
        {
            throw new SafeRouteException($"The tokenizer file '{path}' ({describe}) is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Reads the file and converts it.</summary>
    /// <param name="path">The tokenizer.json's full path.</param>
    /// <param name="describe">Where the path came from, for error messages.</param>
    /// <param name="baseVocabularySize">One more than the largest rank.</param>
    /// <param name="addedTokens">The file's added tokens (string to id).</param>
    /// <returns>The rank table as tiktoken file bytes.</returns>
    /// <exception cref="SafeRouteException">The file is missing, unreadable, not a byte-level BPE tokenizer, or its
    /// merges are not in rank order.</exception>
    public static byte[] Load(string path, string describe, out int baseVocabularySize, out Dictionary<string, int> addedTokens)
    {
        SafeRouteException Bad(string problem) => new($"The tokenizer file '{path}' ({describe}) cannot be used as a byte-level BPE tokenizer.json: {problem}.");
        using (JsonDocument document = ReadJson(path, describe))
        {
            JsonElement root = document.RootElement;
            if (!root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object
                || !model.TryGetProperty("type", out JsonElement type) || type.GetString() != "BPE")
            {
                throw Bad("its 'model.type' is not 'BPE'");
            }

            if (model.TryGetProperty("byte_fallback", out JsonElement fallback) && fallback.ValueKind == JsonValueKind.True)
            {
                throw Bad("it uses byte fallback (a SentencePiece-style BPE), not byte-level characters");
            }

            if (!root.TryGetProperty("pre_tokenizer", out JsonElement pre) || !pre.GetRawText().Contains("\"ByteLevel\"", StringComparison.Ordinal))
            {
                throw Bad("it has no ByteLevel pre-tokenizer");
            }

            if (!model.TryGetProperty("vocab", out JsonElement vocab) || vocab.ValueKind != JsonValueKind.Object)
            {
                throw Bad("it has no 'model.vocab' object");
            }

            var ids = new Dictionary<string, int>(StringComparer.Ordinal);
            var lines = new List<(int Id, string Base64)>();
            var seen = new HashSet<int>();
            var bytes = new List<byte>(32);
            foreach (JsonProperty entry in vocab.EnumerateObject())
            {
                if (!entry.Value.TryGetInt32(out int id) || id < 0)
                {
                    throw Bad($"the vocabulary entry \"{entry.Name}\" has no non-negative integer id");
                }

                bytes.Clear();
                foreach (char c in entry.Name)
                {
                    if (!CharToByte.TryGetValue(c, out byte b))
                    {
                        throw Bad($"the vocabulary entry with id {id} has the character U+{(int)c:X4}, which is not a byte-level character");
                    }

                    bytes.Add(b);
                }

                if (bytes.Count == 0 || !seen.Add(id))
                {
                    throw Bad($"the vocabulary entry with id {id} is empty or its id is repeated");
                }

                ids[entry.Name] = id;
                lines.Add((id, Convert.ToBase64String(bytes.ToArray())));
            }

            foreach (char c in CharToByte.Keys)
            {
                if (!ids.ContainsKey(c.ToString()))
                {
                    throw Bad($"the byte {CharToByte[c]} has no token of its own");
                }
            }

            if (model.TryGetProperty("merges", out JsonElement merges) && merges.ValueKind == JsonValueKind.Array)
            {
                int previous = -1;
                int index = 0;
                foreach (JsonElement merge in merges.EnumerateArray())
                {
                    (string? left, string? right) = merge.ValueKind switch
                    {
                        JsonValueKind.String => Split(merge.GetString()!),
                        JsonValueKind.Array when merge.GetArrayLength() == 2 => (merge[0].GetString(), merge[1].GetString()),
                        _ => (null, null),
                    };
                    if (left is null || right is null || !ids.TryGetValue(left + right, out int merged))
                    {
                        throw Bad($"merge {index} does not name two tokens whose concatenation is a token");
                    }

                    if (merged <= previous)
                    {
                        throw Bad($"its merges are not in rank order (merge {index} gives id {merged}, after id {previous}), so a rank table would tokenize differently");
                    }

                    previous = merged;
                    index++;
                }
            }

            addedTokens = new Dictionary<string, int>(StringComparer.Ordinal);
            if (root.TryGetProperty("added_tokens", out JsonElement added) && added.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement token in added.EnumerateArray())
                {
                    if (token.TryGetProperty("content", out JsonElement content) && content.GetString() is { Length: > 0 } text
                        && token.TryGetProperty("id", out JsonElement idElement) && idElement.TryGetInt32(out int id))
                    {
                        addedTokens[text] = id;
                    }
                }
            }

            lines.Sort((a, b) => a.Id.CompareTo(b.Id));
            var file = new StringBuilder(lines.Count * 16);
            foreach ((int id, string base64) in lines)
            {
                file.Append(base64).Append(' ').Append(id.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }

            byte[] result = Encoding.ASCII.GetBytes(file.ToString());
            baseVocabularySize = TiktokenFile.Validate(result, path, describe);
            return result;
        }

        static (string?, string?) Split(string merge)
        {
            int space = merge.IndexOf(' ', StringComparison.Ordinal);
            return space <= 0 ? (null, null) : (merge[..space], merge[(space + 1)..]);
        }
    }

    /// <summary>GPT-2's bytes_to_unicode, inverted: printable Latin-1 bytes stand for themselves, the other 68 bytes for
    /// U+0100 onwards, in byte order.</summary>
    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>();
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[(char)(printable ? b : next++)] = (byte)b;
        }

        return map;
    }
}
