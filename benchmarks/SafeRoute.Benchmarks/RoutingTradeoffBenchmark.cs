using System.Globalization;
using BenchmarkDotNet.Attributes;

namespace SafeRoute.Benchmarks;

/// <summary>
/// Target 3: mean latency per input of small-only, large-only (Baseline), routed (the shipped router at its calibrated
/// threshold, length-aware when its file says so) and routed by the paper's rule (length-aware routing turned off: one ε
/// for every input, the file's uniform_threshold) over the whole development split, one caller, one intra-op thread per model. Setup also computes each
/// method's F1 and the routed large-guard share on the same rows and writes them to
/// results/routing-tradeoff-quality.md (numbers only, never rows).
/// </summary>
[MemoryDiagnoser]
public class RoutingTradeoffBenchmark
{
    private RoutedSafetyGuard _routed = null!;
    private RoutedSafetyGuard _paperRule = null!;
    private SafetyRequest[] _rows = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = new SafeRouteOptions
        {
            SmallModel = { Path = DefaultGuardModels.SmallModelPath, IntraOpNumThreads = 1 },
            LargeModel = { Path = DefaultGuardModels.LargeModelPath, IntraOpNumThreads = 1 },
            Router = { Path = DefaultGuardModels.RouterPath },
        };
        _routed = RoutedSafetyGuard.Create(options);
#pragma warning disable SAFEROUTE001 // the same small guard, shared (not owned) by the second routed guard
        _paperRule = new RoutedSafetyGuard(_routed.Small, _routed.Large, _routed.Router, new RoutedSafetyGuardOptions { LengthAwareRouting = false });
#pragma warning restore SAFEROUTE001
        _rows = DevSet.Requests;
        WriteQuality();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _paperRule.Dispose();
        _routed.Dispose();
    }

    [Benchmark(OperationsPerInvoke = DevSet.Rows)]
    public async Task SmallOnly()
    {
        foreach (SafetyRequest row in _rows)
        {
            _ = await _routed.Small.EvaluateAsync(row);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = DevSet.Rows)]
    public async Task LargeOnly()
    {
        foreach (SafetyRequest row in _rows)
        {
            _ = await _routed.Large.EvaluateAsync(row);
        }
    }

    [Benchmark(OperationsPerInvoke = DevSet.Rows)]
    public async Task Routed()
    {
        foreach (SafetyRequest row in _rows)
        {
            _ = await _routed.EvaluateAsync(row);
        }
    }

    [Benchmark(OperationsPerInvoke = DevSet.Rows)]
    public async Task RoutedPaperRule()
    {
        foreach (SafetyRequest row in _rows)
        {
            _ = await _paperRule.EvaluateAsync(row);
        }
    }

    private void WriteQuality()
    {
        bool[] labels = DevSet.Labels;
        var small = new bool[_rows.Length];
        var large = new bool[_rows.Length];
        var routed = new bool[_rows.Length];
        var paper = new bool[_rows.Length];
        int escalated = 0, paperEscalated = 0;
        for (int i = 0; i < _rows.Length; i++)
        {
            small[i] = _routed.Small.EvaluateAsync(_rows[i]).AsTask().GetAwaiter().GetResult().IsUnsafe;
            large[i] = _routed.Large.EvaluateAsync(_rows[i]).AsTask().GetAwaiter().GetResult().IsUnsafe;
            SafetyVerdict verdict = _routed.EvaluateAsync(_rows[i]).AsTask().GetAwaiter().GetResult();
            routed[i] = verdict.IsUnsafe;
            escalated += verdict.Routed ? 1 : 0;
            SafetyVerdict paperVerdict = _paperRule.EvaluateAsync(_rows[i]).AsTask().GetAwaiter().GetResult();
            paper[i] = paperVerdict.IsUnsafe;
            paperEscalated += paperVerdict.Routed ? 1 : 0;
        }

        string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);
        string text =
            $"# Routing trade-off: quality on the development split ({_rows.Length} rows)\n\n" +
            $"Written by RoutingTradeoffBenchmark's setup, threshold {F(_routed.Threshold)} (the router file's calibrated value)" +
            (_routed.LengthReference is float l ? $", length-aware with L = {l.ToString("0.#", CultureInfo.InvariantCulture)} characters; the paper's rule at {F(_paperRule.Threshold)}" : "") + ".\n\n" +
            "| method | F1 | large-guard share |\n|---|---:|---:|\n" +
            $"| small only | {F(F1(small, labels))} | 0 |\n" +
            $"| large only | {F(F1(large, labels))} | 1 |\n" +
            $"| routed | {F(F1(routed, labels))} | {F((double)escalated / _rows.Length)} |\n" +
            $"| routed, paper's rule | {F(F1(paper, labels))} | {F((double)paperEscalated / _rows.Length)} |\n";
        string path = Path.Combine(DevSet.RepositoryRoot(), "benchmarks", "SafeRoute.Benchmarks", "results", "routing-tradeoff-quality.md");
        File.WriteAllText(path, text);
        Console.WriteLine(text);
    }

    private static double F1(bool[] predicted, bool[] labels)
    {
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            tp += predicted[i] && labels[i] ? 1 : 0;
            fp += predicted[i] && !labels[i] ? 1 : 0;
            fn += !predicted[i] && labels[i] ? 1 : 0;
        }

        return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
    }
}
