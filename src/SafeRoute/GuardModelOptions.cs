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

    /// <summary>Gets or sets what a guard with a "controversial" verdict (Qwen3Guard) counts it as: <see langword="true"/>
    /// for unsafe (Qwen3Guard's "strict" mode), <see langword="false"/> for safe ("loose"). p(unsafe) is then the softmax
    /// mass of the unsafe (and, when strict, controversial) verdict tokens among all of the guard's verdict tokens.</summary>
    /// <value>The default is <see langword="null"/>: the manifest's <c>verdict.controversialAs</c> (strict unless it says
    /// <c>"safe"</c>). Setting it for a guard without controversial verdict tokens fails at load.</value>
    public bool? ControversialAsUnsafe { get; set; }

    /// <summary>Gets or sets a hook that edits the ONNX Runtime session options after SafeRoute has set them
    /// (threads, optimisation level, execution providers) and before the session is created.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Action<SessionOptions>? ConfigureSessionOptions { get; set; }

    /// <summary>Every problem with these options: the one check that <see cref="OnnxSafetyGuard.Create"/> and the DI
    /// validator share (each formats the setting path its own way).</summary>
    internal List<OptionProblem> Problems()
    {
        var problems = new List<OptionProblem>();
        if (MaxBatchSize < 1)
        {
            problems.Add(new(["MaxBatchSize"], $"must be at least 1 (it is {MaxBatchSize}).", OptionProblemKind.OutOfRange));
        }

        if (IntraOpNumThreads is < 1)
        {
            problems.Add(new(["IntraOpNumThreads"], $"must be at least 1 when set (it is {IntraOpNumThreads}).", OptionProblemKind.OutOfRange));
        }

        if (MaxSequenceLength is < 8)
        {
            problems.Add(new(["MaxSequenceLength"], $"must be at least 8 when set (it is {MaxSequenceLength}).", OptionProblemKind.OutOfRange));
        }

        if (MicroBatching is null)
        {
            problems.Add(new(["MicroBatching"], "must not be null.", OptionProblemKind.Null));
        }
        else
        {
            problems.AddRange(MicroBatching.Problems().Select(p => new OptionProblem(["MicroBatching"], p, OptionProblemKind.OutOfRange, Nested: true)));
        }

        for (int i = 0; i < ExecutionProviders.Count; i++)
        {
            string index = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (ExecutionProviders[i] is not { } provider)
            {
                problems.Add(new(["ExecutionProviders", index], "must not be null.", OptionProblemKind.Null));
                continue;
            }

            problems.AddRange(provider.Problems().Select(p => new OptionProblem(["ExecutionProviders", index], p, OptionProblemKind.Invalid, Nested: true)));
        }

        if (Categories is null)
        {
            problems.Add(new(["Categories"], "must not be null.", OptionProblemKind.Null));
        }
        else
        {
            problems.AddRange(Categories.Problems().Select(p => new OptionProblem(["Categories"], p, OptionProblemKind.OutOfRange, Nested: true)));
        }

        return problems;
    }
}

/// <summary>How an option is wrong: which exception <see cref="OnnxSafetyGuard.Create"/> throws for it.</summary>
internal enum OptionProblemKind
{
    /// <summary>A required sub-options object is null (<see cref="ArgumentException"/>).</summary>
    Null,

    /// <summary>A number is out of range (<see cref="ArgumentOutOfRangeException"/>).</summary>
    OutOfRange,

    /// <summary>A setting that would be ignored or cannot work (<see cref="ArgumentException"/>).</summary>
    Invalid,
}

/// <summary>One problem with a <see cref="GuardModelOptions"/>.</summary>
/// <param name="Path">The setting's path below the options object (an index is its own segment).</param>
/// <param name="Problem">What is wrong: after the path with a space, or, when <paramref name="Nested"/>, a sentence that
/// starts with the nested setting's name and follows the path directly.</param>
/// <param name="Kind">Which exception the non-DI path throws.</param>
/// <param name="Nested">Whether <paramref name="Problem"/> names a setting of the object at <paramref name="Path"/>.</param>
internal readonly record struct OptionProblem(string[] Path, string Problem, OptionProblemKind Kind, bool Nested = false)
{
    /// <summary>As the DI validator names settings: <c>SafeRoute:SmallModel:ExecutionProviders:0:DeviceId …</c>.</summary>
    public string ToConfigurationText(string prefix) =>
        prefix + string.Join(":", Path) + (Nested ? ":" : " ") + Problem;

    /// <summary>As the API names settings: <c>GuardModelOptions.ExecutionProviders[0].DeviceId …</c>.</summary>
    public string ToApiText()
    {
        var b = new System.Text.StringBuilder("GuardModelOptions");
        foreach (string segment in Path)
        {
            b.Append(char.IsAsciiDigit(segment[0]) ? $"[{segment}]" : "." + segment);
        }

        return b.Append(Nested ? "." : " ").Append(Problem).ToString();
    }
}
