namespace SafeRoute;

/// <summary>Which router a routed guard uses.</summary>
public enum RouterKind
{
    /// <summary>The paper's trained router (an MLP over the small guard's last-token hidden state) from a safetensors file.</summary>
    Mlp = 0,

    /// <summary>Route on the binary entropy of the small guard's p(unsafe). Needs no training.</summary>
    Entropy,

    /// <summary>Entropy after temperature scaling with a fitted temperature.</summary>
    TemperatureScaling,

    /// <summary>Entropy after contextual calibration against a content-free input (measured at startup when not given).</summary>
    ContextualCalibration,

    /// <summary>Entropy after batch calibration with the mean p(unsafe) of a training set.</summary>
    BatchCalibration,
}
