using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Guards;

[TestFixture]
public sealed class RoutedSafetyGuardTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private TempDirectory _temp = null!;
    private TestGuard _smallModel = null!;
    private TestGuard _largeModel = null!;
    private OnnxSafetyGuard _small = null!;
    private OnnxSafetyGuard _large = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _temp = new TempDirectory("saferoute-routed");
        _smallModel = TestGuardFactory.Create(_temp.Sub("small"), TestGuardOptions.Small);
        _largeModel = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
        _small = OnnxSafetyGuard.Create(_smallModel.Directory);
        _large = OnnxSafetyGuard.Create(_largeModel.Directory, tier: GuardTier.Large);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown()
    {
        _small.Dispose();
        _large.Dispose();
        _temp.Dispose();
    }

    private static string Trigger => TestGuard.TriggerWords[0];

    private static string Benign => TestGuard.BenignWords[0];

    private static string Borderline => TestGuard.BorderlineWords[0];

    [Test]
    public void Ctor_ArgValidation()
    {
        Assert.Throws<ArgumentNullException>(() => _ = new RoutedSafetyGuard(null!, _large, new EntropyRouter()));
        Assert.Throws<ArgumentNullException>(() => _ = new RoutedSafetyGuard(_small, null!, new EntropyRouter()));
        Assert.Throws<ArgumentNullException>(() => _ = new RoutedSafetyGuard(_small, _large, null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new RoutedSafetyGuard(_small, _large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = float.NaN }));
    }

    [Test]
    public async Task Entropy_ConfidentInputs_StayWithSmall_UncertainOnesGoToLarge()
    {
        var guard = new RoutedSafetyGuard(_small, _large, new EntropyRouter());
        SafetyVerdict benign = await guard.EvaluateAsync(new SafetyRequest($"about {Benign}"));
        SafetyVerdict trigger = await guard.EvaluateAsync(new SafetyRequest($"about {Trigger}"));
        Assert.That(benign.DecidedBy, Is.EqualTo(GuardTier.Small));
        Assert.That(benign.Routed, Is.False);
        Assert.That(benign.RouterScore, Is.LessThan(0.5f));
        Assert.That(trigger.DecidedBy, Is.EqualTo(GuardTier.Small));
        Assert.That(trigger.IsUnsafe, Is.True);

        var borderlineRequest = new SafetyRequest($"about {Borderline}");
        SafetyVerdict borderline = await guard.EvaluateAsync(borderlineRequest);
        SafetyVerdict largeAlone = await _large.EvaluateAsync(borderlineRequest);
        Assert.That(borderline.Routed, Is.True);
        Assert.That(borderline.RouterScore, Is.GreaterThan(0.5f));
        Assert.That(borderline.DecidedBy, Is.EqualTo(GuardTier.Large));
        Assert.That(borderline.UnsafeProbability, Is.EqualTo(largeAlone.UnsafeProbability));
        Assert.That(borderline.IsUnsafe, Is.EqualTo(TestGuard.BorderlineIsUnsafe[Borderline]), "the large guard knows the borderline word's true label");
        Assert.That(borderline.SmallVerdict, Is.Not.Null);
        Assert.That(borderline.SmallVerdict!.DecidedBy, Is.EqualTo(GuardTier.Small));
    }

    [Test]
    public async Task Threshold_ControlsRouting()
    {
        var never = new RoutedSafetyGuard(_small, _large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = 1.5f });
        var always = new RoutedSafetyGuard(_small, _large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f });
        var request = new SafetyRequest($"about {Borderline}");
        Assert.That((await never.EvaluateAsync(request)).DecidedBy, Is.EqualTo(GuardTier.Small));
        Assert.That((await always.EvaluateAsync(new SafetyRequest(Benign))).DecidedBy, Is.EqualTo(GuardTier.Large));
        Assert.That(never.Threshold, Is.EqualTo(1.5f));
        Assert.That(new RoutedSafetyGuard(_small, _large, new EntropyRouter()).Threshold, Is.EqualTo(0.5f));
    }

    [Test]
    public async Task Batch_OneSmallRun_OneLargeRunOfRoutedRowsOnly_SameAsSingleCalls()
    {
        var guard = new RoutedSafetyGuard(_small, _large, new EntropyRouter());
        SafetyRequest[] requests =
        [
            new($"about {Benign}"),
            new($"about {Borderline}"),
            new($"about {Trigger}"),
            new($"more {TestGuard.BorderlineWords[^1]}", "fine"),
        ];
        var singles = new List<SafetyVerdict>();
        foreach (SafetyRequest r in requests)
        {
            singles.Add(await guard.EvaluateAsync(r));
        }

        long smallRuns = _small.RunCount, largeRuns = _large.RunCount;
        IReadOnlyList<SafetyVerdict> batch = await guard.EvaluateBatchAsync(requests);
        Assert.That(_small.RunCount - smallRuns, Is.EqualTo(1));
        Assert.That(_large.RunCount - largeRuns, Is.EqualTo(1));
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.That(batch[i].DecidedBy, Is.EqualTo(singles[i].DecidedBy), $"row {i}");
            Assert.That(batch[i].UnsafeProbability, Is.EqualTo(singles[i].UnsafeProbability).Within(1e-5), $"row {i}");
            Assert.That(batch[i].RouterScore!.Value, Is.EqualTo(singles[i].RouterScore!.Value).Within(1e-5), $"row {i}");
        }

        Assert.That(batch.Count(v => v.Routed), Is.InRange(1, 3));
    }

    [Test]
    public async Task NothingRouted_LargeNeverRuns()
    {
        var guard = new RoutedSafetyGuard(_small, _large, new EntropyRouter());
        long largeRuns = _large.RunCount;
        _ = await guard.EvaluateBatchAsync([new SafetyRequest(Benign), new SafetyRequest(Trigger)]);
        Assert.That(_large.RunCount, Is.EqualTo(largeRuns));
    }

    [Test]
    public async Task MlpRouter_ReadsSmallGuardFeatures()
    {
        string path = RouterFiles.Write(_temp.Sub("router.safetensors"), _smallModel.HiddenSize, threshold: 0.42f);
        var router = MlpRouter.Load(path);
        var guard = new RoutedSafetyGuard(_small, _large, router);
        Assert.That(guard.Threshold, Is.EqualTo(0.42f), "threshold from the router file");

        var request = new SafetyRequest($"{Benign} and {Borderline}");
        var output = _small.ForwardBatch([request], wantFeatures: true, CancellationToken.None)[0];
        float expected = router.Score(output.Features, output.SafeLogit, output.UnsafeLogit);
        SafetyVerdict verdict = await guard.EvaluateAsync(request);
        Assert.That(verdict.RouterScore, Is.EqualTo(expected).Within(1e-6));
        Assert.That(verdict.Routed, Is.EqualTo(expected > 0.42f));
    }

    // Length-aware routing: each case measures the router's score for one request, then picks ε and L so that the
    // paper's rule (one ε for all) and the length-aware rule must disagree on it; a guard that ignored the length, or
    // applied it the wrong way round, fails.
    private (MlpRouter Router, SafetyRequest Request, float Score) LengthCase(string name, float finalBias, Func<float, int, (float Threshold, float Reference)> pick)
    {
        var request = new SafetyRequest($"{Benign} and {Borderline}");
        string probePath = RouterFiles.Write(_temp.Sub($"{name}-probe.safetensors"), _smallModel.HiddenSize, finalBias: finalBias);
        var probe = MlpRouter.Load(probePath);
        var output = _small.ForwardBatch([request], wantFeatures: true, CancellationToken.None)[0];
        float score = probe.Score(output.Features, output.SafeLogit, output.UnsafeLogit);
        (float threshold, float reference) = pick(score, request.Prompt.Length);
        string path = RouterFiles.Write(_temp.Sub($"{name}.safetensors"), _smallModel.HiddenSize, finalBias: finalBias, threshold: threshold, lengthReference: reference);
        return (MlpRouter.Load(path), request, score);
    }

    [Test]
    public async Task LengthAware_LongerThanTheReference_NeedsAHigherScore_AndOffIsThePapersRule()
    {
        // L = n / 3: the input is "long", its threshold is √2 ε ≈ 1.06 × its score (below the 0.9 ceiling), so it stays
        // with the small guard; the paper's rule (ε = 0.75 × score) routes it. A linear length factor (2 ε) would agree.
        (MlpRouter router, SafetyRequest request, float score) = LengthCase("length-long", -2f, (s, n) => (0.75f * s, n / 3f));
        Assert.That(score, Is.LessThan(0.8f), "precondition: 1.06 × the score stays below the 0.9 ceiling");

        var aware = new RoutedSafetyGuard(_small, _large, router);
        Assert.That(aware.LengthReference, Is.EqualTo(router.LengthReference), "on by default when the router file carries L");
        SafetyVerdict verdict = await aware.EvaluateAsync(request);
        Assert.That(verdict.RouterScore, Is.EqualTo(score).Within(1e-6));
        Assert.That(verdict.Routed, Is.False);
        Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Small));

        var paper = new RoutedSafetyGuard(_small, _large, router, new RoutedSafetyGuardOptions { LengthAwareRouting = false });
        Assert.That(paper.LengthReference, Is.Null);
        SafetyVerdict paperVerdict = await paper.EvaluateAsync(request);
        Assert.That(paperVerdict.Routed, Is.True);
        Assert.That(paperVerdict.DecidedBy, Is.EqualTo(GuardTier.Large));
    }

    [Test]
    public async Task LengthAware_ShorterThanTheReference_IsRoutedBelowEpsilon()
    {
        // L = 10n: the input is "short", its threshold is ε × √(11/20) ≈ 0.89 × its score; the paper's rule (ε = 1.2 × score) keeps it.
        (MlpRouter router, SafetyRequest request, float score) = LengthCase("length-short", -2f, (s, n) => (1.2f * s, 10f * n));

        SafetyVerdict aware = await new RoutedSafetyGuard(_small, _large, router, new RoutedSafetyGuardOptions { LengthAwareRouting = true }).EvaluateAsync(request);
        SafetyVerdict paper = await new RoutedSafetyGuard(_small, _large, router, new RoutedSafetyGuardOptions { LengthAwareRouting = false }).EvaluateAsync(request);

        Assert.That(aware.Routed, Is.True);
        Assert.That(paper.Routed, Is.False);
        Assert.That(score, Is.GreaterThan(0f));
    }

    [Test]
    public async Task LengthAware_AScoreAboveTheCeiling_IsAlwaysRouted_HoweverLong()
    {
        // L = n / 10: the scaled threshold would be √5.5 ε ≈ 1.17, which no score reaches; the ceiling (0.9) caps it.
        (MlpRouter router, SafetyRequest request, float score) = LengthCase("length-ceiling", 6f, (s, n) => (0.5f, n / 10f));
        Assert.That(score, Is.GreaterThan(0.9f), "precondition: the router is sure");

        SafetyVerdict verdict = await new RoutedSafetyGuard(_small, _large, router).EvaluateAsync(request);

        Assert.That(verdict.Routed, Is.True);
        Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Large));
    }

    [Test]
    public void LengthAware_TurnedOff_UsesTheFilesUniformThreshold_UnlessOneIsSet()
    {
        string path = RouterFiles.Write(_temp.Sub("router-uniform.safetensors"), _smallModel.HiddenSize, threshold: 0.3f, lengthReference: 90f, uniformThreshold: 0.65f);
        var router = MlpRouter.Load(path);

        Assert.That(new RoutedSafetyGuard(_small, _large, router).Threshold, Is.EqualTo(0.3f), "length-aware: the file's threshold");
        Assert.That(new RoutedSafetyGuard(_small, _large, router, new RoutedSafetyGuardOptions { LengthAwareRouting = false }).Threshold, Is.EqualTo(0.65f), "off: the paper's rule's ε");
        Assert.That(new RoutedSafetyGuard(_small, _large, router, new RoutedSafetyGuardOptions { LengthAwareRouting = false, Threshold = 0.5f }).Threshold, Is.EqualTo(0.5f), "a configured ε wins");
    }

    [Test]
    public void LengthAware_AskedForWithoutAReference_FailsAtConstruction()
    {
        string path = RouterFiles.Write(_temp.Sub("router-no-length.safetensors"), _smallModel.HiddenSize, threshold: 0.5f);
        var options = new RoutedSafetyGuardOptions { LengthAwareRouting = true };

        var ex = Assert.Throws<SafeRouteException>(() => _ = new RoutedSafetyGuard(_small, _large, MlpRouter.Load(path), options));
        Assert.That(ex!.Message, Does.Contain("length_reference"));
        Assert.Throws<SafeRouteException>(() => _ = new RoutedSafetyGuard(_small, _large, new EntropyRouter(), options));
        Assert.That(new RoutedSafetyGuard(_small, _large, MlpRouter.Load(path)).LengthReference, Is.Null, "off by default without one");
    }

    [TestCase(0.4f, 100f, 100L, 0.4f)]
    [TestCase(0.4f, 100f, 0L, 0.28284271f)]
    [TestCase(0.4f, 100f, 300L, 0.56568542f)]
    [TestCase(0.4f, 100f, 700L, 0.8f)]
    [TestCase(0.4f, 100f, 900L, 0.89442719f)]
    [TestCase(0.4f, 100f, 1000L, 0.9f)]
    [TestCase(0.95f, 100f, 1000L, 0.95f)]
    [TestCase(0.95f, 100f, 0L, 0.67175144f)]
    [TestCase(0.4f, 100f, long.MaxValue, 0.9f)]
    public void EffectiveThreshold_IsMinOfScaledEpsilonAndCeiling(float epsilon, float reference, long length, float expected)
    {
        Assert.That(RoutedSafetyGuard.EffectiveThreshold(epsilon, reference, length), Is.EqualTo(expected).Within(1e-6f));
        Assert.That(RoutedSafetyGuard.EffectiveThreshold(epsilon, null, length), Is.EqualTo(epsilon));
    }

    [Test]
    public void RoutingLength_CountsPromptAndResponseCodeUnits()
    {
        Assert.That(RoutedSafetyGuard.RoutingLength(new SafetyRequest("abc")), Is.EqualTo(3));
        Assert.That(RoutedSafetyGuard.RoutingLength(new SafetyRequest("abc", "de\U0001F600")), Is.EqualTo(3 + 4));
    }

    [Test]
    public void MlpRouter_SizeMismatch_FailsAtConstructionNamingSizes()
    {
        string path = RouterFiles.Write(_temp.Sub("router-wrong.safetensors"), _smallModel.HiddenSize + 3);
        var router = MlpRouter.Load(path);
        var ex = Assert.Throws<SafeRouteException>(() => _ = new RoutedSafetyGuard(_small, _large, router));
        Assert.That(ex!.Message, Does.Contain((_smallModel.HiddenSize + 3).ToString(System.Globalization.CultureInfo.InvariantCulture))
            .And.Contain(_smallModel.HiddenSize.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .And.Contain(_smallModel.Options.Name));
    }

    [Test]
    public async Task FailurePolicy_FailClosed_IsUnsafeAndDegraded()
    {
        var large = new FailingGuard(new InvalidOperationException("server down"));
        var guard = new RoutedSafetyGuard(_small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f });
        SafetyVerdict verdict = await guard.EvaluateAsync(new SafetyRequest(Benign));
        Assert.That(large.Calls, Is.EqualTo(1));
        Assert.That(verdict.IsUnsafe, Is.True);
        Assert.That(verdict.UnsafeProbability, Is.EqualTo(1f));
        Assert.That(verdict.IsDegraded, Is.True);
        Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Large));
        Assert.That(verdict.SmallVerdict!.IsUnsafe, Is.False);
    }

    [Test]
    public async Task NullVerdictsFromTheLargeGuard_AreAFailureThePolicyDecides()
    {
        var closed = new RoutedSafetyGuard(_small, new NullVerdictGuard(), new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f });
        IReadOnlyList<SafetyVerdict> verdicts = await closed.EvaluateBatchAsync([new SafetyRequest(Benign), new SafetyRequest(Trigger)]);
        Assert.That(verdicts.All(v => v.IsDegraded && v.IsUnsafe), Is.True, "FailClosed");

        var throwing = new RoutedSafetyGuard(_small, new NullVerdictGuard(), new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f, FailurePolicy = LargeGuardFailurePolicy.Throw });
        var ex = Assert.ThrowsAsync<SafeRouteException>(async () => await throwing.EvaluateAsync(new SafetyRequest(Benign)));
        Assert.That(ex!.Message, Does.Contain("null verdict"));
    }

    [Test]
    public async Task AHandledLargeGuardFailure_DoesNotMarkTheCallersSpanAsAnError()
    {
        using var callerSource = new System.Diagnostics.ActivitySource("SafeRoute.Tests.Caller");
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = s => s.Name == callerSource.Name, // SafeRoute's own source has no listener here
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        var guard = new RoutedSafetyGuard(_small, new FailingGuard(new InvalidOperationException("server down")), new EntropyRouter(),
            new RoutedSafetyGuardOptions { Threshold = -1f, FailurePolicy = LargeGuardFailurePolicy.FallBackToSmall });
        using System.Diagnostics.Activity? request = callerSource.StartActivity("HTTP POST");
        Assert.That(request, Is.Not.Null);
        SafetyVerdict verdict = await guard.EvaluateAsync(new SafetyRequest(Benign));
        Assert.That(verdict.IsDegraded, Is.True);
        Assert.That(request!.Status, Is.EqualTo(System.Diagnostics.ActivityStatusCode.Unset));
    }

    [Test]
    public async Task FailurePolicy_FallBackToSmall_ReturnsSmallVerdictDegraded()
    {
        var large = new FailingGuard(new InvalidOperationException("server down"));
        var guard = new RoutedSafetyGuard(_small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f, FailurePolicy = LargeGuardFailurePolicy.FallBackToSmall });
        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync([new SafetyRequest(Benign), new SafetyRequest(Trigger)]);
        Assert.That(verdicts[0].IsUnsafe, Is.False);
        Assert.That(verdicts[1].IsUnsafe, Is.True);
        Assert.That(verdicts.All(v => v.IsDegraded && v.DecidedBy == GuardTier.Small), Is.True);
    }

    [Test]
    public void FailurePolicy_Throw_Rethrows()
    {
        var large = new FailingGuard(new InvalidOperationException("server down"));
        var guard = new RoutedSafetyGuard(_small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f, FailurePolicy = LargeGuardFailurePolicy.Throw });
        var ex = Assert.ThrowsAsync<InvalidOperationException>(async () => await guard.EvaluateAsync(new SafetyRequest(Benign)));
        Assert.That(ex!.Message, Is.EqualTo("server down"));
    }

    [Test]
    public async Task LargeGuardOwnTimeout_IsAFailure_NotACancellation()
    {
        var large = new FailingGuard(new TaskCanceledException("HTTP timeout"));
        var guard = new RoutedSafetyGuard(_small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f });
        SafetyVerdict verdict = await guard.EvaluateAsync(new SafetyRequest(Benign));
        Assert.That(verdict.IsDegraded, Is.True);
        Assert.That(verdict.IsUnsafe, Is.True);
    }

    [Test]
    public async Task CallerCancellation_IsNeverARoutingSignalOrFailure()
    {
        var large = new HangingGuard();
        var guard = new RoutedSafetyGuard(_small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f });
        using var cts = new CancellationTokenSource();
        Task<SafetyVerdict> call = guard.EvaluateAsync(new SafetyRequest(Benign), cts.Token).AsTask();

        // Cancel once the call waits in the large tier (not on a timer that may fire while the small tier still runs),
        // so it is the large tier's wait that the cancellation ends.
        await large.Called.WaitAsync(Patience);
        await cts.CancelAsync();
        Assert.That(async () => await call.WaitAsync(Patience), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task Dispose_OwnsGuards_DisposesTiers_OtherwiseLeavesThemOpen()
    {
        var small = OnnxSafetyGuard.Create(_smallModel.Directory);
        var large = OnnxSafetyGuard.Create(_largeModel.Directory, tier: GuardTier.Large);
        var notOwning = new RoutedSafetyGuard(small, large, new EntropyRouter());
        notOwning.Dispose();
        Assert.ThrowsAsync<ObjectDisposedException>(async () => await notOwning.EvaluateAsync(new SafetyRequest(Benign)));
        _ = await small.EvaluateAsync(new SafetyRequest(Benign));

        var owning = new RoutedSafetyGuard(small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { OwnsGuards = true });
        await owning.DisposeAsync();
        owning.Dispose();
        Assert.ThrowsAsync<ObjectDisposedException>(async () => await small.EvaluateAsync(new SafetyRequest(Benign)));
        Assert.ThrowsAsync<ObjectDisposedException>(async () => await large.EvaluateAsync(new SafetyRequest(Benign)));
    }

    [Test]
    public async Task ParallelCallers_GetSameVerdictsAsSequential()
    {
        var guard = new RoutedSafetyGuard(_small, _large, new EntropyRouter());
        SafetyRequest[] requests = [.. Enumerable.Range(0, 32).Select(i => new SafetyRequest($"{TestGuard.BorderlineWords[i % TestGuard.BorderlineWords.Count]} {(i % 2 == 0 ? Benign : Trigger)} {i}"))];
        var sequential = new List<(GuardTier, float)>();
        foreach (SafetyRequest r in requests)
        {
            SafetyVerdict v = await guard.EvaluateAsync(r);
            sequential.Add((v.DecidedBy, v.UnsafeProbability));
        }

        var parallel = await Task.WhenAll(requests.Select(r => Task.Run(async () =>
        {
            SafetyVerdict v = await guard.EvaluateAsync(r);
            return (v.DecidedBy, v.UnsafeProbability);
        })));
        Assert.That(parallel, Is.EqualTo(sequential));
    }
}
