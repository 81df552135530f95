namespace SafeRoute;

/// <summary>
/// Opt-in micro-batching for one guard model: concurrent single-input calls are gathered for up to
/// <see cref="MaxWait"/> (or until <see cref="MaxBatchSize"/> are waiting) and run as one padded batch, so a loaded
/// server runs fewer, larger ONNX Runtime runs. Single callers pay up to <see cref="MaxWait"/> of extra latency.
/// </summary>
public sealed class MicroBatchingOptions
{
    /// <summary>The largest <see cref="MaxBatchSize"/> accepted.</summary>
    public const int MaxAllowedBatchSize = 1024;

    /// <summary>The longest <see cref="MaxWait"/> accepted.</summary>
    public static readonly TimeSpan MaxAllowedWait = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets a value indicating whether concurrent calls are micro-batched.</summary>
    /// <value>The default is <see langword="false"/>: every call runs on its own.</value>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets the most waiting calls gathered into one batch; a full batch runs at once. Runs are still
    /// split at <see cref="GuardModelOptions.MaxBatchSize"/> rows.</summary>
    /// <value>The default is 16; 1 to <see cref="MaxAllowedBatchSize"/>.</value>
    public int MaxBatchSize { get; set; } = 16;

    /// <summary>Gets or sets how long the first waiting call of a batch waits for others before the batch runs,
    /// measured from that call's arrival (a call left over from a full batch, or one that queued while every run slot
    /// was busy, does not start a fresh wait). While a batch runs, new calls queue anyway, so zero still batches under load without delaying a lone caller.
    /// A wait pays off only where one run costs much more than its rows (a GPU); on the CPU it mostly adds latency
    /// (see benchmarks/README.md).</summary>
    /// <value>The default is zero; zero to <see cref="MaxAllowedWait"/>.</value>
    public TimeSpan MaxWait { get; set; } = TimeSpan.Zero;

    /// <summary>Checks the settings.</summary>
    /// <returns>One message per invalid setting (names relative to this object); empty when all are valid.</returns>
    internal List<string> Problems()
    {
        var problems = new List<string>(2);
        if (MaxBatchSize is < 1 or > MaxAllowedBatchSize)
        {
            problems.Add($"MaxBatchSize must be between 1 and {MaxAllowedBatchSize} (it is {MaxBatchSize}).");
        }

        if (MaxWait < TimeSpan.Zero || MaxWait > MaxAllowedWait)
        {
            problems.Add($"MaxWait must be between 0 and {MaxAllowedWait} (it is {MaxWait}).");
        }

        return problems;
    }
}
