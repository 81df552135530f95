// TEMPORARY until the routing branch merges.
namespace SafeRoute.Routing;
#pragma warning disable CS1591
public sealed class MlpRouter : ISafetyRouter { public static MlpRouter Load(string path) => throw new NotSupportedException(path); public string Name => "mlp"; public int? FeatureSize => 1; public float DefaultThreshold => 0.5f; public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) => 0; }
public sealed class EntropyRouter : ISafetyRouter { public string Name => "entropy"; public int? FeatureSize => null; public float DefaultThreshold => 0.5f; public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) => 0; }
public sealed class TemperatureScalingRouter(float t) : ISafetyRouter { public string Name => "ts" + t; public int? FeatureSize => null; public float DefaultThreshold => 0.5f; public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) => 0; }
public sealed class BatchCalibrationRouter(float t) : ISafetyRouter { public string Name => "bc" + t; public int? FeatureSize => null; public float DefaultThreshold => 0.5f; public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) => 0; }
public sealed class ContextualCalibrationRouter(float t) : ISafetyRouter { public string Name => "cc" + t; public int? FeatureSize => null; public float DefaultThreshold => 0.5f; public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) => 0; }
