
namespace SafeRoute.Training;

/// <summary>Rough compute estimates for a guard model folder, for the FLOPs columns of <see cref="RoutingEvaluator"/>.</summary>
public static class GuardCostEstimate
{
    /// <summary>
    /// Estimates the forward FLOPs per input token as 2 × parameters, counting parameters as the size of the ONNX graph
    /// file plus any external <c>*.data</c> weights beside it divided by 4 (float32 weights; a float16 or quantized
    /// export is underestimated by 2× or more). Attention's sequence-length term is ignored.
    /// </summary>
    /// <param name="modelDirectory">The folder that holds <c>saferoute.json</c>. As with <see cref="OnnxSafetyGuard.Create"/>, a
    /// relative path is resolved against <see cref="AppContext.BaseDirectory"/>, not the current directory.</param>
    /// <returns>The estimated FLOPs per token.</returns>
    /// <exception cref="ArgumentException"><paramref name="modelDirectory"/> is null or white space.</exception>
    /// <exception cref="SafeRouteException">The folder, manifest or ONNX file is missing or invalid.</exception>
    public static double FlopsPerToken(string modelDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        GuardModelFolder folder = GuardModelFolder.Load(modelDirectory);
        string onnx = folder.OnnxPath;

        long bytes = new FileInfo(onnx).Length;
        string directory = Path.GetDirectoryName(onnx)!;
        foreach (string data in Directory.EnumerateFiles(directory, Path.GetFileName(onnx) + "*.data"))
        {
            bytes += new FileInfo(data).Length;
        }

        return 2.0 * (bytes / 4.0);
    }
}
