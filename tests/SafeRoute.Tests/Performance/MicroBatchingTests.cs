using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SafeRoute.Onnx;
using SafeRoute.Routing;
using SafeRoute.Tests.Guards;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Performance;

/// <summary>Opt-in micro-batching: same verdicts as sequential calls, real batches, MaxWait on a fake clock, cancellation, disposal.</summary>
[TestFixture]
public sealed class MicroBatchingTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private TempDirectory _temp = null!;
    private TestGuard _small = null!;
    private TestGuard _large = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _temp = new TempDirectory("saferoute-batching");
        _small = TestGuardFactory.Create(_temp.Sub("small"), TestGuardOptions.Small);
        _large = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown() => _temp.Dispose();

    /// <summary>Requests of different lengths (so batches are padded), with and without responses.</summary>
    private static List<SafetyRequest> MixedRequests(int count)
    {
        var requests = new List<SafetyRequest>(count);
        for (int i = 0; i < count; i++)
        {
            var words = new List<string>();
            for (int w = 0; w <= i % 7; w++)
            {
                words.Add(TestGuard.BenignWords[(i + w) % TestGuard.BenignWords.Count]);
            }

            if (i % 3 == 0)
            {
                words.Add(TestGuard.TriggerWords[i % TestGuard.TriggerWords.Count]);
            }

            string prompt = string.Join(' ', words);
            requests.Add(i % 4 == 1 ? new SafetyRequest(prompt, TestGuard.BenignWords[i % TestGuard.BenignWords.Count]) : new SafetyRequest(prompt));
        }

        return requests;
    }

    private OnnxSafetyGuard Batched(TimeProvider time, int maxBatchSize, TimeSpan maxWait, TestGuard? model = null) =>
        OnnxSafetyGuard.Create((model ?? _small).Directory, new GuardModelOptions
        {
            MicroBatching = { Enabled = true, MaxBatchSize = maxBatchSize, MaxWait = maxWait },
            TimeProvider = time,
        });

    [Test]
    public async Task ConcurrentCallers_GetSequentialVerdicts_InFullBatches()
    {
        List<SafetyRequest> requests = MixedRequests(16);
        using OnnxSafetyGuard plain = OnnxSafetyGuard.Create(_small.Directory);
        var sequential = new List<SafetyVerdict>();
        foreach (SafetyRequest request in requests)
        {
            sequential.Add(await plain.EvaluateAsync(request));
        }

        // The clock never moves, so only full batches run: 16 callers → exactly 2 runs of 8.
        using OnnxSafetyGuard batched = Batched(new FakeTimeProvider(), maxBatchSize: 8, maxWait: TimeSpan.FromSeconds(1));
        var sizes = new ConcurrentQueue<int>();
        batched.RunObserver = sizes.Enqueue;
        long runsBefore = batched.RunCount;
        SafetyVerdict[] concurrent = await Task.WhenAll(requests.Select(r => Task.Run(async () => await batched.EvaluateAsync(r)))).WaitAsync(Patience);

        Assert.That(batched.RunCount - runsBefore, Is.EqualTo(2));
        Assert.That(sizes, Is.EqualTo(new[] { 8, 8 }));
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.That(concurrent[i].UnsafeProbability, Is.EqualTo(sequential[i].UnsafeProbability).Within(1e-5), $"request {i}");
            Assert.That(concurrent[i].IsUnsafe, Is.EqualTo(sequential[i].IsUnsafe), $"request {i}");
        }
    }

    [Test]
    public async Task RoutedGuard_BatchesTheSmallGuard_WithTheSameFeaturesAndScores()
    {
        string routerPath = RouterFiles.Write(Path.Combine(_temp.Path, "router.safetensors"), _small.HiddenSize, threshold: 0.5f);
        List<SafetyRequest> requests = MixedRequests(8);

        using OnnxSafetyGuard plainSmall = OnnxSafetyGuard.Create(_small.Directory);
        using OnnxSafetyGuard plainLarge = OnnxSafetyGuard.Create(_large.Directory, tier: GuardTier.Large);
        using var plain = new RoutedSafetyGuard(plainSmall, plainLarge, MlpRouter.Load(routerPath));
        var sequential = new List<SafetyVerdict>();
        foreach (SafetyRequest request in requests)
        {
            sequential.Add(await plain.EvaluateAsync(request));
        }

        using OnnxSafetyGuard batchedSmall = Batched(new FakeTimeProvider(), maxBatchSize: 8, maxWait: TimeSpan.FromSeconds(1));
        using OnnxSafetyGuard large = OnnxSafetyGuard.Create(_large.Directory, tier: GuardTier.Large);
        using var routed = new RoutedSafetyGuard(batchedSmall, large, MlpRouter.Load(routerPath));
        SafetyVerdict[] concurrent = await Task.WhenAll(requests.Select(r => Task.Run(async () => await routed.EvaluateAsync(r)))).WaitAsync(Patience);

        Assert.That(batchedSmall.RunCount, Is.EqualTo(1), "one batch of 8 for the small guard");
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.That(concurrent[i].RouterScore!.Value, Is.EqualTo(sequential[i].RouterScore!.Value).Within(1e-5), $"router score {i}");
            Assert.That(concurrent[i].Routed, Is.EqualTo(sequential[i].Routed), $"routed {i}");
            Assert.That(concurrent[i].UnsafeProbability, Is.EqualTo(sequential[i].UnsafeProbability).Within(1e-5), $"p {i}");
        }
    }

    [Test]
    public async Task A_row_the_guard_refuses_fails_only_its_own_caller_not_the_batch()
    {
        using var temp = new TempDirectory("saferoute-poisoned");
        TestGuard poisoned = TestGuardFactory.Create(temp.Sub("small"), TestGuardOptions.Small with { Fault = TestGuardFault.PoisonedWord });
        SafetyRequest[] requests =
        [
            new("hello weather"),
            new("hello poison recipe"),
            new("attack garden"),
            new("music", "thanks"),
        ];
        using OnnxSafetyGuard plain = OnnxSafetyGuard.Create(poisoned.Directory);
        Assert.ThrowsAsync<SafeRouteException>(async () => await plain.EvaluateAsync(requests[1]), "the poisoned word makes this row's logits non-finite");

        // The clock never moves, so the four callers form exactly one full batch.
        using OnnxSafetyGuard batched = Batched(new FakeTimeProvider(), maxBatchSize: 4, maxWait: TimeSpan.FromSeconds(1), poisoned);
        var sizes = new ConcurrentQueue<int>();
        batched.RunObserver = sizes.Enqueue;
        Task<SafetyVerdict>[] calls = [.. requests.Select(r => Task.Run(async () => await batched.EvaluateAsync(r)))];
        await Task.WhenAny(Task.WhenAll(calls), Task.Delay(Patience));

        Assert.That(sizes.First(), Is.EqualTo(4), "the rows were batched together first");
        Assert.That(calls[1].IsFaulted, Is.True);
        Assert.That(calls[1].Exception!.InnerException, Is.InstanceOf<SafeRouteException>().With.Message.Contains("non-finite"));
        foreach (int i in (int[])[0, 2, 3])
        {
            Assert.That(calls[i].IsCompletedSuccessfully, Is.True, $"request {i} was batched with the bad row but is not bad itself");
            SafetyVerdict alone = await plain.EvaluateAsync(requests[i]);
            Assert.That(calls[i].Result.UnsafeProbability, Is.EqualTo(alone.UnsafeProbability).Within(1e-5), $"request {i}");
        }
    }

    [Test]
    public async Task MaxWait_RunsAPartialBatch_OnlyWhenTheClockReachesIt()
    {
        var clock = new FakeTimeProvider();
        using OnnxSafetyGuard guard = Batched(clock, maxBatchSize: 8, maxWait: TimeSpan.FromMilliseconds(50));
        var sizes = new ConcurrentQueue<int>();
        guard.RunObserver = sizes.Enqueue;
        Task<SafetyVerdict>[] pending = [.. MixedRequests(3).Select(r => guard.EvaluateAsync(r).AsTask())];
        MicroBatcher batcher = guard.Batcher!;
        Assert.That(SpinWait.SpinUntil(() => batcher.WindowsOpened == 1 && batcher.QueuedCount == 3, Patience), Is.True, "the loop opened its wait window");

        clock.Advance(TimeSpan.FromMilliseconds(49));
        Thread.Sleep(20);
        Assert.That(pending.Any(t => t.IsCompleted), Is.False, "a partial batch waits for MaxWait");
        Assert.That(guard.RunCount, Is.Zero);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        await Task.WhenAll(pending).WaitAsync(Patience);
        Assert.That(sizes, Is.EqualTo(new[] { 3 }));
    }

    [Test]
    public async Task A_leftover_request_waits_at_most_MaxWait_from_its_arrival_not_a_fresh_window()
    {
        var clock = new FakeTimeProvider();
        using OnnxSafetyGuard guard = Batched(clock, maxBatchSize: 3, maxWait: TimeSpan.FromSeconds(1));
        using var release = new ManualResetEventSlim();
        int blocked = 0;
        guard.RunObserver = _ =>
        {
            if (!release.IsSet)
            {
                Interlocked.Increment(ref blocked);
                release.Wait(Patience);
            }
        };

        // Occupy every run slot (one per core) with a full batch that blocks in its run.
        int slots = Environment.ProcessorCount;
        List<Task<SafetyVerdict>> fillers = [.. MixedRequests(3 * slots).Select(r => guard.EvaluateAsync(r).AsTask())];
        Assert.That(SpinWait.SpinUntil(() => Volatile.Read(ref blocked) == slots, Patience), Is.True, "every slot is busy");

        // Four more arrive at T0: one full batch (three) plus a leftover. The clock then moves 0.8 s before a slot frees.
        List<Task<SafetyVerdict>> next = [.. MixedRequests(4).Select(r => guard.EvaluateAsync(r).AsTask())];
        Assert.That(SpinWait.SpinUntil(() => guard.Batcher!.QueuedCount == 4, Patience), Is.True);
        clock.Advance(TimeSpan.FromSeconds(0.8));
        release.Set();
        await Task.WhenAll(fillers).WaitAsync(Patience);
        await Task.WhenAll(next.Take(3)).WaitAsync(Patience);
        Assert.That(next[3].IsCompleted, Is.False, "the leftover waits for company while its MaxWait lasts");

        // 1.0 s after the leftover arrived its window ends; before the fix it opened a fresh 1 s window at 0.8 s.
        clock.Advance(TimeSpan.FromSeconds(0.2));
        Assert.That(await Task.WhenAny(next[3], Task.Delay(Patience)), Is.SameAs(next[3]), "the leftover ran once MaxWait had passed since it arrived");
    }

    [Test]
    public async Task The_MaxWait_timer_is_asked_for_whole_milliseconds_rounded_up()
    {
        // System timers truncate to whole milliseconds, so a window of 1.5 ms (or what is left of 1 ms after a few
        // microseconds) must be asked for as 2 ms (1 ms), never as 1 ms (0 ms, which would not wait at all).
        var clock = new RecordingTimeProvider();
        using OnnxSafetyGuard guard = Batched(clock, maxBatchSize: 8, maxWait: TimeSpan.FromMilliseconds(1.5));
        Task<SafetyVerdict> call = guard.EvaluateAsync(new SafetyRequest("hello weather")).AsTask();
        Assert.That(SpinWait.SpinUntil(() => !clock.DueTimes.IsEmpty, Patience), Is.True, "the window started a timer");
        clock.Advance(TimeSpan.FromMilliseconds(2));
        await call.WaitAsync(Patience);

        Assert.That(clock.DueTimes, Has.Some.EqualTo(TimeSpan.FromMilliseconds(2)));
        Assert.That(clock.DueTimes.Where(d => d != Timeout.InfiniteTimeSpan), Has.All.Matches<TimeSpan>(d => d.Ticks % TimeSpan.TicksPerMillisecond == 0));
    }

    private sealed class RecordingTimeProvider : FakeTimeProvider
    {
        public ConcurrentQueue<TimeSpan> DueTimes { get; } = new();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            DueTimes.Enqueue(dueTime);
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    [Test]
    public async Task CancelledWhileQueued_ThrowsAtOnce_AndIsLeftOutOfTheBatch()
    {
        var clock = new FakeTimeProvider();
        using OnnxSafetyGuard guard = Batched(clock, maxBatchSize: 8, maxWait: TimeSpan.FromMilliseconds(50));
        var sizes = new ConcurrentQueue<int>();
        guard.RunObserver = sizes.Enqueue;
        using var cts = new CancellationTokenSource();
        Task<SafetyVerdict> cancelled = guard.EvaluateAsync(new SafetyRequest("first"), cts.Token).AsTask();
        Task<SafetyVerdict> kept = guard.EvaluateAsync(new SafetyRequest("second")).AsTask();
        Assert.That(SpinWait.SpinUntil(() => guard.Batcher!.WindowsOpened == 1, Patience), Is.True);

        await cts.CancelAsync();
        Assert.ThrowsAsync<TaskCanceledException>(async () => await cancelled.WaitAsync(Patience));
        Assert.That(kept.IsCompleted, Is.False);

        clock.Advance(TimeSpan.FromMilliseconds(50));
        _ = await kept.WaitAsync(Patience);
        Assert.That(sizes, Is.EqualTo(new[] { 1 }), "the cancelled request did not run");
    }

    [Test]
    public async Task Dispose_FailsQueuedCallers_WithObjectDisposedException()
    {
        OnnxSafetyGuard guard = Batched(new FakeTimeProvider(), maxBatchSize: 8, maxWait: TimeSpan.FromMilliseconds(50));
        Task<SafetyVerdict>[] pending = [.. MixedRequests(2).Select(r => guard.EvaluateAsync(r).AsTask())];
        Assert.That(SpinWait.SpinUntil(() => guard.Batcher!.QueuedCount == 2, Patience), Is.True);

        await guard.DisposeAsync();
        foreach (Task<SafetyVerdict> task in pending)
        {
            Assert.ThrowsAsync<ObjectDisposedException>(async () => await task.WaitAsync(Patience));
        }

        Assert.That(guard.RunCount, Is.Zero);
        Assert.ThrowsAsync<ObjectDisposedException>(async () => await guard.EvaluateAsync(new SafetyRequest("later")));
    }

    [Test]
    public async Task DisposeAsync_WaitsForTheBatchInFlight_WithoutBlockingTheCaller_AndTerminatesIt()
    {
        OnnxSafetyGuard guard = Batched(new FakeTimeProvider(), maxBatchSize: 1, maxWait: TimeSpan.Zero);
        using var inRun = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        guard.RunObserver = _ =>
        {
            inRun.Set();
            release.Wait(Patience * 2); // longer than the test waits for DisposeAsync to return, so a blocking one fails
        };
        Task<SafetyVerdict> call = guard.EvaluateAsync(new SafetyRequest("hello weather")).AsTask();
        Assert.That(inRun.Wait(Patience), Is.True, "the batch is running");

        using var returned = new ManualResetEventSlim();
        Task disposing = Task.Run(() =>
        {
            Task t = guard.DisposeAsync().AsTask();
            returned.Set();
            return t;
        });
        bool returnedWhileRunning = returned.Wait(Patience);
        bool completedWhileRunning = disposing.IsCompleted;
        release.Set();
        await disposing.WaitAsync(Patience);

        Assert.That(returnedWhileRunning, Is.True, "DisposeAsync returned to its caller while the batch was still running");
        Assert.That(completedWhileRunning, Is.False, "and its task did not complete before the batch had");
        Assert.That(
            async () => await call.WaitAsync(Patience),
            Throws.TypeOf<ObjectDisposedException>(),
            "disposal terminated the batch in flight (it had not started its run yet), its caller gets ObjectDisposedException");
        Assert.ThrowsAsync<ObjectDisposedException>(async () => await guard.EvaluateAsync(new SafetyRequest("later")));
    }

    [Test]
    public async Task ZeroMaxWait_StillServesASingleCaller()
    {
        using OnnxSafetyGuard guard = Batched(TimeProvider.System, maxBatchSize: 4, maxWait: TimeSpan.Zero);
        SafetyVerdict verdict = await guard.EvaluateAsync(new SafetyRequest(TestGuard.TriggerWords[0])).AsTask().WaitAsync(Patience);
        Assert.That(verdict.IsUnsafe, Is.True);
        Assert.That(guard.RunCount, Is.EqualTo(1));
    }

    [TestCase(0, 1)]
    [TestCase(MicroBatchingOptions.MaxAllowedBatchSize + 1, 1)]
    [TestCase(4, -1)]
    [TestCase(4, 2000)]
    public void InvalidOptions_AreRejected(int maxBatchSize, int maxWaitMs)
    {
        var options = new GuardModelOptions { MicroBatching = { Enabled = true, MaxBatchSize = maxBatchSize, MaxWait = TimeSpan.FromMilliseconds(maxWaitMs) } };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxSafetyGuard.Create(_small.Directory, options));
        Assert.That(ex!.Message, Does.Contain("MicroBatching." + (maxBatchSize == 4 ? "MaxWait" : "MaxBatchSize")));

        var services = new ServiceCollection();
        services.AddSafeRoute(o =>
        {
            o.SmallModel.Path = _small.Directory;
            o.LargeModel.Path = _large.Directory;
            o.Router.Kind = RouterKind.Entropy;
            o.SmallModel.MicroBatching = options.MicroBatching;
        });
        using ServiceProvider provider = services.BuildServiceProvider();
        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.That(failure!.Message, Does.Contain("SmallModel:MicroBatching:" + (maxBatchSize == 4 ? "MaxWait" : "MaxBatchSize")));
    }

    [Test]
    public async Task Configuration_TurnsMicroBatchingOn()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SafeRoute:SmallModel:Path"] = _small.Directory,
            ["SafeRoute:SmallModel:MicroBatching:Enabled"] = "true",
            ["SafeRoute:SmallModel:MicroBatching:MaxBatchSize"] = "32",
            ["SafeRoute:SmallModel:MicroBatching:MaxWait"] = "00:00:00.001",
            ["SafeRoute:LargeModel:Path"] = _large.Directory,
            ["SafeRoute:Router:Kind"] = "Entropy",
        }).Build();
        var services = new ServiceCollection();
        services.AddSafeRoute(configuration.GetSection("SafeRoute"));
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();
        var small = (OnnxSafetyGuard)provider.GetRequiredKeyedService<ISafetyGuard>(SafeRouteServiceKeys.Small);
        var large = (OnnxSafetyGuard)provider.GetRequiredKeyedService<ISafetyGuard>(SafeRouteServiceKeys.Large);
        Assert.That(small.Batcher, Is.Not.Null);
        Assert.That(large.Batcher, Is.Null, "off unless asked for");

        SafetyVerdict verdict = await provider.GetRequiredService<ISafetyGuard>().EvaluateAsync(new SafetyRequest(TestGuard.TriggerWords[0])).AsTask().WaitAsync(Patience);
        Assert.That(verdict.IsUnsafe, Is.True);
        Assert.That(small.RunCount, Is.EqualTo(1));
    }
}
