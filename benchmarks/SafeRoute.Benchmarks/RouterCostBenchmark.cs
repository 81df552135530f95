using BenchmarkDotNet.Attributes;
using SafeRoute.Routing;
using SafeRoute.Text;

namespace SafeRoute.Benchmarks;

/// <summary>
/// Target 2: the shipped router's cost against the small default guard's forward pass (Baseline) on one 128-token
/// input, one intra-op thread. The router reads the forward pass's last-token hidden state.
/// </summary>
[MemoryDiagnoser]
public class RouterCostBenchmark
{
    private OnnxSafetyGuard _small = null!;
    private MlpRouter _router = null!;
    private EncodedPrompt _encoded;
    private float[] _features = null!;

    [Params(128)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _small = OnnxSafetyGuard.Create(DefaultGuardModels.SmallModelPath, new GuardModelOptions { IntraOpNumThreads = 1 });
        _router = MlpRouter.Load(DefaultGuardModels.RouterPath);
        _encoded = _small.Encoder.Encode(BenchmarkInputs.RequestOfTokens(_small, Tokens));
        _features = _small.ForwardOne(_encoded, wantFeatures: true, CancellationToken.None).Features!;
    }

    [GlobalCleanup]
    public void Cleanup() => _small.Dispose();

    [Benchmark(Baseline = true)]
    public float SmallForward() => _small.ForwardOne(_encoded, wantFeatures: true, CancellationToken.None).UnsafeLogit;

    [Benchmark]
    public float Router() => _router.Score(_features, 0f, 0f);
}
