using SafeRoute.Tests.TestModels;
using SafeRoute.Training;

namespace SafeRoute.Tests.Training;

[TestFixture]
public sealed class GuardCostEstimateTests
{
    [Test]
    public void FlopsPerToken_TwiceTheFloat32ParameterCountOfTheOnnxFiles_LargerGuardCostsMore()
    {
        string directory = Path.Combine(Path.GetTempPath(), "saferoute-cost-" + Guid.NewGuid().ToString("N"));
        try
        {
            TestGuard small = TestGuardFactory.Create(Path.Combine(directory, "small"), TestGuardOptions.Small);
            TestGuard large = TestGuardFactory.Create(Path.Combine(directory, "large"), TestGuardOptions.Large);
            double smallFlops = GuardCostEstimate.FlopsPerToken(small.Directory);

            Assert.That(smallFlops, Is.EqualTo(2.0 * new FileInfo(small.OnnxPath).Length / 4.0));
            Assert.That(GuardCostEstimate.FlopsPerToken(large.Directory), Is.GreaterThan(smallFlops));

            // External weights beside the graph count too.
            File.WriteAllBytes(small.OnnxPath + ".data", new byte[4000]);
            Assert.That(GuardCostEstimate.FlopsPerToken(small.Directory), Is.EqualTo(smallFlops + 2000));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void FlopsPerToken_ArgValidation()
    {
        Assert.Throws<ArgumentNullException>(() => GuardCostEstimate.FlopsPerToken(null!));
        Assert.Throws<ArgumentException>(() => GuardCostEstimate.FlopsPerToken(" "));
        Assert.Throws<SafeRouteException>(() => GuardCostEstimate.FlopsPerToken(Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"))));
    }
}
