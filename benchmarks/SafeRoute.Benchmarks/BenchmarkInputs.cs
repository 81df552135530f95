namespace SafeRoute.Benchmarks;

internal static class BenchmarkInputs
{
    private const string Filler = "Please summarise the history of the printing press and its effect on literacy in Europe. ";

    /// <summary>A benign prompt whose rendered sequence through <paramref name="guard"/>'s template is <paramref name="tokens"/> long, or the closest length below it that whole words allow.</summary>
    public static SafetyRequest RequestOfTokens(OnnxSafetyGuard guard, int tokens)
    {
        string text = Filler;
        while (guard.Encoder.Encode(new SafetyRequest(text)).TokenIds.Length < tokens + 8)
        {
            text += Filler;
        }

        // Trim word by word until the sequence is exactly the wanted length (or the closest below it).
        string[] words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (int count = words.Length; count > 0; count--)
        {
            var request = new SafetyRequest(string.Join(' ', words.Take(count)));
            int length = guard.Encoder.Encode(request).TokenIds.Length;
            if (length <= tokens)
            {
                return request;
            }
        }

        throw new InvalidOperationException($"Could not build a {tokens}-token input.");
    }
}
