using Microsoft.ML.OnnxRuntime;

namespace SafeRoute;

/// <summary>How to load and run one guard model.</summary>
public sealed class GuardModelOptions
{
    /// <summary>Gets or sets the model folder: the one that holds <c>saferoute.json</c> (see the README, "Model folder format").</summary>
    /// <value>The default is <see langword="null"/>; required when the options are used to load a model.</value>
    /// <remarks>A relative path is resolved against the host's content root (<c>IHostEnvironment.ContentRootPath</c>)
    /// when the options are registered with <c>services.AddSafeRoute(...)</c> and the container has an
    /// <c>IHostEnvironment</c>, and against <see cref="AppContext.BaseDirectory"/> otherwise (no host, or
    /// <see cref="RoutedSafetyGuard.Create"/>, <see cref="OnnxSafetyGuard.Create"/>); never against the current directory.
    /// An absolute path is used as is.</remarks>
    public string? Path { get; set; }

    /// <summary>Gets the execution providers to try, in order. The first one available in the loaded ONNX Runtime build
    /// is used; when none is, loading fails with an error that names each provider and the package that brings it.
    /// Add <see cref="ExecutionProvider.Cpu"/> last to fall back to the CPU.</summary>
    /// <value>The default is empty, which means the CPU.</value>
    public IList<ExecutionProviderOptions> ExecutionProviders { get; } = [];

    /// <summary>Gets or sets the number of threads one model run may use.</summary>
    /// <value>The default is <see langword="null"/>: all cores (<see cref="Environment.ProcessorCount"/>), with
    /// spinning disabled so that two sessions in one process (small and large) do not keep each other's cores busy.</value>
    public int? IntraOpNumThreads { get; set; }

    /// <summary>Gets or sets a value indicating whether ONNX Runtime's CPU memory arena is used. The arena keeps the
    /// largest activation buffers it has needed (bounded by <see cref="MaxBatchSize"/> × the context length) and reuses
    /// them, which makes steady-state runs faster; turn it off to return that memory after each run at some speed cost,
    /// for example when the large guard runs rarely in a memory-constrained process.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool UseCpuMemoryArena { get; set; } = true;

    /// <summary>Gets or sets the most requests sent to the model in one run; larger batches are split.</summary>
    /// <value>The default is 16.</value>
    public int MaxBatchSize { get; set; } = 16;

    /// <summary>Gets or sets opt-in micro-batching of concurrent calls (off by default).</summary>
    public MicroBatchingOptions MicroBatching { get; set; } = new();

    /// <summary>Gets or sets the clock micro-batching waits with (tests replace it).</summary>
    internal TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets a context length that overrides the manifest's <c>maxSequenceLength</c>.</summary>
    /// <value>The default is <see langword="null"/>: the manifest's value.</value>
    public int? MaxSequenceLength { get; set; }

    /// <summary>Gets or sets how categories are reported and which are ignored (guards whose family has categories).</summary>
    [System.Diagnostics.CodeAnalysis.Experimental(DiagnosticIds.Scoring)]
    public CategoryOptions Categories { get; set; } = new();

    /// <summary>Gets or sets a hook that edits the ONNX Runtime session options after SafeRoute has set them
    /// (threads, optimisation level, execution providers) and before the session is created.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Action<SessionOptions>? ConfigureSessionOptions { get; set; }
}
