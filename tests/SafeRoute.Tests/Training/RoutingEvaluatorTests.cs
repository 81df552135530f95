using System.Text.Json;
using SafeRoute.Training;

namespace SafeRoute.Tests.Training;

[TestFixture]
public sealed class RoutingEvaluatorTests
{
    // Six rows. Small logits (0, d) → q = σ(d); large logits (0, e) → p = σ(e). Entropy H in bits of σ(·):
    // H(0) = 1, H(±1) = 0.8399, H(±1.5) = 0.6850, H(±2) = 0.5266, H(±2.5) = 0.3877, H(±3) = 0.2754, H(±5) = 0.0576.
    //   row  d   q      e   p      label  hard?
    //   r0   3   .953   3   .953   1      both right          → no
    //   r1  −1   .269   2   .881   1      small wrong         → yes
    //   r2   1   .731  −2   .119   0      small wrong         → yes
    //   r3  −5   .007  −3   .047   0      both right          → no
    //   r4   0   .500   3   .953   0      q = .5 is "safe": small right, large wrong → no
    //   r5  −3   .047   3   .953   1      small wrong         → yes
    // Hard = {r1, r2, r5}; unsafe = {r0, r1, r5}.
    private static readonly float[] D = [3, -1, 1, -5, 0, -3];
    private static readonly float[] E = [3, 2, -2, -3, 3, 3];
    private static readonly int[] Labels = [1, 1, 0, 0, 0, 1];
    private static readonly float[] RouterScores = [0.1f, 0.9f, 0.4f, 0.2f, 0.7f, 0.6f];

    private static FeatureSet Data() => FeatureSet.Create(0, [], new float[6], D, new float[6], E, Labels);

    private static RoutingEvaluationReport Report() => RoutingEvaluator.Evaluate(Data(), RouterScores, new RoutingEvaluationOptions
    {
        Temperature = 2f,
        ContentFreeUnsafeProbability = 1f / (1f + MathF.Exp(-1f)), // σ(1): CC subtracts 1 from d
        MeanUnsafeProbability = 1f / (1f + MathF.Exp(2f)),        // σ(−2): BC adds 2 to d
        SmallLatencyMs = 10,
        LargeLatencyMs = 50,
        SmallFlops = 2,
        LargeFlops = 16,
    });

    private static void AssertRow(RoutingMethodResult r, double f1, double p, double rec, double auprc, double rf1, double rp, double rr, double share)
    {
        Assert.Multiple(() =>
        {
            Assert.That(r.SafetyF1, Is.EqualTo(f1).Within(1e-9), $"{r.Name} safety F1");
            Assert.That(r.SafetyPrecision, Is.EqualTo(p).Within(1e-9), $"{r.Name} safety precision");
            Assert.That(r.SafetyRecall, Is.EqualTo(rec).Within(1e-9), $"{r.Name} safety recall");
            if (!double.IsNaN(auprc))
            {
                Assert.That(r.SafetyAuprc, Is.EqualTo(auprc).Within(1e-9), $"{r.Name} AUPRC");
            }

            Assert.That(r.RoutingF1, Is.EqualTo(rf1).Within(1e-9), $"{r.Name} routing F1");
            Assert.That(r.RoutingPrecision, Is.EqualTo(rp).Within(1e-9), $"{r.Name} routing precision");
            Assert.That(r.RoutingRecall, Is.EqualTo(rr).Within(1e-9), $"{r.Name} routing recall");
            Assert.That(r.LargeShare, Is.EqualTo(share).Within(1e-12), $"{r.Name} share");
        });
    }

    [Test]
    public void Evaluate_Small_HandComputed()
    {
        // Verdicts q > .5: r0 U (TP), r1 S (FN), r2 U (FP), r3 S, r4 S (q = .5 is not > .5), r5 S (FN).
        // TP 1, FP 1, FN 2 → P 1/2, R 1/3, F1 2/(2+1+2) = 0.4. Nothing routed → routing P = R = F1 = 0.
        // AUPRC over q, descending: r0 (+) R 1/3 P 1 → 1/3; r2 (−), r4 (−); r1 (+) R 2/3 P 2/4 → 1/6; r5 (+) R 1 P 3/5 → 1/5.
        // AP = 1/3 + 1/6 + 1/5 = 0.7.
        AssertRow(Report()[RoutingMethod.Small], 0.4, 0.5, 1.0 / 3, 0.7, 0, 0, 0, 0);
    }

    [Test]
    public void Evaluate_Large_HandComputed()
    {
        // Verdicts p > .5: r0 TP, r1 TP, r2 TN, r3 TN, r4 FP, r5 TP → P 3/4, R 1, F1 6/7.
        // Everything routed vs hard {1,2,5}: TP 3, FP 3 → P 1/2, R 1, F1 2/3. Share 1.
        // AUPRC over p: {r0, r4, r5} tied at σ(3): TP 2, FP 1 → R 2/3, P 2/3 → 4/9; r1 (+) R 1, P 3/4 → 1/4; rest negatives.
        // AP = 4/9 + 1/4 = 25/36.
        AssertRow(Report()[RoutingMethod.Large], 6.0 / 7, 0.75, 1, 25.0 / 36, 2.0 / 3, 0.5, 1, 1);
    }

    [Test]
    public void Evaluate_Entropy_HandComputed()
    {
        // H > 0.5 for r1 (.84), r2 (.84), r4 (1) → routed. Verdicts: r0 small U TP; r1 large U TP; r2 large S TN; r3 TN;
        // r4 large U FP; r5 small S FN → TP 2, FP 1, FN 1 → P = R = F1 = 2/3.
        // Routing {1,2,4} vs {1,2,5}: TP 2, FP 1, FN 1 → 2/3 each. Share 3/6.
        // AUPRC over deciding p: r0 (+) and r4 (−) tied at σ(3) → R 1/3, P 1/2 → 1/6; r1 (+) σ(2) → R 2/3, P 2/3 → 2/9;
        // r2 (−) σ(−2); r5 (+) σ(−3) → R 1, P 3/5 → 1/5; r3 (−). AP = 1/6 + 2/9 + 1/5 = 53/90.
        RoutingMethodResult r = Report()[RoutingMethod.Entropy];
        AssertRow(r, 2.0 / 3, 2.0 / 3, 2.0 / 3, 53.0 / 90, 2.0 / 3, 2.0 / 3, 2.0 / 3, 0.5);
        Assert.That(r.Threshold, Is.EqualTo(0.5f));
    }

    [Test]
    public void Evaluate_TemperatureScaling_HandComputed()
    {
        // τ = 2: d/τ = 1.5, −.5, .5, −2.5, 0, −1.5 → H .685, .956, .956, .388, 1, .685 → routed {0,1,2,4,5}.
        // Verdicts: r0 large TP, r1 large TP, r2 large TN, r3 small TN, r4 large FP, r5 large TP → P 3/4, R 1, F1 6/7.
        // Routing {0,1,2,4,5} vs {1,2,5}: TP 3, FP 2 → P 3/5, R 1, F1 6/8. Share 5/6.
        AssertRow(Report()[RoutingMethod.TemperatureScaling], 6.0 / 7, 0.75, 1, double.NaN, 0.75, 0.6, 1, 5.0 / 6);
    }

    [Test]
    public void Evaluate_ContextualCalibration_HandComputed()
    {
        // q(" ") = σ(1): d − 1 = 2, −2, 0, −6, −1, −4 → H .527, .527, 1, .02, .84, .13 → routed {0,1,2,4}.
        // Verdicts: r0 large TP, r1 large TP, r2 large TN, r3 TN, r4 large FP, r5 small FN → TP 2, FP 1, FN 1 → 2/3 each.
        // Routing {0,1,2,4} vs {1,2,5}: TP 2, FP 2, FN 1 → P 1/2, R 2/3, F1 4/7. Share 4/6.
        AssertRow(Report()[RoutingMethod.ContextualCalibration], 2.0 / 3, 2.0 / 3, 2.0 / 3, double.NaN, 4.0 / 7, 0.5, 2.0 / 3, 4.0 / 6);
    }

    [Test]
    public void Evaluate_BatchCalibration_HandComputed()
    {
        // m = σ(−2): d + 2 = 5, 1, 3, −3, 2, −1 → H .06, .84, .28, .28, .527, .84 → routed {1,4,5}.
        // Verdicts: r0 small TP, r1 large TP, r2 small U FP, r3 TN, r4 large U FP, r5 large TP → TP 3, FP 2 → P 3/5, R 1, F1 3/4.
        // Routing {1,4,5} vs {1,2,5}: TP 2, FP 1, FN 1 → 2/3 each. Share 1/2.
        AssertRow(Report()[RoutingMethod.BatchCalibration], 0.75, 0.6, 1, double.NaN, 2.0 / 3, 2.0 / 3, 2.0 / 3, 0.5);
    }

    [Test]
    public void Evaluate_SafeRoute_HandComputed()
    {
        // Scores .1 .9 .4 .2 .7 .6 > ε .5 → routed {1,4,5}: the same decisions as BC above.
        RoutingMethodResult r = Report()[RoutingMethod.SafeRoute];
        AssertRow(r, 0.75, 0.6, 1, double.NaN, 2.0 / 3, 2.0 / 3, 2.0 / 3, 0.5);
        Assert.That(r.Threshold, Is.EqualTo(0.5f));
    }

    [Test]
    public void Evaluate_Oracle_HandComputed()
    {
        // Routed = hard = {1,2,5}: r0 small TP, r1 large TP, r2 large TN, r3 TN, r4 small TN, r5 large TP → F1 1.
        AssertRow(Report()[RoutingMethod.Oracle], 1, 1, 1, double.NaN, 1, 1, 1, 0.5);
    }

    [Test]
    public void Evaluate_LatencyAndFlops_SmallPlusShareTimesLarge()
    {
        RoutingEvaluationReport report = Report();
        Assert.Multiple(() =>
        {
            // Small: 10 ms (1×); Large alone: 50 ms (5×); Entropy, share 1/2: 10 + 25 = 35 ms (3.5×).
            Assert.That(report[RoutingMethod.Small].RelativeLatency, Is.EqualTo(1.0));
            Assert.That(report[RoutingMethod.Large].LatencyMs, Is.EqualTo(50.0));
            Assert.That(report[RoutingMethod.Large].RelativeLatency, Is.EqualTo(5.0));
            Assert.That(report[RoutingMethod.Entropy].LatencyMs, Is.EqualTo(35.0));
            Assert.That(report[RoutingMethod.Entropy].RelativeLatency, Is.EqualTo(3.5));
            // FLOPs 2 and 16: Entropy 2 + 8 = 10 (5×); Large 16 (8×).
            Assert.That(report[RoutingMethod.Entropy].RelativeFlops, Is.EqualTo(5.0));
            Assert.That(report[RoutingMethod.Large].RelativeFlops, Is.EqualTo(8.0));
        });
    }

    [Test]
    public void Evaluate_Random_SeededShareAndEnds()
    {
        FeatureSet data = Data();
        var expected = new Random(42);
        int routed = Enumerable.Range(0, 6).Count(_ => expected.NextDouble() < 0.5);
        RoutingEvaluationReport report = RoutingEvaluator.Evaluate(data, [], new RoutingEvaluationOptions { RandomSeed = 42 });
        Assert.That(report[RoutingMethod.Random].LargeShare, Is.EqualTo(routed / 6.0));

        RoutingEvaluationReport never = RoutingEvaluator.Evaluate(data, [], new RoutingEvaluationOptions { RandomShare = 0 });
        Assert.That(never[RoutingMethod.Random].SafetyF1, Is.EqualTo(never[RoutingMethod.Small].SafetyF1));
        Assert.That(never.Methods.Select(m => m.Name), Is.EqualTo(new[] { "Small", "Large", "Random", "Entropy", "Oracle" }), "methods without parameters are left out");
    }

    [Test]
    public void Report_JsonAndMarkdown_HoldEveryMethod()
    {
        RoutingEvaluationReport report = Report();
        using JsonDocument json = JsonDocument.Parse(report.ToJson());
        JsonElement methods = json.RootElement.GetProperty("methods");
        string markdown = report.ToMarkdown();

        Assert.Multiple(() =>
        {
            Assert.That(json.RootElement.GetProperty("hardRows").GetInt32(), Is.EqualTo(3));
            Assert.That(methods.GetArrayLength(), Is.EqualTo(9));
            Assert.That(methods[0].GetProperty("threshold").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(methods[3].GetProperty("method").GetString(), Is.EqualTo("Entropy"));
            Assert.That(methods[3].GetProperty("relativeLatency").GetDouble(), Is.EqualTo(3.5));
            foreach (string name in new[] { "Small", "Large", "Random", "Entropy", "TS", "CC", "BC", "SafeRoute", "Oracle" })
            {
                Assert.That(markdown, Does.Contain($"| {name} |"));
            }

            Assert.That(markdown, Does.Contain("| Entropy | 0.5 | 0.6667 |"));
        });
    }

    [Test]
    public void FitBaselines_UsesCoreEstimators()
    {
        FeatureSet data = Data();
        var options = new RoutingEvaluationOptions();
        RoutingEvaluator.FitBaselines(data, options);
        Assert.That(options.Temperature, Is.EqualTo(SafeRoute.Routing.TemperatureScalingRouter.FitTemperature(data.SmallSafeLogits, data.SmallUnsafeLogits, data.Labels)));
        Assert.That(options.MeanUnsafeProbability, Is.EqualTo(SafeRoute.Routing.BatchCalibrationRouter.EstimateMean(data.SmallSafeLogits, data.SmallUnsafeLogits)));
    }

    [Test]
    public void Evaluate_ArgValidation()
    {
        Assert.Throws<ArgumentNullException>(() => RoutingEvaluator.Evaluate(null!, []));
        Assert.Throws<ArgumentException>(() => RoutingEvaluator.Evaluate(Data(), [0.5f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => RoutingEvaluator.Evaluate(Data(), [], new RoutingEvaluationOptions { RandomShare = 2 }));
    }
}
