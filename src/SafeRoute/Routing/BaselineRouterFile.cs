using System.Globalization;
using System.Text.Json;

namespace SafeRoute.Routing;

/// <summary>
/// Reads and writes a baseline router file: one of the paper's uncertainty baselines (entropy, temperature scaling,
/// contextual or batch calibration) with its fitted parameter and a calibrated routing threshold ε, as a small JSON
/// document. <c>saferoute calibrate --router entropy|ts|cc|bc</c> writes it; <c>saferoute classify/eval --router</c>
/// and <c>RouterOptions.Path</c> (with <c>services.AddSafeRoute</c>) load it.
/// </summary>
/// <remarks>
/// The format: <c>{"format": "saferoute-baseline-router", "formatVersion": 1, "kind": "entropy" |
/// "temperature-scaling" | "contextual-calibration" | "batch-calibration", "threshold": ε, "temperature": τ (TS),
/// "meanUnsafeProbability": m (BC), "contentFreeUnsafeProbability": q (CC)}</c>. A loaded router scores exactly like
/// the baseline class it names; its <see cref="ISafetyRouter.DefaultThreshold"/> is the stored ε.
/// </remarks>
public static class BaselineRouterFile
{
    private const string FormatName = "saferoute-baseline-router";

    /// <summary>Writes <paramref name="router"/> and ε to <paramref name="path"/> (created or overwritten).</summary>
    /// <param name="router">An <see cref="EntropyRouter"/>, <see cref="TemperatureScalingRouter"/>, <see cref="ContextualCalibrationRouter"/>,
    /// <see cref="BatchCalibrationRouter"/>, or a router loaded with <see cref="Load"/>.</param>
    /// <param name="path">The file to write.</param>
    /// <param name="threshold">ε, in bits of entropy: route when the router's score is above it. Any finite number.</param>
    /// <exception cref="ArgumentNullException"><paramref name="router"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty, or <paramref name="router"/> is not a baseline router.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is not finite.</exception>
    public static void Save(ISafetyRouter router, string path, float threshold)
    {
        ArgumentNullException.ThrowIfNull(router);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!float.IsFinite(threshold))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The threshold must be a finite number.");
        }

        if (router is CalibratedBaselineRouter calibrated)
        {
            router = calibrated.Inner;
        }

        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", FormatName);
            w.WriteNumber("formatVersion", 1);
            w.WriteString("kind", router.Name);
            w.WriteNumber("threshold", threshold);
            switch (router)
            {
                case EntropyRouter:
                    break;
                case TemperatureScalingRouter ts:
                    w.WriteNumber("temperature", ts.Temperature);
                    break;
                case ContextualCalibrationRouter cc:
                    w.WriteNumber("contentFreeUnsafeProbability", cc.ContentFreeUnsafeProbability);
                    break;
                case BatchCalibrationRouter bc:
                    w.WriteNumber("meanUnsafeProbability", bc.MeanUnsafeProbability);
                    break;
                default:
                    throw new ArgumentException($"The router '{router.Name}' is not one of the baseline routers (entropy, temperature scaling, contextual or batch calibration).", nameof(router));
            }

            w.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        File.WriteAllBytes(Path.GetFullPath(path), stream.ToArray());
    }

    /// <summary>Loads a baseline router file.</summary>
    /// <param name="path">The file. A relative path is resolved against <see cref="AppContext.BaseDirectory"/>, like <see cref="MlpRouter.Load(string)"/>.</param>
    /// <returns>The router; its <see cref="ISafetyRouter.DefaultThreshold"/> is the stored ε.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="SafeRouteException">The file cannot be read, is not a baseline router file, or holds an invalid value; the message names the file.</exception>
    public static ISafetyRouter Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return LoadResolved(ModelPaths.Resolve(path));
    }

    /// <summary>Returns whether <paramref name="path"/> holds JSON text (a baseline router file) rather than a safetensors file.</summary>
    /// <param name="path">An existing file (a full path).</param>
    /// <returns><see langword="true"/> when the file's first non-blank character is <c>{</c> and its first 8 bytes hold no zero byte
    /// (a safetensors file starts with an 8-byte little-endian length, whose high bytes are zero).</returns>
    internal static bool LooksLikeJson(string path)
    {
        Span<byte> head = stackalloc byte[64];
        int read;
        using (FileStream stream = File.OpenRead(path))
        {
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        head = head[..read];
        if (head[..Math.Min(8, head.Length)].Contains((byte)0))
        {
            return false;
        }

        if (head.StartsWith("\uFEFF"u8))
        {
            head = head[3..];
        }

        foreach (byte b in head)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                continue;
            }

            return b == (byte)'{';
        }

        return false;
    }

    internal static ISafetyRouter LoadResolved(string fullPath)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(fullPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new SafeRouteException($"The router file '{fullPath}' could not be read as a baseline router file: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out JsonElement format) || format.ValueKind != JsonValueKind.String || format.GetString() != FormatName)
            {
                throw new SafeRouteException($"The router file '{fullPath}' is not a baseline router file (no \"format\": \"{FormatName}\").");
            }

            if (!root.TryGetProperty("formatVersion", out JsonElement version) || version.ValueKind != JsonValueKind.Number || version.GetInt32() != 1)
            {
                throw new SafeRouteException($"The router file '{fullPath}' has an unsupported formatVersion (this version reads 1).");
            }

            float threshold = Number(root, "threshold", fullPath);
            if (!float.IsFinite(threshold))
            {
                throw new SafeRouteException($"The router file '{fullPath}': \"threshold\" must be a finite number.");
            }

            string kind = root.TryGetProperty("kind", out JsonElement k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : "";
            ISafetyRouter inner;
            try
            {
                inner = kind switch
                {
                    "entropy" => new EntropyRouter(),
                    "temperature-scaling" => new TemperatureScalingRouter(Number(root, "temperature", fullPath)),
                    "contextual-calibration" => new ContextualCalibrationRouter(Number(root, "contentFreeUnsafeProbability", fullPath)),
                    "batch-calibration" => new BatchCalibrationRouter(Number(root, "meanUnsafeProbability", fullPath)),
                    _ => throw new SafeRouteException($"The router file '{fullPath}' has the unknown kind '{kind}' (entropy, temperature-scaling, contextual-calibration or batch-calibration)."),
                };
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new SafeRouteException($"The router file '{fullPath}': {e.Message}", e);
            }

            return new CalibratedBaselineRouter(inner, threshold);
        }
    }

    /// <summary>The baseline router kind a loaded file holds.</summary>
    internal static RouterKind KindOf(ISafetyRouter router) => (router is CalibratedBaselineRouter c ? c.Inner : router) switch
    {
        EntropyRouter => RouterKind.Entropy,
        TemperatureScalingRouter => RouterKind.TemperatureScaling,
        ContextualCalibrationRouter => RouterKind.ContextualCalibration,
        BatchCalibrationRouter => RouterKind.BatchCalibration,
        _ => RouterKind.Mlp,
    };

    private static float Number(JsonElement root, string name, string path) =>
        root.TryGetProperty(name, out JsonElement e) && e.ValueKind == JsonValueKind.Number && e.TryGetSingle(out float v)
            ? v
            : throw new SafeRouteException(string.Create(CultureInfo.InvariantCulture, $"The router file '{path}' needs the number \"{name}\"."));
}
