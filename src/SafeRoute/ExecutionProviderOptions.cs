namespace SafeRoute;

/// <summary>One execution provider to try for a guard model, with its device and provider-specific options.</summary>
public sealed class ExecutionProviderOptions
{
    /// <summary>Gets or sets the provider.</summary>
    /// <value>The default is <see cref="ExecutionProvider.Cpu"/>.</value>
    public ExecutionProvider Provider { get; set; } = ExecutionProvider.Cpu;

    /// <summary>Gets or sets the device id for providers that take one (CUDA, TensorRT, DirectML, ROCm, MIGraphX).</summary>
    /// <value>The default is 0.</value>
    public int DeviceId { get; set; }

    /// <summary>Gets provider-specific key/value options, passed to ONNX Runtime as they are
    /// (for example <c>gpu_mem_limit</c> for CUDA, <c>device_type</c> for OpenVINO).</summary>
    public IDictionary<string, string> Options { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <inheritdoc/>
    public override string ToString() => Provider == ExecutionProvider.Cpu ? "Cpu" : $"{Provider}(device {DeviceId})";
}
