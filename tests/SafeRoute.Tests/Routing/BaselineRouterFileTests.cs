using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Routing;

/// <summary>Baseline router files: written by <c>saferoute calibrate --router entropy|ts|cc|bc</c>, loaded by the CLI and by AddSafeRoute.</summary>
[TestFixture]
public sealed class BaselineRouterFileTests
{
    private TempDirectory _temp = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp() => _temp = new TempDirectory("saferoute-baseline-file");

    [OneTimeTearDown]
    public void OneTimeTearDown() => _temp.Dispose();

    private static IEnumerable<TestCaseData> Baselines()
    {
        yield return new TestCaseData(new EntropyRouter(), "entropy").SetName("SaveLoad_Entropy_ScoresAlikeWithStoredThreshold");
        yield return new TestCaseData(new TemperatureScalingRouter(2.31f), "temperature-scaling").SetName("SaveLoad_TemperatureScaling_ScoresAlikeWithStoredThreshold");
        yield return new TestCaseData(new ContextualCalibrationRouter(0.02f), "contextual-calibration").SetName("SaveLoad_ContextualCalibration_ScoresAlikeWithStoredThreshold");
        yield return new TestCaseData(new BatchCalibrationRouter(0.38f), "batch-calibration").SetName("SaveLoad_BatchCalibration_ScoresAlikeWithStoredThreshold");
    }

    [TestCaseSource(nameof(Baselines))]
    public void SaveLoad(ISafetyRouter router, string kind)
    {
        string path = Path.Combine(_temp.Path, kind + ".json");
        BaselineRouterFile.Save(router, path, 0.3125f);

        ISafetyRouter loaded = BaselineRouterFile.Load(path);
        Assert.Multiple(() =>
        {
            Assert.That(loaded.Name, Is.EqualTo(kind));
            Assert.That(loaded.DefaultThreshold, Is.EqualTo(0.3125f));
            Assert.That(loaded.FeatureSize, Is.Null);
            foreach ((float s, float u) in new[] { (0f, 0f), (1.5f, -0.5f), (-3f, 2f), (4f, 4.5f) })
            {
                Assert.That(loaded.Score(default, s, u), Is.EqualTo(router.Score(default, s, u)));
            }
        });
    }

    [Test]
    public void Load_NotABaselineFile_ThrowsNamingTheFile()
    {
        string path = Path.Combine(_temp.Path, "other.json");
        File.WriteAllText(path, "{\"format\": \"something-else\"}");
        var e = Assert.Throws<SafeRouteException>(() => BaselineRouterFile.Load(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("not a baseline router file"));

        File.WriteAllText(path, "{\"format\": \"saferoute-baseline-router\", \"formatVersion\": 1, \"kind\": \"batch-calibration\", \"threshold\": 0.3, \"meanUnsafeProbability\": 1.5}");
        Assert.Throws<SafeRouteException>(() => BaselineRouterFile.Load(path), "m outside (0, 1)");
    }

    [Test]
    public void Save_MlpRouter_Throws()
    {
        var router = new TemperatureScalingRouter(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => BaselineRouterFile.Save(router, Path.Combine(_temp.Path, "x.json"), float.NaN));
        Assert.Throws<ArgumentException>(() => BaselineRouterFile.Save(new ScaledRouter(), Path.Combine(_temp.Path, "x.json"), 0.5f));
    }

    [Test]
    public void AddSafeRoute_RouterPathNamesABaselineFile_UsesItsKindAndThreshold()
    {
        TestGuard small = TestGuardFactory.Create(_temp.Sub("small"), TestGuardOptions.Small);
        TestGuard large = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
        string path = Path.Combine(_temp.Path, "bc-router.json");
        BaselineRouterFile.Save(new BatchCalibrationRouter(0.4f), path, 0.21f);

        var services = new ServiceCollection();
        services.AddSafeRoute(o => { o.SmallModel.Path = small.Directory; o.LargeModel.Path = large.Directory; o.Router.Path = path; });
        using (ServiceProvider provider = services.BuildServiceProvider())
        {
            provider.GetRequiredService<IStartupValidator>().Validate();
            ISafetyRouter router = provider.GetRequiredService<ISafetyRouter>();
            Assert.That(router.Name, Is.EqualTo("batch-calibration"));
            Assert.That(router.DefaultThreshold, Is.EqualTo(0.21f));
        }

        var mismatched = new ServiceCollection();
        mismatched.AddSafeRoute(o => { o.SmallModel.Path = small.Directory; o.LargeModel.Path = large.Directory; o.Router.Kind = RouterKind.Entropy; o.Router.Path = path; });
        using ServiceProvider other = mismatched.BuildServiceProvider();
        var e = Assert.Throws<SafeRouteException>(() => other.GetRequiredService<ISafetyRouter>());
        Assert.That(e!.Message, Does.Contain("BatchCalibration"));
    }

    [Test]
    public void AddSafeRoute_BaselineKindWithMissingRouterFile_FailsValidationNamingThePath()
    {
        TestGuard small = TestGuardFactory.Create(_temp.Sub("small-v"), TestGuardOptions.Small);
        TestGuard large = TestGuardFactory.Create(_temp.Sub("large-v"), TestGuardOptions.Large);
        string missing = Path.Combine(_temp.Path, "no-such-router.json");
        var services = new ServiceCollection();
        services.AddSafeRoute(o => { o.SmallModel.Path = small.Directory; o.LargeModel.Path = large.Directory; o.Router.Kind = RouterKind.Entropy; o.Router.Path = missing; });
        using ServiceProvider provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.That(e!.Message, Does.Contain("Router:Path").And.Contain(missing));
    }

    private sealed class ScaledRouter : ISafetyRouter
    {
        public string Name => "scaled";

        public int? FeatureSize => null;

        public float DefaultThreshold => 0.5f;

        public float Score(ReadOnlySpan<float> features, float safeLogit, float unsafeLogit) => unsafeLogit;
    }
}
