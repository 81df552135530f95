using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Guards;

/// <summary>
/// The child process of the dispose-under-load reliability check (issue 14, defect 2): loads the small, the large and a
/// routed guard without micro-batching, hammers each with concurrent callers and disposes it while runs are in flight.
/// Exit 0: no crash, every caller got verdicts and then <see cref="ObjectDisposedException"/>; 2: a caller got another
/// exception or a bad verdict; 3: disposal or a caller hung. A native crash ends the process with a signal (134, 139).
/// Started as <c>dotnet exec SafeRoute.Tests.dll dispose-under-load [--models DIR] [--seed N]</c> (see
/// <see cref="Program"/>, <see cref="DisposeUnderLoadTests"/> and tools/reliability/dispose-under-load.sh).
/// </summary>
internal static class DisposeUnderLoad
{
    public const string Command = "dispose-under-load";

    public const int UnexpectedOutcome = 2;

    public const int Hang = 3;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Writes the small and large test guards into <paramref name="root"/> unless they are there.</summary>
    public static (string Small, string Large) EnsureModels(string root)
    {
        string small = Path.Combine(root, "small");
        string large = Path.Combine(root, "large");
        if (!File.Exists(Path.Combine(small, "saferoute.json")))
        {
            TestGuardFactory.Create(small, TestGuardOptions.Small);
        }

        if (!File.Exists(Path.Combine(large, "saferoute.json")))
        {
            TestGuardFactory.Create(large, TestGuardOptions.Large);
        }

        return (small, large);
    }

    public static async Task<int> RunAsync(string[] args)
    {
        string? models = null;
        int seed = Environment.ProcessId;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--models" when i + 1 < args.Length:
                    models = args[++i];
                    break;
                case "--seed" when i + 1 < args.Length:
                    seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    await Console.Error.WriteLineAsync($"usage: {Command} [--models DIR] [--seed N] (unknown argument '{args[i]}')");
                    return 64;
            }
        }

        using TempDirectory? temp = models is null ? new TempDirectory("saferoute-dispose") : null;
        (string small, string large) = EnsureModels(models ?? temp!.Path);
        var random = new Random(seed);
        var options = new GuardModelOptions { IntraOpNumThreads = 2 };
        var failures = new ConcurrentQueue<string>();

        // Each scenario disposes one guard under load; a crash ends the process here, an unexpected outcome is counted.
        Task<string> scenarios = Task.Run(async () =>
        {
            var summary = new List<string>();
            foreach (string scenario in new[] { "small", "large", "routed" })
            {
                OnnxSafetyGuard smallGuard = OnnxSafetyGuard.Create(small, options, GuardTier.Small);
                OnnxSafetyGuard largeGuard = OnnxSafetyGuard.Create(large, options, GuardTier.Large);
                (ISafetyGuard target, OnnxSafetyGuard watched, IAsyncDisposable? leftOver) = scenario switch
                {
                    "small" => ((ISafetyGuard)smallGuard, smallGuard, (IAsyncDisposable?)largeGuard),
                    "large" => (largeGuard, largeGuard, smallGuard),
                    _ => (new RoutedSafetyGuard(smallGuard, largeGuard, new EntropyRouter(), new RoutedSafetyGuardOptions
                    {
                        Threshold = 0.5f,
                        FailurePolicy = (LargeGuardFailurePolicy)random.Next(3),
                        OwnsGuards = true,
                    }), smallGuard, null),
                };
                int mode = random.Next(4);
                summary.Add(await OneScenarioAsync(scenario, target, watched, mode, random.Next(), failures).ConfigureAwait(false));
                if (leftOver is not null)
                {
                    await leftOver.DisposeAsync().ConfigureAwait(false);
                }
            }

            return string.Join("; ", summary);
        });

        if (await Task.WhenAny(scenarios, Task.Delay(Patience * 2)).ConfigureAwait(false) != scenarios)
        {
            await Console.Error.WriteLineAsync("HANG: a disposal or a caller did not finish.");
            return Hang;
        }

        string result = await scenarios.ConfigureAwait(false);
        if (!failures.IsEmpty)
        {
            foreach (string failure in failures.Take(10))
            {
                await Console.Error.WriteLineAsync("UNEXPECTED: " + failure);
            }

            return UnexpectedOutcome;
        }

        Console.WriteLine($"ok seed={seed}: {result}");
        return 0;
    }

    /// <summary>Runs callers against <paramref name="guard"/>, disposes it once runs are under way, and checks what each
    /// caller saw. <paramref name="mode"/>: 0 Dispose, 1 DisposeAsync, 2 both at once, 3 Dispose from a continuation of
    /// a call.</summary>
    private static async Task<string> OneScenarioAsync(string name, ISafetyGuard guard, OnnxSafetyGuard watched, int mode, int seed, ConcurrentQueue<string> failures)
    {
        int callers = Math.Max(4, 2 * Environment.ProcessorCount);
        long verdicts = 0;
        long disposedErrors = 0;
        string[] words = [.. TestGuard.TriggerWords, .. TestGuard.BenignWords, .. TestGuard.BorderlineWords];

        async Task CallerAsync(int index)
        {
            var random = new Random(seed + index);
            using var cts = new CancellationTokenSource(); // never cancelled: odd callers run with their own RunOptions
            CancellationToken token = index % 2 == 1 ? cts.Token : CancellationToken.None;
            await Task.Yield();
            while (true)
            {
                try
                {
                    string text = string.Join(' ', Enumerable.Range(0, 1 + random.Next(12)).Select(_ => words[random.Next(words.Length)]));
                    if (random.Next(3) == 0)
                    {
                        IReadOnlyList<SafetyVerdict> batch = await guard.EvaluateBatchAsync([new SafetyRequest(text), new SafetyRequest(text + " " + words[0]), new SafetyRequest("x")], token).ConfigureAwait(false);
                        foreach (SafetyVerdict verdict in batch)
                        {
                            Check(verdict);
                        }
                    }
                    else
                    {
                        Check(await guard.EvaluateAsync(new SafetyRequest(text), token).ConfigureAwait(false));
                    }
                }
                catch (ObjectDisposedException)
                {
                    Interlocked.Increment(ref disposedErrors);
                    return;
                }
#pragma warning disable CA1031 // Every other outcome is a failure to report.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    failures.Enqueue($"{name}: {ex.GetType().FullName}: {ex.Message}");
                    return;
                }
            }
        }

        void Check(SafetyVerdict verdict)
        {
            if (verdict is null || !float.IsFinite(verdict.UnsafeProbability) || verdict.UnsafeProbability is < 0f or > 1f || verdict.IsDegraded)
            {
                failures.Enqueue($"{name}: bad verdict {verdict}");
            }

            Interlocked.Increment(ref verdicts);
        }

        long runsBefore = watched.RunCount;
        Task[] running = [.. Enumerable.Range(0, callers).Select(i => Task.Run(() => CallerAsync(i)))];

        // Let the load build up (some runs done, so more are in flight), then dispose at a random moment.
        var wait = Stopwatch.StartNew();
        long target = 20 + new Random(seed).Next(200);
        while (watched.RunCount - runsBefore < target && wait.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.SpinWait(1000);
        }

        var disposeTime = Stopwatch.StartNew();
        switch (mode)
        {
            case 0:
                ((IDisposable)guard).Dispose();
                break;
            case 1:
                await ((IAsyncDisposable)guard).DisposeAsync().ConfigureAwait(false);
                break;
            case 2:
                Task sync = Task.Run(((IDisposable)guard).Dispose);
                await ((IAsyncDisposable)guard).DisposeAsync().ConfigureAwait(false);
                await sync.ConfigureAwait(false);
                break;
            default:
                await guard.EvaluateAsync(new SafetyRequest("hello")).AsTask().ContinueWith(_ => ((IDisposable)guard).Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
                break;
        }

        disposeTime.Stop();
        Task all = Task.WhenAll(running);
        if (await Task.WhenAny(all, Task.Delay(Patience)).ConfigureAwait(false) != all)
        {
            failures.Enqueue($"{name}: callers still running {Patience} after disposal");
        }

        try
        {
            await guard.EvaluateAsync(new SafetyRequest("after")).ConfigureAwait(false);
            failures.Enqueue($"{name}: a call after disposal returned a verdict");
        }
        catch (ObjectDisposedException)
        {
            // expected
        }

        return $"{name} mode {mode}: {Interlocked.Read(ref verdicts)} verdicts, {Interlocked.Read(ref disposedErrors)}/{callers} callers ended by ObjectDisposedException, disposal took {disposeTime.Elapsed.TotalMilliseconds:F0} ms";
    }
}

/// <summary>The test assembly's entry point (replacing the test SDK's empty one): <c>dotnet exec SafeRoute.Tests.dll
/// dispose-under-load …</c> runs <see cref="DisposeUnderLoad"/>; without arguments it does nothing, like the generated one.</summary>
internal static class Program
{
    public static int Main(string[] args) =>
        args is [DisposeUnderLoad.Command, ..] ? DisposeUnderLoad.RunAsync(args[1..]).GetAwaiter().GetResult() : 0;
}
