using BenchmarkDotNet.Attributes;

namespace SafeRoute.Benchmarks;

/// <summary>
/// Target 4 (batches): <c>EvaluateBatchAsync</c> on N development inputs in one padded run against N sequential
/// <c>EvaluateAsync</c> calls (Baseline), small default guard, default threads (all cores).
/// </summary>
[MemoryDiagnoser]
public class BatchingBenchmark
{
    private OnnxSafetyGuard _guard = null!;
    private SafetyRequest[] _inputs = null!;

    [Params(1, 8, 32)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _guard = OnnxSafetyGuard.Create(DefaultGuardModels.SmallModelPath, new GuardModelOptions { MaxBatchSize = 32 });
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
