namespace SafeRoute;

/// <summary>One execution provider to try for a guard model, with its device and provider-specific options.</summary>
public sealed class ExecutionProviderOptions
{
    /// <summary>Gets or sets the provider.</summary>
    /// <value>The default is <see cref="ExecutionProvider.Cpu"/>.</value>
    public ExecutionProvider Provider { get; set; } = ExecutionProvider.Cpu;

    /// <summary>Gets or sets the device id for providers that take one (CUDA, TensorRT, DirectML, ROCm, MIGraphX).
    /// The others (CPU, CoreML, OpenVINO, QNN, XNNPACK) choose their device through <see cref="Options"/>; a non-zero id
    /// for them is a configuration error rather than being ignored.</summary>
    /// <value>The default is 0.</value>
    public int DeviceId { get; set; }

    /// <summary>Gets provider-specific key/value options, passed to ONNX Runtime as they are
    /// (for example <c>gpu_mem_limit</c> for CUDA, <c>device_type</c> for OpenVINO). CUDA, TensorRT, CoreML, OpenVINO,
    /// QNN and XNNPACK take options; CPU, DirectML, ROCm and MIGraphX take none (ONNX Runtime's C# API appends them by
    /// device id only), and options given to them are a configuration error rather than being ignored.</summary>
    public IDictionary<string, string> Options { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Checks the settings.</summary>
    /// <returns>One message per invalid setting (names relative to this object); empty when all are valid.</returns>
    internal List<string> Problems()
    {
        var problems = new List<string>(2);
        if (!Enum.IsDefined(Provider))
        {
            problems.Add($"Provider has the unknown value {(int)Provider}.");
            return problems;
        }

        if (DeviceId < 0)
        {
            problems.Add($"DeviceId must not be negative (it is {DeviceId}).");
        }
        else if (DeviceId != 0 && Provider is ExecutionProvider.Cpu or ExecutionProvider.CoreML or ExecutionProvider.OpenVino or ExecutionProvider.Qnn or ExecutionProvider.XnnPack)
        {
            problems.Add($"DeviceId is {DeviceId}, but {Provider} takes no device id; choose its device through Options (for example device_type for OpenVINO).");
        }

        if (Options is { Count: > 0 } && Provider is ExecutionProvider.Cpu or ExecutionProvider.DirectML or ExecutionProvider.Rocm or ExecutionProvider.MIGraphX)
        {
            problems.Add($"Options has {Options.Count} entr{(Options.Count == 1 ? "y" : "ies")} ({string.Join(", ", Options.Keys)}), but {Provider} takes no provider options here; remove them or set them through GuardModelOptions.ConfigureSessionOptions.");
        }

        return problems;
    }

    /// <inheritdoc/>
    public override string ToString() => Provider == ExecutionProvider.Cpu ? "Cpu" : $"{Provider}(device {DeviceId})";
}
