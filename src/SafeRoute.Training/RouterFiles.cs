using SafeRoute.Routing;

namespace SafeRoute.Training;

/// <summary>Writes routers in the safetensors format that <see cref="MlpRouter.Load(string)"/> reads.</summary>
public static class RouterFiles
{
    /// <summary>
    /// Writes a router with the reference checkpoint's tensor names, storing a routing threshold ε in the file's metadata
    /// (<see cref="MlpRouter.CalibratedThreshold"/> when loaded), for example after <see cref="ThresholdCalibrator"/>.
    /// </summary>
    /// <param name="router">The router (loaded or trained).</param>
    /// <param name="path">The file to create or overwrite (it may be the file the router was loaded from).</param>
    /// <param name="threshold">ε to store, or <see langword="null"/> for none (0.5 at run time).</param>
    /// <exception cref="ArgumentNullException"><paramref name="router"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is outside [0, 1].</exception>
    public static void Save(MlpRouter router, string path, float? threshold)
    {
        ArgumentNullException.ThrowIfNull(router);
        router.Save(path, threshold);
    }
}
