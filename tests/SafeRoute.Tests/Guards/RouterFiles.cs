using SafeRoute.Routing;

namespace SafeRoute.Tests.Guards;

/// <summary>Writes MLP router files with the reference checkpoint's tensor names.</summary>
internal static class RouterFiles
{
    /// <summary>A router of sizes input → hidden → hidden → 1 with seeded random weights and the given final bias.</summary>
    public static string Write(string path, int inputSize, int hidden = 8, int seed = 7, float finalBias = 0f, float? threshold = null, float? lengthReference = null, float? uniformThreshold = null)
    {
        var random = new Random(seed);
        float[] R(int n, double scale) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale))];
        float[] Fill(int n, float v) => [.. Enumerable.Repeat(v, n)];
        var tensors = new List<(string, int[], float[])>
        {
            ("cls.0.weight_mu", [hidden, inputSize], R(hidden * inputSize, 1.0 / Math.Sqrt(inputSize))),
            ("cls.0.weight_log_sigma", [hidden, inputSize], Fill(hidden * inputSize, MathF.Log(0.1f))),
            ("cls.0.bias_mu", [hidden], R(hidden, 0.1)),
            ("cls.0.bias_log_sigma", [hidden], Fill(hidden, MathF.Log(0.1f))),
            ("cls.1.weight", [hidden], Fill(hidden, 1f)),
            ("cls.1.bias", [hidden], Fill(hidden, 0f)),
            ("cls.3.weight_mu", [hidden, hidden], R(hidden * hidden, 1.0 / Math.Sqrt(hidden))),
            ("cls.3.weight_log_sigma", [hidden, hidden], Fill(hidden * hidden, MathF.Log(0.1f))),
            ("cls.3.bias_mu", [hidden], R(hidden, 0.1)),
            ("cls.3.bias_log_sigma", [hidden], Fill(hidden, MathF.Log(0.1f))),
            ("cls.4.weight", [hidden], Fill(hidden, 1f)),
            ("cls.4.bias", [hidden], Fill(hidden, 0f)),
            ("cls.6.weight_mu", [1, hidden], R(hidden, 1.0 / Math.Sqrt(hidden))),
            ("cls.6.weight_log_sigma", [1, hidden], Fill(hidden, MathF.Log(0.1f))),
            ("cls.6.bias_mu", [1], [finalBias]),
            ("cls.6.bias_log_sigma", [1], [MathF.Log(0.1f)]),
        };
        Dictionary<string, string>? metadata = threshold is { } t ? new() { ["threshold"] = t.ToString(System.Globalization.CultureInfo.InvariantCulture) } : null;
        if (lengthReference is { } l)
        {
            (metadata ??= [])["length_reference"] = l.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        }

        if (uniformThreshold is { } u)
        {
            (metadata ??= [])["uniform_threshold"] = u.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        }

        Safetensors.Write(path, tensors, metadata);
        return path;
    }
}
