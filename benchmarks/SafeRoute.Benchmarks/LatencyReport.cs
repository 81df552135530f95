using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SafeRoute.Benchmarks;

/// <summary>
/// p50/p99 latency and throughput with 1, 8 and 32 concurrent callers on the small default guard, without and with
/// micro-batching. A plain Stopwatch measurement (BenchmarkDotNet reports means, not per-request percentiles): each
/// caller makes sequential calls; every call's latency is recorded after one warm-up round. Writes
/// results/latency-percentiles.md.
/// </summary>
internal static class LatencyReport
{
    private const int RequestsPerConfiguration = 512;

    public static GuardModelOptions BatchedOptions(double maxWaitMs = 0) => new()
    {
        MaxBatchSize = 32,
        MicroBatching = { Enabled = true, MaxBatchSize = 32, MaxWait = TimeSpan.FromMilliseconds(maxWaitMs) },
    };

    public static void Run()
    {
        SafetyRequest[] inputs = DevSet.Sample(RequestsPerConfiguration);
        var table = new StringBuilder();
        table.AppendLine("| callers | micro-batching | p50 (ms) | p99 (ms) | throughput (req/s) | runs | throughput ratio |");
        table.AppendLine("|---:|---|---:|---:|---:|---:|---:|");
        foreach (int callers in (int[])[1, 8, 32])
        {
            using OnnxSafetyGuard plain = OnnxSafetyGuard.Create(DefaultGuardModels.SmallModelPath);
            (double p50, double p99, double rps, long runs) off = Measure(plain, callers, inputs);
            string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
            table.AppendLine(CultureInfo.InvariantCulture, $"| {callers} | off | {F(off.p50)} | {F(off.p99)} | {off.rps:0} | {off.runs} | 1.00 |");
            foreach (double waitMs in (double[])[0, 1])
            {
                using OnnxSafetyGuard batched = OnnxSafetyGuard.Create(DefaultGuardModels.SmallModelPath, BatchedOptions(waitMs));
                (double p50, double p99, double rps, long runs) on = Measure(batched, callers, inputs);
                table.AppendLine(CultureInfo.InvariantCulture, $"| {callers} | on (max 32, MaxWait {waitMs} ms) | {F(on.p50)} | {F(on.p99)} | {on.rps:0} | {on.runs} | {F(on.rps / off.rps)} |");
            }
        }

        string text =
            "# Concurrent callers: latency percentiles and throughput\n\n" +
            $"Small default guard, default threads, {RequestsPerConfiguration} development inputs per row of the table (after a warm-up round), " +
            $"{Environment.ProcessorCount} logical cores, .NET {Environment.Version}. Written by `LatencyReport` (`-- short` or `-- latency`).\n\n" +
            table;
        string path = Path.Combine(DevSet.RepositoryRoot(), "benchmarks", "SafeRoute.Benchmarks", "results", "latency-percentiles.md");
        File.WriteAllText(path, text);
        Console.WriteLine(text);
    }

    private static (double P50, double P99, double Rps, long Runs) Measure(OnnxSafetyGuard guard, int callers, SafetyRequest[] inputs)
    {
        // Warm-up round: every caller once.
        Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () => await guard.EvaluateAsync(inputs[c % inputs.Length])))).GetAwaiter().GetResult();
        long runsBefore = guard.RunCount;
        int perCaller = inputs.Length / callers;
        double[] latencies = new double[perCaller * callers];
        var wall = Stopwatch.StartNew();
        Task[] tasks = [.. Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            for (int i = 0; i < perCaller; i++)
            {
                int index = (c * perCaller) + i;
                long start = Stopwatch.GetTimestamp();
                _ = await guard.EvaluateAsync(inputs[index]).ConfigureAwait(false);
                latencies[index] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }))];
        Task.WhenAll(tasks).GetAwaiter().GetResult();
        wall.Stop();
        Array.Sort(latencies);
        return (Percentile(latencies, 0.50), Percentile(latencies, 0.99), latencies.Length / wall.Elapsed.TotalSeconds, guard.RunCount - runsBefore);
    }

    private static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
}
