namespace SafeRoute.Training;

/// <summary>The routing methods <see cref="RoutingEvaluator"/> compares (the SafeRoute paper's, plus the two single-guard ends).</summary>
public enum RoutingMethod
{
    /// <summary>The small guard alone.</summary>
    Small,

    /// <summary>The large guard alone.</summary>
    Large,

    /// <summary>The large guard with a fixed probability (0.5 by default), seeded.</summary>
    Random,

    /// <summary>Binary entropy of the small guard's distribution above a threshold (0.5 bits).</summary>
    Entropy,

    /// <summary>Entropy after temperature scaling.</summary>
    TemperatureScaling,

    /// <summary>Entropy after contextual calibration.</summary>
    ContextualCalibration,

    /// <summary>Entropy after batch calibration.</summary>
    BatchCalibration,

    /// <summary>The learned SafeRoute router.</summary>
    SafeRoute,

    /// <summary>The large guard exactly on the hard examples (uses the true label: an upper bound, not a method).</summary>
    Oracle,
}
