using BenchmarkDotNet.Attributes;

namespace SafeRoute.Benchmarks;

/// <summary>
/// Target 4 (batches): <c>EvaluateBatchAsync</c> on N development inputs in one padded run against N sequential
/// <c>EvaluateAsync</c> calls (Baseline), on the small or the large default guard, default threads (all cores). Since
/// issue 16 the large guard is a 6-layer encoder (all-MiniLM-L6-v2 fine-tuned), where one padded batch should pay most.
/// </summary>
[MemoryDiagnoser]
public class BatchingBenchmark
{
    private OnnxSafetyGuard _guard = null!;
    private SafetyRequest[] _inputs = null!;

    [Params(1, 8, 32)]
    public int Size { get; set; }

    /// <summary>Gets or sets which default guard runs.</summary>
    [Params("small", "large")]
    public string Guard { get; set; } = "small";

    [GlobalSetup]
    public void Setup()
    {
        string path = Guard == "large" ? DefaultGuardModels.LargeModelPath : DefaultGuardModels.SmallModelPath;
        _guard = OnnxSafetyGuard.Create(path, new GuardModelOptions { MaxBatchSize = 32 }, Guard == "large" ? GuardTier.Large : GuardTier.Small);
        _inputs = DevSet.Sample(Size);
    }

    [GlobalCleanup]
    public void Cleanup() => _guard.Dispose();

    [Benchmark(Baseline = true)]
    public async Task Sequential()
    {
        foreach (SafetyRequest input in _inputs)
        {
            _ = await _guard.EvaluateAsync(input);
        }
    }

    [Benchmark]
    public async Task Batch() => _ = await _guard.EvaluateBatchAsync(_inputs);
}
