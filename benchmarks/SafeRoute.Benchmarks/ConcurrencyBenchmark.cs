using BenchmarkDotNet.Attributes;

namespace SafeRoute.Benchmarks;

/// <summary>
/// Target 4 (concurrent callers): C callers at once, each making <see cref="RequestsPerCaller"/> sequential
/// <c>EvaluateAsync</c> calls on the small or the large default guard (default threads), without (Baseline) and with micro-batching
/// (MaxBatchSize 32; MaxWait 0, the default, and 1 ms). Same work per invocation, so the Ratio is the inverse throughput ratio.
/// p50/p99 latency: see <see cref="LatencyReport"/> (the <c>short</c> mode prints it after these).
/// </summary>
[MemoryDiagnoser]
public class ConcurrencyBenchmark
{
    public const int RequestsPerCaller = 8;

    private OnnxSafetyGuard _plain = null!;
    private OnnxSafetyGuard _batched = null!;
    private OnnxSafetyGuard _batchedWait = null!;
    private SafetyRequest[] _inputs = null!;

    [Params(1, 8, 32)]
    public int Callers { get; set; }

    /// <summary>Gets or sets which default guard runs: the small one (the routed guard's every-input pass) or the large one.</summary>
    [Params("small", "large")]
    public string Guard { get; set; } = "small";

    [GlobalSetup]
    public void Setup()
    {
        string path = Guard == "large" ? DefaultGuardModels.LargeModelPath : DefaultGuardModels.SmallModelPath;
        _plain = OnnxSafetyGuard.Create(path);
        _batched = OnnxSafetyGuard.Create(path, LatencyReport.BatchedOptions());
        _batchedWait = OnnxSafetyGuard.Create(path, LatencyReport.BatchedOptions(maxWaitMs: 1));
        _inputs = DevSet.Sample(Callers * RequestsPerCaller);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plain.Dispose();
        _batched.Dispose();
        _batchedWait.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task NoMicroBatching() => Run(_plain);

    [Benchmark]
    public Task MicroBatching() => Run(_batched);

    [Benchmark]
    public Task MicroBatchingWait1ms() => Run(_batchedWait);

    private Task Run(OnnxSafetyGuard guard)
    {
        var callers = new Task[Callers];
        for (int c = 0; c < callers.Length; c++)
        {
            int first = c * RequestsPerCaller;
            callers[c] = Task.Run(async () =>
            {
                for (int i = 0; i < RequestsPerCaller; i++)
                {
                    _ = await guard.EvaluateAsync(_inputs[first + i]).ConfigureAwait(false);
                }
            });
        }

        return Task.WhenAll(callers);
    }
}
