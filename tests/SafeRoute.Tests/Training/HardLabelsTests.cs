using SafeRoute.Training;

namespace SafeRoute.Tests.Training;

[TestFixture]
public sealed class HardLabelsTests
{
    // t = 1 iff [large p > 0.5] == label and [small p > 0.5] != label.
    [TestCase(0.2, 0.9, 1, true, TestName = "IsHard_SmallMissesUnsafe_LargeCatches_Hard")]
    [TestCase(0.7, 0.1, 0, true, TestName = "IsHard_SmallFlagsSafe_LargeClears_Hard")]
    [TestCase(0.9, 0.9, 1, false, TestName = "IsHard_BothRight_NotHard")]
    [TestCase(0.2, 0.2, 1, false, TestName = "IsHard_BothWrong_NotHard")]
    [TestCase(0.1, 0.9, 0, false, TestName = "IsHard_LargeWrong_NotHard")]
    [TestCase(0.5, 0.9, 1, true, TestName = "IsHard_SmallExactlyHalf_IsSafeVerdict_Hard")]
    [TestCase(0.2, 0.5, 1, false, TestName = "IsHard_LargeExactlyHalf_IsSafeVerdict_NotHard")]
    public void IsHard_Cases(double small, double large, int label, bool expected) =>
        Assert.That(HardLabels.IsHard(small, large, label), Is.EqualTo(expected));

    [Test]
    public void Compute_ArgValidation()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => HardLabels.IsHard(0.1, 0.1, 2));
        Assert.Throws<ArgumentException>(() => HardLabels.Compute([0.1f], [0.1f, 0.2f], [1]));
    }
}
