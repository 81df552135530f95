namespace SafeRoute;

/// <summary>An ONNX Runtime execution provider. Which ones work depends on the ONNX Runtime package the app references.</summary>
public enum ExecutionProvider
{
    /// <summary>The CPU provider, in every ONNX Runtime package (Microsoft.ML.OnnxRuntime).</summary>
    Cpu = 0,

    /// <summary>NVIDIA CUDA (Microsoft.ML.OnnxRuntime.Gpu).</summary>
    Cuda,

    /// <summary>NVIDIA TensorRT (Microsoft.ML.OnnxRuntime.Gpu, with TensorRT installed).</summary>
    TensorRT,

    /// <summary>DirectML on Windows (Microsoft.ML.OnnxRuntime.DirectML).</summary>
    DirectML,

    /// <summary>Apple Core ML (Microsoft.ML.OnnxRuntime on macOS and iOS).</summary>
    CoreML,

    /// <summary>Intel OpenVINO (Intel.ML.OnnxRuntime.OpenVino).</summary>
    OpenVino,

    /// <summary>AMD ROCm (an ONNX Runtime build with ROCm).</summary>
    Rocm,

    /// <summary>AMD MIGraphX (an ONNX Runtime build with MIGraphX).</summary>
    MIGraphX,

    /// <summary>Qualcomm QNN (Microsoft.ML.OnnxRuntime.QNN).</summary>
    Qnn,

    /// <summary>XNNPACK (Microsoft.ML.OnnxRuntime on Android and iOS).</summary>
    XnnPack,
}
