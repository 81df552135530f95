using BenchmarkDotNet.Attributes;

namespace SafeRoute.Benchmarks;

/// <summary>
/// CPU latency of the default small and large guards on one input of exactly 128 tokens (template included), one
/// intra-op thread each so the ratio measures model size, not thread scheduling. Issue 3 requires large ≥ 4 × small.
/// </summary>
[MemoryDiagnoser]
public class DefaultModelsLatencyBenchmark
{
    private OnnxSafetyGuard _small = null!;
    private OnnxSafetyGuard _large = null!;
    private SafetyRequest _request = null!;

    [Params(128)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new GuardModelOptions { IntraOpNumThreads = 1 };
        _small = OnnxSafetyGuard.Create(DefaultGuardModels.SmallModelPath, options);
        _large = OnnxSafetyGuard.Create(DefaultGuardModels.LargeModelPath, options, GuardTier.Large);
        _request = BenchmarkInputs.RequestOfTokens(_small, Tokens);
        if (_large.Encoder.Encode(_request).TokenIds.Length != Tokens)
        {
            throw new InvalidOperationException("The two default guards must share a tokenizer and template for this benchmark.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _small.Dispose();
        _large.Dispose();
    }

    [Benchmark(Baseline = true)]
    public ValueTask<SafetyVerdict> Small() => _small.EvaluateAsync(_request);

    [Benchmark]
    public ValueTask<SafetyVerdict> Large() => _large.EvaluateAsync(_request);
}
