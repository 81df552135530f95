using SafeRoute.Training;

namespace SafeRoute.Tests.Training;

[TestFixture]
public sealed class ThresholdCalibratorTests
{
    [TestCase(0.01)]
    [TestCase(0.05)]
    [TestCase(0.10)]
    [TestCase(0.25)]
    [TestCase(0.50)]
    [TestCase(0.90)]
    public void ForTargetShare_1000Scores_WithinOnePoint(double target)
    {
        // 1,000 scores rounded to 3 decimals, so some are tied.
        var random = new Random(7);
        float[] scores = [.. Enumerable.Range(0, 1000).Select(_ => (float)Math.Round(random.NextDouble(), 3))];

        ThresholdCalibration c = ThresholdCalibrator.ForTargetShare(scores, target);

        double actual = scores.Count(s => s > c.Threshold) / 1000.0;
        Assert.That(actual, Is.EqualTo(c.LargeShare), "the reported share is the share above ε");
        Assert.That(Math.Abs(actual - target), Is.LessThanOrEqualTo(0.01));
    }

    [Test]
    public void ForTargetShare_Ties_RoutesTiedScoresTogetherAndPicksNearestShare()
    {
        // Shares reachable: 0 (ε = 0.9), 0.75 (ε = 0.1), 1 (ε just below 0.1). Target 0.5: |0 − .5| = .5, |.75 − .5| = .25 → ε = 0.1.
        ThresholdCalibration c = ThresholdCalibrator.ForTargetShare([0.9f, 0.9f, 0.9f, 0.1f], 0.5);
        Assert.That(c.Threshold, Is.EqualTo(0.1f));
        Assert.That(c.LargeShare, Is.EqualTo(0.75));

        // Target 0.375 is equally far from 0 and 0.75: the cheaper threshold wins.
        Assert.That(ThresholdCalibrator.ForTargetShare([0.9f, 0.9f, 0.9f, 0.1f], 0.375).LargeShare, Is.Zero);

        // Everything: ε just below the lowest score.
        ThresholdCalibration all = ThresholdCalibrator.ForTargetShare([0.9f, 0.1f], 1.0);
        Assert.That(all.LargeShare, Is.EqualTo(1.0));
        Assert.That(all.Threshold, Is.LessThan(0.1f));
    }

    [Test]
    public void ForTargetShare_NaNScoresAlwaysRouted()
    {
        ThresholdCalibration c = ThresholdCalibrator.ForTargetShare([float.NaN, 0.2f, 0.4f, 0.6f], 0.0);
        Assert.That(c.LargeShare, Is.EqualTo(0.25));
        Assert.That(c.Threshold, Is.EqualTo(0.6f));
    }

    // Rows (score, small p, large p, label):
    //   r0 (0.9, 0.2, 0.8, 1)  small wrong, large right
    //   r1 (0.7, 0.7, 0.3, 0)  small wrong, large right
    //   r2 (0.4, 0.8, 0.9, 1)  both right
    //   r3 (0.1, 0.1, 0.9, 0)  large wrong
    // Route nothing (ε 0.9):  TP r2, FP r1, FN r0        → F1 = 2/(2+1+1) = 0.5
    // Route r0 (ε 0.7):        TP r0 r2, FP r1            → F1 = 4/5 = 0.8, share 0.25
    // Route r0 r1 (ε 0.4):     TP r0 r2                    → F1 = 1.0, share 0.5
    // Route r0–r2 (ε 0.1):     TP r0 r2                    → F1 = 1.0, share 0.75 (tie: the cheaper one wins)
    // Route all:               TP r0 r2, FP r3             → F1 = 0.8
    private static readonly float[] Scores = [0.9f, 0.7f, 0.4f, 0.1f];
    private static readonly float[] SmallP = [0.2f, 0.7f, 0.8f, 0.1f];
    private static readonly float[] LargeP = [0.8f, 0.3f, 0.9f, 0.9f];
    private static readonly int[] Labels = [1, 0, 1, 0];

    [Test]
    public void ForBestF1_HandComputedExample()
    {
        ThresholdCalibration c = ThresholdCalibrator.ForBestF1(Scores, SmallP, LargeP, Labels);
        Assert.That(c.Threshold, Is.EqualTo(0.4f));
        Assert.That(c.LargeShare, Is.EqualTo(0.5));
        Assert.That(c.SafetyF1, Is.EqualTo(1.0));
    }

    [Test]
    public void ForBestF1_UnderMaxShare_HandComputedExample()
    {
        ThresholdCalibration c = ThresholdCalibrator.ForBestF1(Scores, SmallP, LargeP, Labels, maxShare: 0.25);
        Assert.That(c.Threshold, Is.EqualTo(0.7f));
        Assert.That(c.LargeShare, Is.EqualTo(0.25));
        Assert.That(c.SafetyF1, Is.EqualTo(0.8).Within(1e-12));
    }

    [Test]
    public void Calibrate_ArgValidation()
    {
        Assert.Throws<ArgumentException>(() => ThresholdCalibrator.ForTargetShare([], 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ThresholdCalibrator.ForTargetShare([0.1f], 1.5));
        Assert.Throws<ArgumentException>(() => ThresholdCalibrator.ForBestF1([0.1f], [0.1f, 0.2f], [0.1f], [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ThresholdCalibrator.ForBestF1(Scores, SmallP, LargeP, Labels, maxShare: -0.1));
    }
}
