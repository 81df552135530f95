using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Guards;

/// <summary>Issue 14, defect 4: the routed guard checks every large verdict and bounds the large call with
/// <see cref="RoutedSafetyGuardOptions.LargeGuardTimeout"/>; a bad verdict or an expired timeout is a large-guard failure
/// that the failure policy decides, exactly like an exception from the large guard. No test here depends on the clock.</summary>
[TestFixture]
public sealed class RoutedLargeGuardContractTests
{
    private static readonly TimeSpan LargeTimeout = TimeSpan.FromSeconds(2);

    private TempDirectory _temp = null!;
    private OnnxSafetyGuard _small = null!;
    private ServiceProvider _metrics = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _temp = new TempDirectory("saferoute-routed-contract");
        TestGuard smallModel = TestGuardFactory.Create(_temp.Sub("small"), TestGuardOptions.Small);
        _small = OnnxSafetyGuard.Create(smallModel.Directory);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown()
    {
        _small.Dispose();
        _temp.Dispose();
    }

    [SetUp]
    public void SetUp() => _metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [TearDown]
    public void TearDown() => _metrics.Dispose();

    private static string Benign => TestGuard.BenignWords[0];

    private static string Trigger => TestGuard.TriggerWords[0];

    /// <summary>Bad large verdicts, each with the text the Throw policy's message must contain. Every case breaks exactly
    /// one rule: the out-of-range ones carry the IsUnsafe that agrees with their sign, so only the range check catches them.</summary>
    private static readonly (string Name, SafetyVerdict? Verdict, string Problem)[] Bad =
    [
        ("NaN", V(false, float.NaN), "p(unsafe) = NaN"),
        ("+inf", V(true, float.PositiveInfinity), "p(unsafe) = Infinity"),
        ("-inf", V(false, float.NegativeInfinity), "p(unsafe) = -Infinity"),
        ("-1", V(false, -1f), "p(unsafe) = -1 for"),
        ("2", V(true, 2f), "p(unsafe) = 2 for"),
        ("safe at 0.99", V(false, 0.99f), "IsUnsafe = false with p(unsafe) = 0.99"),
        ("unsafe at 0.01", V(true, 0.01f), "IsUnsafe = true with p(unsafe) = 0.01"),
        ("null", null, "null verdict"),
    ];

    public static IEnumerable<TestCaseData> BadVerdicts() =>
        Bad.Select(b => new TestCaseData(b.Verdict, b.Problem).SetArgDisplayNames(b.Name));

    public static IEnumerable<TestCaseData> BadVerdictsByPolicy() =>
        from b in Bad
        from LargeGuardFailurePolicy policy in Enum.GetValues<LargeGuardFailurePolicy>()
        from bool batch in new[] { false, true }
        select new TestCaseData(b.Verdict, b.Problem, policy, batch).SetArgDisplayNames(b.Name, policy.ToString(), batch ? "batch" : "single");

    private static SafetyVerdict V(bool isUnsafe, float p) => new() { IsUnsafe = isUnsafe, UnsafeProbability = p, DecidedBy = GuardTier.Large, ModelName = "broken" };

    [TestCaseSource(nameof(BadVerdictsByPolicy))]
    public async Task ABadLargeVerdict_IsALargeGuardFailureThePolicyDecides(SafetyVerdict? bad, string problem, LargeGuardFailurePolicy policy, bool batch)
    {
        var large = new ScriptedVerdictGuard(bad);
        RoutedSafetyGuard guard = Routed(large, policy);
        using var failures = new MetricCollector<long>(_metrics.GetRequiredService<IMeterFactory>(), "SafeRoute", "saferoute.large_guard.failures");
        SafetyRequest[] requests = batch ? [new(Benign), new(Trigger)] : [new(Benign)];

        await AssertPolicyOutcome(guard, requests, policy, Throws.TypeOf<SafeRouteException>().With.Message.Contain(problem), batch);

        Assert.That(large.SingleCalls + large.BatchCalls, Is.EqualTo(1), "one large call");
        Assert.That(failures.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(requests.Length), "counted as large-guard failures");
        Assert.That(failures.GetMeasurementSnapshot().All(m => Equals(m.Tags["saferoute.policy"], policy.ToString())), Is.True);
    }

    [TestCaseSource(nameof(BadVerdicts))]
    public async Task OneBadVerdictInALargeBatch_FailsTheWholeLargeCall(SafetyVerdict? bad, string problem)
    {
        var closed = Routed(new ScriptedVerdictGuard(bad) { BadIndex = 1 }, LargeGuardFailurePolicy.FailClosed);
        IReadOnlyList<SafetyVerdict> verdicts = await closed.EvaluateBatchAsync([new(Benign), new($"more {Benign}"), new(Trigger)]);
        Assert.That(verdicts.All(v => v.IsDegraded && v.IsUnsafe && v.DecidedBy == GuardTier.Large), Is.True, "as when the large guard throws");

        var throwing = Routed(new ScriptedVerdictGuard(bad) { BadIndex = 1 }, LargeGuardFailurePolicy.Throw);
        Assert.That(async () => await throwing.EvaluateBatchAsync([new(Benign), new($"more {Benign}"), new(Trigger)]),
            Throws.TypeOf<SafeRouteException>().With.Message.Contain(problem).And.Message.Contain("request 1 of 3"));
    }

    [TestCase(false, 0f)]
    [TestCase(false, 0.01f)]
    [TestCase(false, 0.5f)]
    [TestCase(true, 0.5f)]
    [TestCase(true, 0.99f)]
    [TestCase(true, 1f)]
    public async Task AGoodLargeVerdict_Decides(bool isUnsafe, float p)
    {
        var good = new SafetyVerdict { IsUnsafe = isUnsafe, UnsafeProbability = p, DecidedBy = GuardTier.Large, ModelName = "good" };
        foreach (LargeGuardFailurePolicy policy in Enum.GetValues<LargeGuardFailurePolicy>())
        {
            RoutedSafetyGuard guard = Routed(new ScriptedVerdictGuard(good), policy);
            SafetyVerdict single = await guard.EvaluateAsync(new SafetyRequest(Trigger));
            IReadOnlyList<SafetyVerdict> batch = await guard.EvaluateBatchAsync([new(Benign), new(Trigger)]);
            foreach (SafetyVerdict v in batch.Prepend(single))
            {
                Assert.That(v.IsDegraded, Is.False, $"{policy}");
                Assert.That(v.DecidedBy, Is.EqualTo(GuardTier.Large), $"{policy}");
                Assert.That(v.IsUnsafe, Is.EqualTo(isUnsafe), $"{policy}");
                Assert.That(v.UnsafeProbability, Is.EqualTo(p), $"{policy}");
                Assert.That(v.ModelName, Is.EqualTo("good"), $"{policy}");
            }
        }
    }

    [Test]
    public async Task LargeGuardTimeout_Expiry_IsALargeGuardFailureThePolicyDecides(
        [Values] LargeGuardFailurePolicy policy, [Values] bool batch, [Values] bool largeIgnoresCancellation)
    {
        var time = new FakeTimeProvider();
        var large = new ControlledGuard { IgnoresCancellation = largeIgnoresCancellation };
        RoutedSafetyGuard guard = Routed(large, policy, LargeTimeout, time);
        using var failures = new MetricCollector<long>(_metrics.GetRequiredService<IMeterFactory>(), "SafeRoute", "saferoute.large_guard.failures");
        SafetyRequest[] requests = batch ? [new(Benign), new(Trigger)] : [new(Benign)];

        Task<IReadOnlyList<SafetyVerdict>> call = guard.EvaluateBatchAsync(requests).AsTask();
        await HangGuard(large.Entered);
        time.Advance(LargeTimeout - TimeSpan.FromTicks(1));
        Assert.That(call.IsCompleted, Is.False, "the timeout has not expired yet");
        time.Advance(TimeSpan.FromTicks(1));

        await AssertPolicyOutcome(HangGuard(call), requests, policy, Throws.TypeOf<TimeoutException>()
            .With.Message.Contain("00:00:02").And.InnerException.InstanceOf<OperationCanceledException>(), batch);
        Assert.That(large.SawCancellation.IsCompleted, Is.True, "the large call's token was cancelled");
        Assert.That(failures.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(requests.Length));
        large.Answer.TrySetResult(ScriptedVerdictGuard.Good); // lets an abandoned call end
    }

    [Test]
    public async Task LargeGuardTimeout_AnAnswerInTime_Decides([Values] bool batch)
    {
        var time = new FakeTimeProvider();
        var large = new ControlledGuard();
        RoutedSafetyGuard guard = Routed(large, LargeGuardFailurePolicy.Throw, LargeTimeout, time);
        SafetyRequest[] requests = batch ? [new(Benign), new(Trigger)] : [new(Benign)];

        Task<IReadOnlyList<SafetyVerdict>> call = guard.EvaluateBatchAsync(requests).AsTask();
        await HangGuard(large.Entered);
        time.Advance(LargeTimeout - TimeSpan.FromTicks(1));
        large.Answer.SetResult(new SafetyVerdict { IsUnsafe = true, UnsafeProbability = 0.9f, DecidedBy = GuardTier.Large });
        IReadOnlyList<SafetyVerdict> verdicts = await HangGuard(call);
        time.Advance(LargeTimeout);
        Assert.That(verdicts.All(v => !v.IsDegraded && v.IsUnsafe && v.DecidedBy == GuardTier.Large), Is.True);
        Assert.That(large.SawCancellation.IsCompleted, Is.False);
    }

    [Test]
    public async Task CallerCancellation_WhileTheLargeCallHangs_IsACancellation_NotAPolicyVerdict(
        [Values] LargeGuardFailurePolicy policy, [Values("no timeout", "timeout", "timeout, large ignores its token")] string setup)
    {
        // Without a timeout the routed guard waits for a large guard that ignores its token, as before, so that case is not here.
        bool withTimeout = setup != "no timeout";
        var time = new FakeTimeProvider();
        var large = new ControlledGuard { IgnoresCancellation = setup.EndsWith("token", StringComparison.Ordinal) };
        RoutedSafetyGuard guard = Routed(large, policy, withTimeout ? LargeTimeout : null, time);
        using var failures = new MetricCollector<long>(_metrics.GetRequiredService<IMeterFactory>(), "SafeRoute", "saferoute.large_guard.failures");
        using var cts = new CancellationTokenSource();

        Task<SafetyVerdict> call = guard.EvaluateAsync(new SafetyRequest(Benign), cts.Token).AsTask();
        await HangGuard(large.Entered);
        await cts.CancelAsync();

        var ex = Assert.CatchAsync<OperationCanceledException>(async () => await HangGuard(call));
        Assert.That(ex!.CancellationToken, Is.EqualTo(cts.Token), "the caller's own token");
        time.Advance(LargeTimeout); // the timeout expiring afterwards changes nothing
        Assert.That(failures.GetMeasurementSnapshot(), Is.Empty, "a cancellation is not a large-guard failure");
        large.Answer.TrySetResult(ScriptedVerdictGuard.Good);
    }

    [Test]
    public void LargeGuardTimeout_OutOfRange_ThrowsAtConstruction()
    {
        foreach (TimeSpan bad in new[] { TimeSpan.Zero, TimeSpan.FromTicks(-1), System.Threading.Timeout.InfiniteTimeSpan, TimeSpan.FromHours(1) + TimeSpan.FromTicks(1), TimeSpan.MaxValue })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = Routed(new ScriptedVerdictGuard(ScriptedVerdictGuard.Good), LargeGuardFailurePolicy.FailClosed, bad), bad.ToString());
        }

        Assert.That(Routed(new ScriptedVerdictGuard(ScriptedVerdictGuard.Good), LargeGuardFailurePolicy.FailClosed, TimeSpan.FromHours(1)).LargeGuardTimeout, Is.EqualTo(TimeSpan.FromHours(1)));
        Assert.That(Routed(new ScriptedVerdictGuard(ScriptedVerdictGuard.Good), LargeGuardFailurePolicy.FailClosed).LargeGuardTimeout, Is.Null);
    }

    /// <summary>Turns a hang (a regression: a call that never ends) into a test failure after a minute. A passing run
    /// never waits on it: every outcome here is driven by the fake clock and the test's own signals.</summary>
    internal static Task<T> HangGuard<T>(Task<T> call) => call.WaitAsync(TimeSpan.FromMinutes(1));

    internal static Task HangGuard(Task signal) => signal.WaitAsync(TimeSpan.FromMinutes(1));

    private RoutedSafetyGuard Routed(ISafetyGuard large, LargeGuardFailurePolicy policy, TimeSpan? timeout = null, TimeProvider? time = null) =>
        new(_small, large, new EntropyRouter(), new RoutedSafetyGuardOptions
        {
            Threshold = -1f, // every input goes to the large guard
            FailurePolicy = policy,
            LargeGuardTimeout = timeout,
            TimeProvider = time,
            MeterFactory = _metrics.GetRequiredService<IMeterFactory>(),
        });

    private static Task AssertPolicyOutcome(RoutedSafetyGuard guard, SafetyRequest[] requests, LargeGuardFailurePolicy policy, NUnit.Framework.Constraints.IResolveConstraint thrown, bool batch) =>
        AssertPolicyOutcome(
            batch ? guard.EvaluateBatchAsync(requests).AsTask() : SingleAsync(guard, requests[0]),
            requests,
            policy,
            thrown,
            batch);

    private static async Task<IReadOnlyList<SafetyVerdict>> SingleAsync(RoutedSafetyGuard guard, SafetyRequest request) => [await guard.EvaluateAsync(request)];

    /// <summary>The outcome a large-guard failure must have under each policy (as for an exception from the large guard).</summary>
    private static async Task AssertPolicyOutcome(Task<IReadOnlyList<SafetyVerdict>> call, SafetyRequest[] requests, LargeGuardFailurePolicy policy, NUnit.Framework.Constraints.IResolveConstraint thrown, bool batch)
    {
        if (policy == LargeGuardFailurePolicy.Throw)
        {
            Assert.That(async () => await call, thrown);
            return;
        }

        IReadOnlyList<SafetyVerdict> verdicts = await call;
        Assert.That(verdicts, Has.Count.EqualTo(requests.Length), batch ? "batch" : "single");
        for (int i = 0; i < verdicts.Count; i++)
        {
            SafetyVerdict v = verdicts[i];
            bool smallSaysUnsafe = requests[i].Prompt.Contains(Trigger, StringComparison.Ordinal);
            Assert.That(v.IsDegraded, Is.True, $"row {i}: never a non-degraded verdict");
            Assert.That(v.Routed, Is.True, $"row {i}");
            Assert.That(v.SmallVerdict, Is.Not.Null, $"row {i}");
            Assert.That(v.SmallVerdict!.IsUnsafe, Is.EqualTo(smallSaysUnsafe), $"row {i}: the test's premise");
            if (policy == LargeGuardFailurePolicy.FailClosed)
            {
                Assert.That(v.IsUnsafe, Is.True, $"row {i}");
                Assert.That(v.UnsafeProbability, Is.EqualTo(1f), $"row {i}");
                Assert.That(v.DecidedBy, Is.EqualTo(GuardTier.Large), $"row {i}");
                Assert.That(v.ModelName, Is.Null, $"row {i}");
            }
            else
            {
                Assert.That(v.IsUnsafe, Is.EqualTo(smallSaysUnsafe), $"row {i}: the small guard's verdict");
                Assert.That(v.UnsafeProbability, Is.EqualTo(v.SmallVerdict.UnsafeProbability), $"row {i}");
                Assert.That(v.DecidedBy, Is.EqualTo(GuardTier.Small), $"row {i}");
            }
        }
    }
}
