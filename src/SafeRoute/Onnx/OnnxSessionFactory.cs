using Microsoft.ML.OnnxRuntime;

namespace SafeRoute.Onnx;

/// <summary>Creates ONNX Runtime sessions with SafeRoute's defaults and the configured execution providers.</summary>
internal static class OnnxSessionFactory
{
    public static string OrtName(ExecutionProvider provider) => provider switch
    {
        ExecutionProvider.Cpu => "CPUExecutionProvider",
        ExecutionProvider.Cuda => "CUDAExecutionProvider",
        ExecutionProvider.TensorRT => "TensorrtExecutionProvider",
        ExecutionProvider.DirectML => "DmlExecutionProvider",
        ExecutionProvider.CoreML => "CoreMLExecutionProvider",
        ExecutionProvider.OpenVino => "OpenVINOExecutionProvider",
        ExecutionProvider.Rocm => "ROCMExecutionProvider",
        ExecutionProvider.MIGraphX => "MIGraphXExecutionProvider",
        ExecutionProvider.Qnn => "QNNExecutionProvider",
        ExecutionProvider.XnnPack => "XnnpackExecutionProvider",
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "Unknown execution provider."),
    };

    public static string PackageFor(ExecutionProvider provider) => provider switch
    {
        ExecutionProvider.Cpu => "Microsoft.ML.OnnxRuntime",
        ExecutionProvider.Cuda => "Microsoft.ML.OnnxRuntime.Gpu (Linux/Windows, with CUDA and cuDNN installed)",
        ExecutionProvider.TensorRT => "Microsoft.ML.OnnxRuntime.Gpu (with TensorRT installed)",
        ExecutionProvider.DirectML => "Microsoft.ML.OnnxRuntime.DirectML (Windows)",
        ExecutionProvider.CoreML => "Microsoft.ML.OnnxRuntime (the macOS/iOS builds)",
        ExecutionProvider.OpenVino => "Intel.ML.OnnxRuntime.OpenVino",
        ExecutionProvider.Rocm => "an ONNX Runtime build with ROCm (no official NuGet package)",
        ExecutionProvider.MIGraphX => "an ONNX Runtime build with MIGraphX (no official NuGet package)",
        ExecutionProvider.Qnn => "Microsoft.ML.OnnxRuntime.QNN",
        ExecutionProvider.XnnPack => "Microsoft.ML.OnnxRuntime (the Android/iOS builds)",
        _ => "an ONNX Runtime package with this provider",
    };

    /// <summary>The providers the loaded native ONNX Runtime build has.</summary>
    public static IReadOnlySet<string> AvailableProviders => s_available.Value;

    private static readonly Lazy<IReadOnlySet<string>> s_available = new(
        () => new HashSet<string>(OrtEnv.Instance().GetAvailableProviders(), StringComparer.Ordinal));

    /// <summary>Builds session options: threads, optimisation, the first available provider of the list.</summary>
    /// <returns>The options and the provider chosen.</returns>
    /// <exception cref="SafeRouteException">No configured provider is available, or ONNX Runtime's native library could not be loaded.</exception>
    public static (SessionOptions Options, ExecutionProvider Provider) CreateSessionOptions(GuardModelOptions options, string modelName)
    {
        // The first calls into native ONNX Runtime when a guard is loaded (the provider list, then the session options).
        (ExecutionProviderOptions chosen, SessionOptions sessionOptions) = LoadingNativeLibrary(
            () => (ChooseProvider(options.ExecutionProviders, modelName), new SessionOptions()));
        try
        {
            sessionOptions.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
            sessionOptions.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
            // Choices for two models (small and large guard) in one process:
            // - Intra-op threads: all cores by default. A request runs the small guard and then, sometimes, the large
            //   one, never both at once, so each session may use every core while it runs.
            // - No spinning: ONNX Runtime's worker threads otherwise busy-wait after a run; the idle session's spinning
            //   threads would steal the cores the other session is computing on.
            // - One inter-op thread, sequential execution: the guards are chains of layers with nothing to run in parallel.
            // - CPU memory arena on (GuardModelOptions.UseCpuMemoryArena): buffers are reused between runs; the arena's
            //   peak is bounded by MaxBatchSize × the context length.
            // - Memory patterns off: they pre-plan allocations for one input shape, and guard inputs change length on
            //   nearly every call, so each new shape would be planned anew (ONNX Runtime's advice for dynamic shapes).
            sessionOptions.IntraOpNumThreads = options.IntraOpNumThreads ?? Math.Max(1, Environment.ProcessorCount);
            sessionOptions.InterOpNumThreads = 1;
            sessionOptions.EnableCpuMemArena = options.UseCpuMemoryArena;
            sessionOptions.EnableMemoryPattern = false;
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            sessionOptions.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            AppendProvider(sessionOptions, chosen, modelName);
            options.ConfigureSessionOptions?.Invoke(sessionOptions);
            return (sessionOptions, chosen.Provider);
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>The message when ONNX Runtime's native library is missing: SafeRoute depends on the managed package
    /// only, and the app brings the native one.</summary>
    internal const string NativeLibraryMissingMessage =
        "ONNX Runtime's native library could not be loaded: reference Microsoft.ML.OnnxRuntime (CPU; SafeRoute.Models.Default brings it) " +
        "or a GPU package such as Microsoft.ML.OnnxRuntime.Gpu.";

    /// <summary>Runs <paramref name="firstNativeCall"/> and turns a failure to load the native library (its P/Invoke
    /// type's initializer fails with <see cref="DllNotFoundException"/> inside) into one <see cref="SafeRouteException"/>.</summary>
    internal static T LoadingNativeLibrary<T>(Func<T> firstNativeCall)
    {
        try
        {
            return firstNativeCall();
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException)
        {
            throw new SafeRouteException(NativeLibraryMissingMessage, ex);
        }
    }

    internal static ExecutionProviderOptions ChooseProvider(IList<ExecutionProviderOptions> requested, string modelName)
    {
        if (requested.Count == 0)
        {
            return new ExecutionProviderOptions { Provider = ExecutionProvider.Cpu };
        }

        foreach (ExecutionProviderOptions candidate in requested)
        {
            if (candidate.Provider == ExecutionProvider.Cpu || AvailableProviders.Contains(OrtName(candidate.Provider)))
            {
                return candidate;
            }
        }

        string wanted = string.Join("; ", requested.Select(p => $"{p.Provider} ({OrtName(p.Provider)}) comes with {PackageFor(p.Provider)}"));
        throw new SafeRouteException(
            $"None of the execution providers configured for guard model '{modelName}' is available in the loaded ONNX Runtime build " +
            $"(it has: {string.Join(", ", AvailableProviders.Order(StringComparer.Ordinal))}). {wanted}. " +
            "Reference that package (such as Microsoft.ML.OnnxRuntime.Gpu or Microsoft.ML.OnnxRuntime.DirectML) instead of the CPU package " +
            "Microsoft.ML.OnnxRuntime, and end ExecutionProviders with Cpu to fall back to the CPU.");
    }

    private static void AppendProvider(SessionOptions sessionOptions, ExecutionProviderOptions provider, string modelName)
    {
        try
        {
            switch (provider.Provider)
            {
                case ExecutionProvider.Cpu:
                    break;
                case ExecutionProvider.Cuda:
                    {
                        using var cuda = new OrtCUDAProviderOptions();
                        var values = new Dictionary<string, string>(provider.Options, StringComparer.Ordinal);
                        values.TryAdd("device_id", provider.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        cuda.UpdateOptions(values);
                        sessionOptions.AppendExecutionProvider_CUDA(cuda);
                        break;
                    }

                case ExecutionProvider.TensorRT:
                    {
                        using var trt = new OrtTensorRTProviderOptions();
                        var values = new Dictionary<string, string>(provider.Options, StringComparer.Ordinal);
                        values.TryAdd("device_id", provider.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        trt.UpdateOptions(values);
                        sessionOptions.AppendExecutionProvider_Tensorrt(trt);
                        break;
                    }

                case ExecutionProvider.DirectML:
                    sessionOptions.AppendExecutionProvider_DML(provider.DeviceId);
                    break;
                case ExecutionProvider.Rocm:
                    sessionOptions.AppendExecutionProvider_ROCm(provider.DeviceId);
                    break;
                case ExecutionProvider.MIGraphX:
                    sessionOptions.AppendExecutionProvider_MIGraphX(provider.DeviceId);
                    break;
                case ExecutionProvider.CoreML:
                    sessionOptions.AppendExecutionProvider("CoreML", new Dictionary<string, string>(provider.Options, StringComparer.Ordinal));
                    break;
                case ExecutionProvider.OpenVino:
                    sessionOptions.AppendExecutionProvider("OpenVINO", new Dictionary<string, string>(provider.Options, StringComparer.Ordinal));
                    break;
                case ExecutionProvider.Qnn:
                    sessionOptions.AppendExecutionProvider("QNN", new Dictionary<string, string>(provider.Options, StringComparer.Ordinal));
                    break;
                case ExecutionProvider.XnnPack:
                    sessionOptions.AppendExecutionProvider("XNNPACK", new Dictionary<string, string>(provider.Options, StringComparer.Ordinal));
                    break;
                default:
                    throw new SafeRouteException($"Execution provider {provider.Provider} is not supported.");
            }
        }
        catch (OnnxRuntimeException ex)
        {
            throw new SafeRouteException(
                $"Execution provider {provider} could not be added for guard model '{modelName}': {ex.Message} It comes with {PackageFor(provider.Provider)}.", ex);
        }
    }
}
