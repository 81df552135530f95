using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Routing;

/// <summary>Issue 15: <see cref="RoutedSafetyGuard"/> routes from any <see cref="IScoringSafetyGuard"/>: an app's own
/// in-process model, and a sequence classifier, in front of a Llama-Guard-style decoder large guard.</summary>
[TestFixture]
public sealed class ScoringSeamTests
{
    private TempDirectory _temp = null!;
    private OnnxSafetyGuard _large = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _temp = new TempDirectory("saferoute-seam");
        _large = OnnxSafetyGuard.Create(TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large).Directory, tier: GuardTier.Large);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown()
    {
        _large.Dispose();
        _temp.Dispose();
    }

    private static SafetyRequest[] Requests =>
    [
        new("hello there"),
        new("how do i bake bread"),
        new("maybe a bomb"),
        new("bomb bomb bomb"),
        new("kill the python process"),
        new("tell me about autumn", "sure, leaves turn red"),
        new($"{TestGuard.TriggerWords[0]} now"),
        new($"{TestGuard.BenignWords[0]} please"),
    ];

    [Test]
    public async Task UserWrittenSmallGuard_IsRoutedFrom_WithItsFeaturesAndLogits()
    {
        using var small = new KeywordGuard();
        MlpRouter router = RandomRouter(KeywordGuard.Features, seed: 11);
        IReadOnlyList<GuardScore> scores = await small.ScoreBatchAsync(Requests, includeFeatures: true);
        float[] routerScores = [.. scores.Select(s => router.Score(s.Features.Span, s.SafeLogit, s.UnsafeLogit))];
        float threshold = routerScores.Order().ElementAt(routerScores.Length / 2);
        await using var routed = new RoutedSafetyGuard(small, _large, router, new RoutedSafetyGuardOptions { Threshold = threshold });

        IReadOnlyList<SafetyVerdict> verdicts = await routed.EvaluateBatchAsync(Requests);
        IReadOnlyList<SafetyVerdict> largeAlone = await _large.EvaluateBatchAsync(Requests);
        int routedCount = 0;
        for (int i = 0; i < Requests.Length; i++)
        {
            bool route = routerScores[i] > threshold;
            routedCount += route ? 1 : 0;
            SafetyVerdict v = verdicts[i];
            Assert.Multiple(() =>
            {
                Assert.That(v.RouterScore, Is.EqualTo(routerScores[i]), $"request {i}");
                Assert.That(v.Routed, Is.EqualTo(route), $"request {i}");
                Assert.That(v.DecidedBy, Is.EqualTo(route ? GuardTier.Large : GuardTier.Small));
                Assert.That(v.UnsafeProbability, Is.EqualTo(route ? largeAlone[i].UnsafeProbability : scores[i].UnsafeProbability).Within(1e-6));
                Assert.That(v.ModelName, Is.EqualTo(route ? _large.Name : small.Name));
            });
        }

        Assert.That(routedCount, Is.InRange(1, Requests.Length - 1), "the threshold splits the inputs, so both paths are exercised");
    }

    [Test]
    public async Task ClassifierSmallGuard_RoutesToDecoderLargeGuard()
    {
        TinyClassifierModel model = TinyClassifierModel.Create(_temp.Sub($"classifier-{Guid.NewGuid():N}"));
        using OnnxSafetyGuard small = OnnxSafetyGuard.Create(model.Directory);
        MlpRouter router = RandomRouter(TinyClassifierModel.Dim, seed: 5);
        IReadOnlyList<GuardScore> scores = await small.ScoreBatchAsync(Requests, includeFeatures: true);
        float[] routerScores = [.. scores.Select(s => router.Score(s.Features.Span, s.SafeLogit, s.UnsafeLogit))];
        float threshold = routerScores.Order().ElementAt(routerScores.Length / 2);
        using var routed = new RoutedSafetyGuard(small, _large, router, new RoutedSafetyGuardOptions { Threshold = threshold });

        for (int i = 0; i < Requests.Length; i++)
        {
            // One at a time: the single-call path of the classifier (windows, no transient buffer) is the one DI uses.
            SafetyVerdict v = await routed.EvaluateAsync(Requests[i]);
            bool route = routerScores[i] > threshold;
            SafetyVerdict expected = route ? await _large.EvaluateAsync(Requests[i]) : await small.EvaluateAsync(Requests[i]);
            Assert.Multiple(() =>
            {
                Assert.That(v.Routed, Is.EqualTo(route), $"request {i}");
                Assert.That(v.UnsafeProbability, Is.EqualTo(expected.UnsafeProbability).Within(1e-6), $"request {i}");
                Assert.That(v.RouterScore, Is.EqualTo(routerScores[i]).Within(1e-6));
            });
        }
    }

    [Test]
    public void RouterFeatureSize_DiffersFromSmallGuard_IsRejected()
    {
        using var small = new KeywordGuard();
        var ex = Assert.Throws<SafeRouteException>(() => _ = new RoutedSafetyGuard(small, _large, RandomRouter(KeywordGuard.Features + 1, seed: 1)));
        Assert.That(ex!.Message, Does.Contain($"expects {KeywordGuard.Features + 1} input features").And.Contain("has 4"));
    }

    [Test]
    public void FeatureRouter_SmallGuardWithoutFeatures_IsRejected()
    {
        using var small = new KeywordGuard { ExposeFeatures = false };
        var ex = Assert.Throws<SafeRouteException>(() => _ = new RoutedSafetyGuard(small, _large, RandomRouter(KeywordGuard.Features, seed: 1)));
        Assert.That(ex!.Message, Does.Contain("exposes none"));
    }

    [Test]
    public void SmallGuardReturningTheWrongNumberOfScores_IsAnError_NotAVerdict()
    {
        using var small = new KeywordGuard { DropLastScore = true };
        using var routed = new RoutedSafetyGuard(small, _large, new EntropyRouter());
        var ex = Assert.ThrowsAsync<SafeRouteException>(async () => await routed.EvaluateBatchAsync(Requests));
        Assert.That(ex!.Message, Does.Contain($"returned {Requests.Length - 1} scores for {Requests.Length} requests"));
    }

    [Test]
    public void SmallGuardReturningTooFewFeatures_IsAnError()
    {
        using var small = new KeywordGuard { ShortFeatures = true };
        using var routed = new RoutedSafetyGuard(small, _large, RandomRouter(KeywordGuard.Features, seed: 2));
        var ex = Assert.ThrowsAsync<SafeRouteException>(async () => await routed.EvaluateAsync(Requests[0]));
        Assert.That(ex!.Message, Does.Contain("returned 3 features"));
    }

    [Test]
    public async Task OwnedUserGuard_IsDisposedWithTheRoutedGuard()
    {
        var small = new KeywordGuard();
        using OnnxSafetyGuard large = OnnxSafetyGuard.Create(TestGuardFactory.Create(_temp.Sub($"owned-{Guid.NewGuid():N}"), TestGuardOptions.Large).Directory);
        var routed = new RoutedSafetyGuard(small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { OwnsGuards = true });
        _ = await routed.EvaluateAsync(Requests[0]);
        await routed.DisposeAsync();
        Assert.That(small.Disposed, Is.True);
    }

    [Test]
    public void ContextualCalibration_NonOnnxSmallGuard_NeedsTheConfiguredProbability()
    {
        using var small = new KeywordGuard();
        var ex = Assert.Throws<SafeRouteException>(() => RouterFactory.Create(new RouterOptions { Kind = RouterKind.ContextualCalibration }, small));
        Assert.That(ex!.Message, Does.Contain("ContentFreeUnsafeProbability is required"));
        ISafetyRouter configured = RouterFactory.Create(new RouterOptions { Kind = RouterKind.ContextualCalibration, ContentFreeUnsafeProbability = 0.3f }, small);
        Assert.That(configured, Is.InstanceOf<ContextualCalibrationRouter>());
    }

    private static MlpRouter RandomRouter(int inputs, int seed)
    {
        var random = new Random(seed);
        var weights = new MlpRouterWeights(inputs, 8, 6);
        foreach (float[] array in new[] { weights.Layer1.WeightMu, weights.Layer1.BiasMu, weights.Layer2.WeightMu, weights.Layer2.BiasMu, weights.Layer3.WeightMu, weights.Layer3.BiasMu })
        {
            for (int i = 0; i < array.Length; i++)
            {
                array[i] = (float)((random.NextDouble() * 2) - 1);
            }
        }

        weights.Norm1.Weight.AsSpan().Fill(1f);
        weights.Norm2.Weight.AsSpan().Fill(1f);
        return MlpRouter.FromWeights(weights);
    }

    /// <summary>An app's own in-process small guard: keyword counts as features, a logistic score as its verdict.</summary>
    private sealed class KeywordGuard : IScoringSafetyGuard, IDisposable
    {
        public const int Features = 4;

        private static readonly string[] Words = ["bomb", "kill", "bread", "hello"];

        public bool ExposeFeatures { get; init; } = true;

        public bool DropLastScore { get; init; }

        public bool ShortFeatures { get; init; }

        public bool Disposed { get; private set; }

        public string Name => "keyword-guard";

        public int? FeatureSize => ExposeFeatures ? Features : null;

        public ValueTask<IReadOnlyList<GuardScore>> ScoreBatchAsync(IReadOnlyList<SafetyRequest> requests, bool includeFeatures, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(Disposed, this);
            cancellationToken.ThrowIfCancellationRequested();
            int count = DropLastScore ? requests.Count - 1 : requests.Count;
            var scores = new GuardScore[count];
            for (int i = 0; i < count; i++)
            {
                string text = (requests[i].Prompt + " " + requests[i].Response).ToLowerInvariant();
                float[] counts = [.. Words.Select(w => (float)CountOf(text, w))];
                float logit = (1.5f * counts[0]) + counts[1] - counts[2] - (0.5f * counts[3]) - 0.2f;
                ReadOnlyMemory<float> features = includeFeatures ? (ShortFeatures ? counts.AsMemory(0, 3) : counts) : default;
                scores[i] = new GuardScore(0f, logit, features);
            }

            return new ValueTask<IReadOnlyList<GuardScore>>(scores);
        }

        public async ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default) =>
            (await EvaluateBatchAsync([request], cancellationToken))[0];

        public async ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default)
        {
            IReadOnlyList<GuardScore> scores = await ScoreBatchAsync(requests, includeFeatures: false, cancellationToken);
            return [.. scores.Select(s => new SafetyVerdict { IsUnsafe = s.UnsafeProbability > SafetyVerdict.DecisionThreshold, UnsafeProbability = s.UnsafeProbability, DecidedBy = GuardTier.Small, ModelName = Name })];
        }

        public void Dispose() => Disposed = true;

        private static int CountOf(string text, string word)
        {
            int count = 0;
            for (int at = text.IndexOf(word, StringComparison.Ordinal); at >= 0; at = text.IndexOf(word, at + word.Length, StringComparison.Ordinal))
            {
                count++;
            }

            return count;
        }
    }
}
