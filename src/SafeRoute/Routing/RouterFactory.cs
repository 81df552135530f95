namespace SafeRoute.Routing;

/// <summary>Builds the router that <see cref="RouterOptions"/> describes.</summary>
internal static class RouterFactory
{
    /// <summary>The content-free input of contextual calibration (method doc §3).</summary>
    public const string ContentFreeInput = " ";

    /// <param name="options">The router settings.</param>
    /// <param name="small">The small guard (contextual calibration measures it).</param>
    /// <param name="baseDirectory">What a relative <see cref="RouterOptions.Path"/> is resolved against (see <see cref="ModelPaths"/>);
    /// <see langword="null"/> for <see cref="AppContext.BaseDirectory"/>.</param>
    public static ISafetyRouter Create(RouterOptions options, OnnxSafetyGuard small, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(small);
        return options.Kind switch
        {
            RouterKind.Mlp => MlpRouter.Load(ModelPaths.Resolve(options.Path ?? throw new SafeRouteException("Router:Path is required for an Mlp router."), baseDirectory)),
            RouterKind.Entropy => new EntropyRouter(),
            RouterKind.TemperatureScaling => new TemperatureScalingRouter(options.Temperature ?? throw new SafeRouteException("Router:Temperature is required for a TemperatureScaling router.")),
            RouterKind.BatchCalibration => new BatchCalibrationRouter(options.MeanUnsafeProbability ?? throw new SafeRouteException("Router:MeanUnsafeProbability is required for a BatchCalibration router.")),
            RouterKind.ContextualCalibration => new ContextualCalibrationRouter(options.ContentFreeUnsafeProbability ?? MeasureContentFree(small)),
            _ => throw new SafeRouteException($"Unknown router kind {options.Kind}."),
        };
    }

    /// <summary>Runs the small guard on the content-free input and returns its p(unsafe), clamped into (0, 1).</summary>
    public static float MeasureContentFree(OnnxSafetyGuard small)
    {
        float p = small.ForwardRaw(ContentFreeInput, null, CancellationToken.None).UnsafeProbability;
        return Math.Clamp(p, 1e-6f, 1f - 1e-6f);
    }
}
