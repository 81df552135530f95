namespace SafeRoute.Routing;

/// <summary>A baseline router with the calibrated ε of its file (<see cref="BaselineRouterFile"/>) as its default threshold; scores exactly as the router it wraps.</summary>
internal sealed class CalibratedBaselineRouter(ISafetyRouter inner, float threshold) : ISafetyRouter
{
    public ISafetyRouter Inner { get; } = inner;

    public string Name => Inner.Name;

    public int? FeatureSize => Inner.FeatureSize;

    public float DefaultThreshold { get; } = threshold;

    public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) => Inner.Score(features, safeLogit, unsafeLogit);
}
