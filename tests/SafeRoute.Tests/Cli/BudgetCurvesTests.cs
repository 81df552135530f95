using SafeRoute.Cli;
using SafeRoute.Training;

namespace SafeRoute.Tests.Cli;

/// <summary>The budget comparison of <c>saferoute eval</c>: ε per share (ties, 0 and 100%), areas, the paired bootstrap, conflicting labels.</summary>
[TestFixture]
public sealed class BudgetCurvesTests
{
    // 8 rows. Small guard p(unsafe) from the unsafe logit (safe logit 0), large guard likewise; labels.
    // Rows 0–3: small wrong, large right (hard); rows 4–7: both right.
    private static readonly float[] SmallUnsafe = [-2, 2, -2, 2, 3, -3, 3, -3];
    private static readonly float[] LargeUnsafe = [3, -3, 3, -3, 3, -3, 3, -3];
    private static readonly int[] Labels = [1, 0, 1, 0, 1, 0, 1, 0];

    private static FeatureSet Data() => FeatureSet.Create(0, [], new float[8], SmallUnsafe, new float[8], LargeUnsafe, Labels);

    private static ScoredMethod Method(string name, float[] scores, MethodRole role, float[]? calibration = null) => new(name, scores, 0.5f, role, calibration);

    [Test]
    public void Evaluate_TiedScores_RouteTogether_NearestShare_0And100PercentExact()
    {
        // Three rows tie at 0.9: shares reachable 0, 3/8, 4/8, … A target of 0.25 is nearer 3/8 (0.125 away) than 0 (0.25 away).
        float[] tied = [0.9f, 0.9f, 0.9f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f];
        BudgetCurves curves = BudgetCurves.Evaluate(Data(), [Method("Tied", tied, MethodRole.Extra)], [0.25, 0, 1, 0.1875], new GuardCosts(null, null, null, null), 0, 1);

        Assert.That(curves.Shares, Is.EqualTo(new[] { 0, 0.1875, 0.25, 1 }), "sorted, distinct");
        BudgetPoint[] points = curves.Points[0];
        Assert.Multiple(() =>
        {
            Assert.That(points[0].Share, Is.Zero, "share 0 routes nothing");
            Assert.That(points[0].Threshold, Is.EqualTo(0.9f), "ε at the highest score: nothing is above it");
            Assert.That(points[1].Share, Is.Zero, "0.1875 is equally far from 0 and 3/8: the smaller share wins");
            Assert.That(points[2].Share, Is.EqualTo(3 / 8.0), "ties are never split: the nearest reachable share");
            Assert.That(points[2].Threshold, Is.EqualTo(0.5f));
            Assert.That(points[3].Share, Is.EqualTo(1.0), "share 1 routes every row");
            Assert.That(points[3].Threshold, Is.LessThan(0.1f));
            Assert.That(points[3].SafetyF1, Is.EqualTo(1.0), "the large guard is right on every row");
            Assert.That(points[0].SafetyF1, Is.EqualTo(0.5), "small alone: TP 2, FP 2, FN 2");
        });
    }

    [Test]
    public void Evaluate_CalibrationScores_ChooseEpsilonThere_AndApplyItToTheEvaluatedRows()
    {
        float[] scores = [0.8f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f];
        float[] calibration = [0.95f, 0.15f, 0.12f, 0.11f]; // ε for 25% there is 0.15, which routes 0.8 … 0.2 here
        BudgetCurves curves = BudgetCurves.Evaluate(Data(), [Method("R", scores, MethodRole.Extra, calibration)], [0.25], new GuardCosts(2, 20, null, null), 0, 1);

        BudgetPoint p = curves.Points[0][0];
        Assert.Multiple(() =>
        {
            Assert.That(curves.CalibratedElsewhere, Is.True);
            Assert.That(p.Threshold, Is.EqualTo(0.15f));
            Assert.That(p.Share, Is.EqualTo(7 / 8.0), "the achieved share on the evaluated rows, not the target");
            Assert.That(p.RelativeLatency, Is.EqualTo((2 + (7 / 8.0 * 20)) / 2).Within(1e-12));
            Assert.That(curves.ToMarkdown(), Does.Contain("on the --calibrate-on rows"));
        });
    }

    [Test]
    public void Area_IsTheTrapezoidMeanOverTheGrid()
    {
        // A perfect router: the hard rows 0–3 score highest. Routing F1 at shares 0, 0.25, 0.5: 0, 2·2/(2·2+0+2) = 2/3, 1.
        float[] perfect = [0.9f, 0.8f, 0.7f, 0.6f, 0.4f, 0.3f, 0.2f, 0.1f];
        BudgetCurves curves = BudgetCurves.Evaluate(Data(), [Method("P", perfect, MethodRole.Trained)], [0, 0.25, 0.5], new GuardCosts(null, null, null, null), 0, 1);

        double expected = ((0.25 * (0 + (2 / 3.0)) / 2) + (0.25 * ((2 / 3.0) + 1) / 2)) / 0.5;
        Assert.That(curves.Area(0, safety: false), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void Bootstrap_SameSeedSameIntervals_OtherSeedOtherIntervals()
    {
        var random = new Random(3);
        int n = 400;
        float[] small = new float[n], large = new float[n], router = new float[n], entropy = new float[n];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = random.Next(2);
            small[i] = (float)((random.NextDouble() * 6) - 3);
            large[i] = labels[i] == 1 ? 2 : -2;
            router[i] = (float)random.NextDouble();
            entropy[i] = (float)random.NextDouble();
        }

        FeatureSet data = FeatureSet.Create(0, [], new float[n], small, new float[n], large, labels);
        ScoredMethod[] methods = [Method("SafeRoute", router, MethodRole.Trained), Method("Entropy", entropy, MethodRole.Baseline)];
        var costs = new GuardCosts(null, null, null, null);
        BudgetCurves a = BudgetCurves.Evaluate(data, methods, [0.1, 0.3], costs, 500, 42);
        BudgetCurves b = BudgetCurves.Evaluate(data, methods, [0.1, 0.3], costs, 500, 42);
        BudgetCurves c = BudgetCurves.Evaluate(data, methods, [0.1, 0.3], costs, 500, 43);

        Assert.That(a.Bootstrap, Has.Count.EqualTo(4), "two shares × safety and routing F1");
        Assert.That(b.Bootstrap, Is.EqualTo(a.Bootstrap), "same seed, same intervals");
        Assert.That(c.Bootstrap.Select(d => (d.Low, d.High)), Is.Not.EqualTo(a.Bootstrap.Select(d => (d.Low, d.High))), "another seed, other intervals");
        Assert.That(c.Bootstrap.Select(d => d.Delta), Is.EqualTo(a.Bootstrap.Select(d => d.Delta)), "the point estimate does not depend on the seed");
        foreach (BootstrapDelta d in a.Bootstrap)
        {
            Assert.That(d.Low, Is.LessThanOrEqualTo(d.High));
            Assert.That(d.Baseline, Is.EqualTo("Entropy"));
        }
    }

    [Test]
    public void Bootstrap_IdenticalMethods_IntervalIsZero_WithinNoise()
    {
        float[] scores = [0.9f, 0.8f, 0.7f, 0.6f, 0.4f, 0.3f, 0.2f, 0.1f];
        BudgetCurves curves = BudgetCurves.Evaluate(Data(), [Method("SafeRoute", scores, MethodRole.Trained), Method("Entropy", [.. scores], MethodRole.Baseline)], [0.25], new GuardCosts(null, null, null, null), 200, 5);

        Assert.That(curves.Bootstrap.Select(d => (d.Delta, d.Low, d.High)), Is.All.EqualTo((0.0, 0.0, 0.0)));
        Assert.That(curves.Bootstrap.All(d => d.WithinNoise), Is.True);
        Assert.That(curves.ToMarkdown(), Does.Contain("within noise (interval includes 0)"));
    }

    [Test]
    public void Quantile_Type7()
    {
        Assert.That(BudgetCurves.Quantile([1, 2, 3, 4, 5], 0.025), Is.EqualTo(1.1).Within(1e-12));
        Assert.That(BudgetCurves.Quantile([1, 2, 3, 4, 5], 0.975), Is.EqualTo(4.9).Within(1e-12));
    }

    [Test]
    public void ConflictingLabels_GroupsIdenticalTextWithBothLabels_ByIdOnly()
    {
        SafetyExample[] rows =
        [
            new("a", "same text", null, 0),
            new("b", "other", null, 1),
            new("c", "same text", null, 1),
            new("d", "other", null, 1),
            new("e", "same text", "a reply", 1),
        ];

        List<string[]> conflicts = DatasetChecks.ConflictingLabels(rows);
        string described = DatasetChecks.Describe(rows, "rows");

        Assert.That(conflicts, Has.Count.EqualTo(1));
        Assert.That(conflicts[0], Is.EqualTo(new[] { "a", "c" }), "same prompt and response, both labels; 'b'/'d' agree; 'e' has a reply");
        Assert.That(described, Does.Contain("1 group(s) of identical text (2 rows)").And.Contain("a, c"));
        Assert.That(described, Does.Not.Contain("same text"), "never the text");
        Assert.That(DatasetChecks.Describe(rows[1..2], "rows"), Is.Empty);
    }

    [Test]
    public void LogitGapAtEntropy_HalfABit_Is2Point09()
    {
        // H(σ(d)) = 0.5 bit at σ(d) ≈ 0.110028, d = ln(0.110028 / 0.889972) ≈ −2.0906.
        Assert.That(EvalCommand.LogitGapAtEntropy(0.5), Is.EqualTo(2.0906).Within(1e-3));
    }
}
