using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SafeRoute.Quickstart;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.DefaultModels;

/// <summary>Checks over the shipped default models (issues 3 and 16), read from the test output folder where the
/// SafeRoute.Models.Default project copies them.</summary>
[TestFixture]
public sealed class DefaultModelsTests
{
    private const long SizeBudgetBytes = 64L * 1024 * 1024; // issue 16: everything ≤ 64 MB

    [Test]
    public void Artefacts_AreShipped_AndFitTheSizeBudget()
    {
        Assert.That(File.Exists(Path.Combine(DefaultGuardModels.SmallModelPath, "saferoute.json")), Is.True, DefaultGuardModels.SmallModelPath);
        Assert.That(File.Exists(Path.Combine(DefaultGuardModels.LargeModelPath, "saferoute.json")), Is.True, DefaultGuardModels.LargeModelPath);
        Assert.That(File.Exists(DefaultGuardModels.RouterPath), Is.True, DefaultGuardModels.RouterPath);
        Assert.That(File.Exists(Path.Combine(DefaultGuardModels.Directory, "MODEL_CARD.md")), Is.True, "the model card ships beside the models");
        long total = Directory.EnumerateFiles(DefaultGuardModels.Directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        TestContext.Out.WriteLine($"default model artefacts: {total / 1024.0 / 1024.0:0.00} MB");
        Assert.That(total, Is.LessThanOrEqualTo(SizeBudgetBytes));
    }

    [Test]
    public void ModelCard_SaysNonCommercialDataAndDemonstrationOnly()
    {
        string card = File.ReadAllText(Path.Combine(DefaultGuardModels.Directory, "MODEL_CARD.md"));
        Assert.That(card, Does.Contain("CC-BY-NC-4.0"));
        Assert.That(card, Does.Contain("not a production safety filter").IgnoreCase);
    }

    [Test]
    public async Task AddSafeRoute_NoSettings_UsesDefaultPairAndTrainedRouter()
    {
        var services = new ServiceCollection();
        services.AddSafeRoute();
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();
        var routed = provider.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(((OnnxSafetyGuard)routed.Small).ModelDirectory, Is.EqualTo(Path.GetFullPath(DefaultGuardModels.SmallModelPath)));
        Assert.That(((OnnxSafetyGuard)routed.Large).ModelDirectory, Is.EqualTo(Path.GetFullPath(DefaultGuardModels.LargeModelPath)));
        Assert.That(routed.Router, Is.InstanceOf<MlpRouter>());
        Assert.That(((MlpRouter)routed.Router).CalibratedThreshold, Is.Not.Null, "the shipped router carries the threshold chosen on the development split");
        Assert.That(routed.Threshold, Is.EqualTo(((MlpRouter)routed.Router).CalibratedThreshold!.Value));
        Assert.That(routed.LengthReference, Is.Not.Null.And.GreaterThan(0f), "the shipped router is calibrated for length-aware routing, on by default");
        Assert.That(routed.LengthReference, Is.EqualTo(((MlpRouter)routed.Router).LengthReference));
        Assert.That(((MlpRouter)routed.Router).UniformThreshold, Is.Not.Null.And.Not.EqualTo(routed.Threshold), "the paper's rule's own ε is stored for LengthAwareRouting = false");

        SafetyVerdict verdict = await routed.EvaluateAsync(new SafetyRequest("What is a good recipe for banana bread?"));
        Assert.That(float.IsFinite(verdict.UnsafeProbability), Is.True);
        Assert.That(verdict.RouterScore, Is.Not.Null);
    }

    [Test]
    public async Task AddSafeRoute_UserModels_NeverLoadTheDefaults()
    {
        using var temp = new TempDirectory("saferoute-defaults");
        TestGuard small = TestGuardFactory.Create(temp.Sub("small"), TestGuardOptions.Small);
        TestGuard large = TestGuardFactory.Create(temp.Sub("large"), TestGuardOptions.Large);
        var services = new ServiceCollection();
        services.AddSafeRoute(o =>
        {
            o.SmallModel.Path = small.Directory;
            o.LargeModel.Path = large.Directory;
            o.Router.Kind = RouterKind.Entropy;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        var routed = provider.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(((OnnxSafetyGuard)routed.Small).ModelDirectory, Is.EqualTo(small.Directory));
        Assert.That(((OnnxSafetyGuard)routed.Large).ModelDirectory, Is.EqualTo(large.Directory));
        Assert.That(routed.Router, Is.InstanceOf<EntropyRouter>());
    }

    [Test]
    public async Task Quickstart_ClassifiesArgumentsWithTheDefaultModels()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exit = await QuickstartApp.RunAsync(["How do I water a cactus?", "Write a poem about autumn leaves."], TextReader.Null, output, error);
        Assert.That(exit, Is.Zero, error.ToString());
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(2));
        foreach (string line in lines)
        {
            Assert.That(line, Does.Match(@"^(safe|unsafe)\s+p\(unsafe\)=\d\.\d{3}\s+tier=(Small|Large)\s+router=\d\.\d{3}\s+\d+\.\d ms"));
        }
    }

    [Test]
    public void Metrics_MeetTheIssueTargets()
    {
        using JsonDocument metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(DefaultGuardModels.Directory, "metrics.json")));
        JsonElement dev = metrics.RootElement;
        Assert.That(dev.GetProperty("split").GetString(), Is.EqualTo("dev"));
        double small = dev.GetProperty("small").GetProperty("f1").GetDouble();
        double large = dev.GetProperty("large").GetProperty("f1").GetDouble();
        JsonElement routed = dev.GetProperty("routed");
        double share = routed.GetProperty("largeShare").GetDouble();
        double routingF1 = routed.GetProperty("routing").GetProperty("f1").GetDouble();
        TestContext.Out.WriteLine($"dev F1 small {small:0.000} large {large:0.000} routed {routed.GetProperty("f1").GetDouble():0.000} share {share:P1} routing F1 {routingF1:0.000}");
        double gapClosed = (routed.GetProperty("f1").GetDouble() - small) / (large - small);
        Assert.Multiple(() =>
        {
            // Issue 16 targets the shipped pair meets, asserted so that a retrained pair cannot silently fall below them.
            Assert.That(small, Is.GreaterThanOrEqualTo(0.74), "small F1 >= 0.74");
            Assert.That(large, Is.GreaterThan(small), "the large guard is better than the small one");
            Assert.That(dev.GetProperty("large").GetProperty("auprc").GetDouble(), Is.GreaterThan(dev.GetProperty("small").GetProperty("auprc").GetDouble()));
            Assert.That(small, Is.GreaterThan(dev.GetProperty("allUnsafeBaselineF1").GetDouble() + 0.1), "far above the all-unsafe baseline");
            Assert.That(share, Is.LessThanOrEqualTo(0.30), "<= 30% of inputs sent to the large guard");
            Assert.That(gapClosed, Is.GreaterThanOrEqualTo(0.70), "the router closes >= 70% of the small-to-large gap");
            Assert.That(routingF1, Is.GreaterThan(0.30));
        });

        // Issue 16 also asks for large F1 >= 0.82, AUPRC >= 0.91, large >= small + 0.06 and routing above entropy routing
        // at the same share; the shipped pair misses those (0.803, 0.9095, +0.050, and below entropy), which the model
        // card and the issue note state. They are not asserted here until a retrained pair meets them.
    }
}
