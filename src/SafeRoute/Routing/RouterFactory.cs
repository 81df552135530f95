namespace SafeRoute.Routing;

/// <summary>Builds the router that <see cref="RouterOptions"/> describes.</summary>
internal static class RouterFactory
{
    /// <param name="options">The router settings.</param>
    /// <param name="small">The small guard (contextual calibration measures it).</param>
    /// <param name="baseDirectory">What a relative <see cref="RouterOptions.Path"/> is resolved against (see <see cref="ModelPaths"/>);
    /// <see langword="null"/> for <see cref="AppContext.BaseDirectory"/>.</param>
    public static ISafetyRouter Create(RouterOptions options, IScoringSafetyGuard small, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(small);
        // Router:Path may name a baseline router file (saferoute calibrate --router entropy|ts|cc|bc): it carries its kind,
        // parameter and ε; Router:Kind may stay at its default (Mlp) or must name the same kind.
        if (options.Path is { Length: > 0 } path && ModelPaths.Resolve(path, baseDirectory) is string full && File.Exists(full) && BaselineRouterFile.LooksLikeJson(full))
        {
            ISafetyRouter fromFile = BaselineRouterFile.LoadResolved(full);
            RouterKind fileKind = BaselineRouterFile.KindOf(fromFile);
            return options.Kind == RouterKind.Mlp || options.Kind == fileKind
                ? fromFile
                : throw new SafeRouteException($"Router:Kind is {options.Kind} but the router file '{full}' holds a {fileKind} router.");
        }

        return options.Kind switch
        {
            RouterKind.Mlp => MlpRouter.Load(ModelPaths.Resolve(options.Path ?? throw new SafeRouteException("Router:Path is required for an Mlp router."), baseDirectory)),
            RouterKind.Entropy => new EntropyRouter(),
            RouterKind.TemperatureScaling => new TemperatureScalingRouter(options.Temperature ?? throw new SafeRouteException("Router:Temperature is required for a TemperatureScaling router.")),
            RouterKind.BatchCalibration => new BatchCalibrationRouter(options.MeanUnsafeProbability ?? throw new SafeRouteException("Router:MeanUnsafeProbability is required for a BatchCalibration router.")),
            RouterKind.ContextualCalibration => new ContextualCalibrationRouter(options.ContentFreeUnsafeProbability ?? (small is OnnxSafetyGuard onnx
                ? ContextualCalibrationRouter.MeasureContentFree(onnx)
                : throw new SafeRouteException($"Router:ContentFreeUnsafeProbability is required for a ContextualCalibration router when the small guard is not an OnnxSafetyGuard (the small guard '{small.Name}' cannot be run on the content-free input \" \", which SafetyRequest rejects)."))),
            _ => throw new SafeRouteException($"Unknown router kind {options.Kind}."),
        };
    }
}
