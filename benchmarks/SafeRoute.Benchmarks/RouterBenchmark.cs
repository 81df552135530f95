using BenchmarkDotNet.Attributes;
using SafeRoute.Routing;

namespace SafeRoute.Benchmarks;

/// <summary>
/// The cost of one routing decision: the paper's MLP router at Llama-Guard-3-1B size (2048 → 512 → 512 → 1) against the
/// entropy baseline, which reads only the two verdict logits. The router runs once per input on top of the small guard.
/// </summary>
[MemoryDiagnoser]
public class RouterBenchmark
{
    private MlpRouter _mlp = null!;
    private EntropyRouter _entropy = null!;
    private float[] _features = null!;
    private string _path = "";

    [Params(2048)]
    public int HiddenSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        float[] R(int n, double scale) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale))];
        float[] Ones(int n) => [.. Enumerable.Repeat(1f, n)];
        int h = HiddenSize;
        _path = Path.Combine(Path.GetTempPath(), $"saferoute-bench-router-{Guid.NewGuid():N}.safetensors");
        Safetensors.Write(_path,
        [
            ("cls.0.weight_mu", [512, h], R(512 * h, 1.0 / Math.Sqrt(h))), ("cls.0.bias_mu", [512], R(512, 0.05)),
            ("cls.1.weight", [512], Ones(512)), ("cls.1.bias", [512], new float[512]),
            ("cls.3.weight_mu", [512, 512], R(512 * 512, 1.0 / Math.Sqrt(512))), ("cls.3.bias_mu", [512], R(512, 0.05)),
            ("cls.4.weight", [512], Ones(512)), ("cls.4.bias", [512], new float[512]),
            ("cls.6.weight_mu", [1, 512], R(512, 1.0 / Math.Sqrt(512))), ("cls.6.bias_mu", [1], [0f]),
        ]);
        _mlp = MlpRouter.Load(_path);
        _entropy = new EntropyRouter();
        _features = R(h, 1.0);
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_path);

    [Benchmark(Baseline = true)]
    public float Entropy() => _entropy.Score(_features, 0.3f, -0.2f);

    [Benchmark]
    public float Mlp() => _mlp.Score(_features, 0.3f, -0.2f);
}
