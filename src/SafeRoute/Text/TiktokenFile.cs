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

    private static int Validate(byte[] bytes, string path, string describe)
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
