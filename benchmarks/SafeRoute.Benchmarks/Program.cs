using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using SafeRoute.Benchmarks;

// `-- short`: the issue-5 suite (overhead, router cost, routing trade-off, batching, concurrency) as a short job, then the
// latency percentiles; reports are copied to results/. `-- latency`: only the percentiles; `-- alloc`: only the allocation breakdown;
// `-- adversarial-scan` / `-- adversarial`: issue 14's encoding cost (below). Anything else: BenchmarkSwitcher.
if (args is ["alloc"])
{
    AllocationBreakdown.Run();
    return;
}

// Issue 14: `-- adversarial-scan`: every adversarial class, stopwatch (results/adversarial-encoding.md);
// `-- adversarial`: AdversarialEncodingBenchmark as an in-process short job (report copied to results/).
if (args is ["adversarial-scan", ..])
{
    AdversarialEncodingScan.Run(only: args[1..]);
    return;
}

if (args is ["adversarial"])
{
    string artifacts = Path.Combine(Path.GetTempPath(), "saferoute-benchmarks-adversarial");
    IConfig adversarialConfig = DefaultConfig.Instance
        .AddJob(Job.ShortRun.WithWarmupCount(1).WithIterationCount(3).WithLaunchCount(1).WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance))
        .AddDiagnoser(MemoryDiagnoser.Default)
        .WithArtifactsPath(artifacts);
    _ = BenchmarkRunner.Run<AdversarialEncodingBenchmark>(adversarialConfig);
    string adversarialResults = Path.Combine(DevSet.RepositoryRoot(), "benchmarks", "SafeRoute.Benchmarks", "results");
    foreach (string report in Directory.GetFiles(Path.Combine(artifacts, "results"), $"{typeof(AdversarialEncodingBenchmark).FullName}-report-github.md"))
    {
        File.Copy(report, Path.Combine(adversarialResults, Path.GetFileName(report)), overwrite: true);
    }

    return;
}

if (args.Length > 0 && args[0] is "short" or "latency")
{
    string results = Path.Combine(DevSet.RepositoryRoot(), "benchmarks", "SafeRoute.Benchmarks", "results");
    if (args[0] == "short")
    {
        string artifacts = Path.Combine(Path.GetTempPath(), "saferoute-benchmarks");
        IConfig shortConfig = DefaultConfig.Instance
            .AddJob(Job.ShortRun.WithWarmupCount(2).WithIterationCount(3).WithLaunchCount(1))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithArtifactsPath(artifacts);
        Type[] suite = [typeof(GuardOverheadBenchmark), typeof(RouterCostBenchmark), typeof(RoutingTradeoffBenchmark), typeof(BatchingBenchmark), typeof(ConcurrencyBenchmark)];
        _ = BenchmarkRunner.Run(suite, shortConfig);
        foreach (Type type in suite)
        {
            foreach (string report in Directory.GetFiles(Path.Combine(artifacts, "results"), $"{type.FullName}-report-github.md"))
            {
                File.Copy(report, Path.Combine(results, Path.GetFileName(report)), overwrite: true);
            }
        }
    }

    LatencyReport.Run();
    if (args[0] == "short")
    {
        AllocationBreakdown.Run();
    }

    return;
}

IConfig config = DefaultConfig.Instance.AddDiagnoser(MemoryDiagnoser.Default);
BenchmarkSwitcher.FromAssembly(typeof(RouterBenchmark).Assembly).Run(args, config);
