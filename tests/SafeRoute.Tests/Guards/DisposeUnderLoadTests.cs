using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Guards;

/// <summary>Disposal while calls are in flight (issue 14, defect 2): it never crashes; calls in flight finish or throw
/// <see cref="ObjectDisposedException"/>; disposal releases the session only after they have left it.</summary>
[TestFixture]
public sealed class DisposeUnderLoadTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>How long a waiting disposal is given to (wrongly) finish while a run is held in flight.</summary>
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(300);

    private TempDirectory _temp = null!;
    private TestGuard _small = null!;
    private TestGuard _large = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _temp = new TempDirectory("saferoute-dispose");
        _small = TestGuardFactory.Create(_temp.Sub("small"), TestGuardOptions.Small);
        _large = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown() => _temp.Dispose();

    /// <summary>Holds every run of <paramref name="guard"/> just before ONNX Runtime starts it, until released.</summary>
    private sealed class RunHold : IDisposable
    {
        private readonly ManualResetEventSlim _entered = new();
        private readonly ManualResetEventSlim _release = new();

        public RunHold(OnnxSafetyGuard guard) => guard.RunObserver = _ =>
        {
            _entered.Set();
            _release.Wait(Patience);
        };

        public bool WaitEntered() => _entered.Wait(Patience);

        public void Release() => _release.Set();

        public void Dispose()
        {
            _release.Set();
            _entered.Dispose();
            _release.Dispose();
        }
    }

    [TestCase(false, false)]
    [TestCase(false, true)]
    [TestCase(true, false)]
    [TestCase(true, true)]
    public async Task Dispose_WaitsForTheRunInFlight_WhoseCallerGetsObjectDisposedException(bool async, bool cancellable)
    {
        var guard = OnnxSafetyGuard.Create(_small.Directory);
        using var hold = new RunHold(guard);
        using var cts = new CancellationTokenSource();
        CancellationToken token = cancellable ? cts.Token : CancellationToken.None;
        Task<SafetyVerdict> call = Task.Run(async () => await guard.EvaluateAsync(new SafetyRequest("hello weather"), token));
        Assert.That(hold.WaitEntered(), Is.True, "the run is in flight");

        Task disposing = Task.Run(async () =>
        {
            if (async)
            {
                await guard.DisposeAsync();
            }
            else
            {
                guard.Dispose();
            }
        });
        bool finishedUnderTheRun = disposing.Wait(Hold);
        Assert.That(
            async () => await guard.EvaluateAsync(new SafetyRequest("arriving during disposal")),
            Throws.TypeOf<ObjectDisposedException>(), "calls arriving during disposal are refused");
        hold.Release();
        await disposing.WaitAsync(Patience);

        Assert.That(finishedUnderTheRun, Is.False, "disposal waited for the run in flight before releasing the session");
        Assert.That(
            async () => await call.WaitAsync(Patience),
            Throws.TypeOf<ObjectDisposedException>().With.InnerException.TypeOf<OnnxRuntimeException>(),
            "the run terminated by disposal reaches its caller as ObjectDisposedException");
        Assert.That(async () => await guard.EvaluateAsync(new SafetyRequest("later")), Throws.TypeOf<ObjectDisposedException>());
        Assert.That(async () => await guard.EvaluateBatchAsync([new SafetyRequest("later"), new SafetyRequest("x")]), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public async Task ConcurrentDisposeAndDisposeAsync_BothWaitForTheRunInFlight()
    {
        var guard = OnnxSafetyGuard.Create(_small.Directory);
        using var hold = new RunHold(guard);
        Task<SafetyVerdict> call = Task.Run(async () => await guard.EvaluateAsync(new SafetyRequest("hello weather")));
        Assert.That(hold.WaitEntered(), Is.True);

        Task first = Task.Run(guard.Dispose);
        Assert.That(first.Wait(Hold), Is.False, "the synchronous Dispose waits");
        Task second = guard.DisposeAsync().AsTask();
        Task third = Task.Run(guard.Dispose);
        bool secondFinishedEarly = second.Wait(Hold);
        bool thirdFinishedEarly = third.Wait(Hold);
        hold.Release();
        await Task.WhenAll(first, second, third).WaitAsync(Patience);

        Assert.That(secondFinishedEarly, Is.False, "DisposeAsync while Dispose waits also waits for the release");
        Assert.That(thirdFinishedEarly, Is.False, "so does a second Dispose");
        Assert.That(async () => await call.WaitAsync(Patience), Throws.TypeOf<ObjectDisposedException>());
        guard.Dispose();
        await guard.DisposeAsync();
    }

    [Test]
    public async Task DisposeFromAContinuationOfACall_DoesNotDeadlock()
    {
        var guard = OnnxSafetyGuard.Create(_small.Directory);
        Task disposed = guard.EvaluateAsync(new SafetyRequest("hello")).AsTask()
            .ContinueWith(_ => guard.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await disposed.WaitAsync(Patience);
        Assert.That(async () => await guard.EvaluateAsync(new SafetyRequest("later")), Throws.TypeOf<ObjectDisposedException>());
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Dispose_TerminatesALongRunInFlight(bool cancellable)
    {
        // A run that never finishes by itself (an ONNX Loop of long.MaxValue steps): only Dispose's Terminate can end
        // it, so the outcome does not depend on how fast this machine is (a finite slow run raced Dispose under load).
        using var temp = new TempDirectory("saferoute-dispose-endless");
        TestGuard endless = TestGuardFactory.Create(temp.Path, TestGuardOptions.Small with { Endless = true });
        var guard = OnnxSafetyGuard.Create(endless.Directory, new GuardModelOptions { IntraOpNumThreads = 1 });
        using var entered = new ManualResetEventSlim();
        guard.RunObserver = _ => entered.Set();
        using var cts = new CancellationTokenSource();
        CancellationToken token = cancellable ? cts.Token : CancellationToken.None;
        Task<SafetyVerdict> call = Task.Run(async () => await guard.EvaluateAsync(new SafetyRequest("hello weather"), token));
        Assert.That(entered.Wait(Patience), Is.True);

        var timer = Stopwatch.StartNew();
        Task disposing = Task.Run(guard.Dispose); // if Dispose did not terminate the run it would wait forever
        Assert.That(disposing.Wait(Patience), Is.True, "Dispose terminated the endless run and returned");
        timer.Stop();
        TestContext.Out.WriteLine($"Dispose took {timer.Elapsed.TotalMilliseconds:F0} ms with an endless run in flight");
        // (Dispose returns once the run has left the session; the caller's task completes as its exception unwinds.)
        Assert.That(
            async () => await call.WaitAsync(Patience),
            Throws.TypeOf<ObjectDisposedException>().With.InnerException.TypeOf<OnnxRuntimeException>(),
            "the run was terminated, not left to finish (not an OnnxRuntimeException, not a verdict)");
    }

    [TestCase(LargeGuardFailurePolicy.Throw, false)]
    [TestCase(LargeGuardFailurePolicy.FallBackToSmall, true)]
    [TestCase(LargeGuardFailurePolicy.FailClosed, false)]
    public async Task RoutedGuard_DisposedWhileTheLargeGuardRuns_CallerGetsObjectDisposed_NotADegradedVerdict(LargeGuardFailurePolicy policy, bool async)
    {
        var small = OnnxSafetyGuard.Create(_small.Directory);
        var large = OnnxSafetyGuard.Create(_large.Directory, tier: GuardTier.Large);
        using var hold = new RunHold(large);
        var routed = new RoutedSafetyGuard(small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f, FailurePolicy = policy, OwnsGuards = true });
        Task<SafetyVerdict> call = Task.Run(async () => await routed.EvaluateAsync(new SafetyRequest("hello weather")));
        Assert.That(hold.WaitEntered(), Is.True, "the large guard's run is in flight");

        Task disposing = async ? routed.DisposeAsync().AsTask() : Task.Run(routed.Dispose);
        bool finishedUnderTheRun = disposing.Wait(Hold);
        Assert.That(async () => await routed.EvaluateAsync(new SafetyRequest("x")), Throws.TypeOf<ObjectDisposedException>());
        hold.Release();
        await disposing.WaitAsync(Patience);

        Assert.That(finishedUnderTheRun, Is.False, "disposal waited for the large guard's run");
        Assert.That(async () => await call.WaitAsync(Patience), Throws.TypeOf<ObjectDisposedException>());
        Assert.That(async () => await small.EvaluateAsync(new SafetyRequest("x")), Throws.TypeOf<ObjectDisposedException>());
        Assert.That(async () => await large.EvaluateAsync(new SafetyRequest("x")), Throws.TypeOf<ObjectDisposedException>());
    }

    /// <summary>
    /// Launches the child process (<see cref="DisposeUnderLoad"/>: small, large and routed guards without micro-batching,
    /// disposed under load) several times and counts the runs that did not exit 0 (a crash is 134 or 139).
    /// SAFEROUTE_DISPOSE_RUNS sets the count (10 by default; tools/reliability/dispose-under-load.sh runs 50).
    /// </summary>
    [Test]
    [Category("Reliability")]
    public void DisposeUnderLoad_InChildProcesses_NeverCrashes()
    {
        int runs = int.TryParse(Environment.GetEnvironmentVariable("SAFEROUTE_DISPOSE_RUNS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 10;
        _ = DisposeUnderLoad.EnsureModels(_temp.Sub("child"));
        string assembly = typeof(DisposeUnderLoad).Assembly.Location;
        var exits = new Dictionary<int, int>();
        var problems = new List<string>();
        for (int i = 0; i < runs; i++)
        {
            var start = new ProcessStartInfo(DotNetHost())
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string arg in new[] { "exec", assembly, DisposeUnderLoad.Command, "--models", _temp.Sub("child"), "--seed", i.ToString(CultureInfo.InvariantCulture) })
            {
                start.ArgumentList.Add(arg);
            }

            using Process child = Process.Start(start)!;
            Task<string> stdout = child.StandardOutput.ReadToEndAsync();
            Task<string> stderr = child.StandardError.ReadToEndAsync();
            int exit;
            if (child.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                exit = child.ExitCode;
            }
            else
            {
                child.Kill(entireProcessTree: true);
                child.WaitForExit();
                exit = -1;
            }

            exits[exit] = exits.GetValueOrDefault(exit) + 1;
            string output = stdout.Result.Trim();
            TestContext.Out.WriteLine($"run {i}: exit {exit} {output}");
            if (exit != 0)
            {
                string error = stderr.Result;
                problems.Add($"run {i}: exit {exit}: {error[Math.Max(0, error.Length - 600)..]}");
            }
        }

        string counts = string.Join(", ", exits.OrderBy(e => e.Key).Select(e => $"exit {e.Key}: {e.Value}"));
        TestContext.Out.WriteLine($"{runs} child runs: {counts}");
        Assert.That(problems, Is.Empty, $"{problems.Count} of {runs} dispose-under-load child runs failed ({counts})");
    }

    /// <summary>The dotnet host that runs this test (its runtime lives under &lt;root&gt;/shared/Microsoft.NETCore.App/&lt;version&gt;).</summary>
    private static string DotNetHost()
    {
        string name = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
        {
            return hostPath;
        }

        string root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string candidate = Path.Combine(root, name);
        return File.Exists(candidate) ? candidate : name;
    }
}
