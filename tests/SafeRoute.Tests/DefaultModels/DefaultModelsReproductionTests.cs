using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SafeRoute.Models;
using SafeRoute.Tests.TestModels;
using SafeRoute.Tests.Text;
using SafeRoute.Text;
using SafeRoute.Training;

namespace SafeRoute.Tests.DefaultModels;

/// <summary>
/// Re-derives the shipped default models' development-split results through the library, from the public training data
/// in ../shared/datasets/train (skipped with a message when it is absent): the token ids the guards were trained on, the
/// PyTorch probabilities recorded at training time, and the F1 / share / routing-F1 numbers in metrics.json.
/// The fixture (default-dev-fingerprint.tsv, written by training/train_v2.sh) holds only row ids, labels, hashes and
/// probabilities — no text.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class DefaultModelsReproductionTests
{
    private const string FixtureName = "default-dev-fingerprint.tsv";

    private static readonly Lazy<Fixture> Dev = new(LoadFixture);

    [Test]
    public void Fixture_DescribesTheShippedModelFiles()
    {
        Fixture fixture = Dev.Value;
        foreach ((string relative, string expected) in fixture.ModelHashes)
        {
            string path = Path.Combine(DefaultGuardModels.Directory, relative);
            Assert.That(Sha256File(path), Is.EqualTo(expected), $"{relative} differs from the file the fixture was written for: rerun training/train_v2.sh, which rewrites both");
        }

        Assert.That(fixture.ModelHashes, Has.Count.EqualTo(3));
        Assert.That(fixture.Rows, Has.Count.GreaterThan(1000));
    }

    [Test]
    public void Library_TokenizesEveryDevelopmentRowExactlyAsTraining()
    {
        Fixture fixture = Dev.Value;
        Dictionary<string, SafetyExample> data = LoadData();
        ClassifierEncoder small = ClassifierEncoder.Create(FirstWindowOnly(GuardManifest.Load(DefaultGuardModels.SmallModelPath)));
        ClassifierEncoder large = ClassifierEncoder.Create(FirstWindowOnly(GuardManifest.Load(DefaultGuardModels.LargeModelPath)));

        int smallMismatches = 0, largeMismatches = 0;
        string? firstMismatch = null;
        foreach (FixtureRow row in fixture.Rows)
        {
            SafetyExample example = data[row.Id];
            Assert.That(example.Label, Is.EqualTo(row.Label), $"label of {row.Id}");
            var request = new SafetyRequest(example.Prompt, example.Response);
            if (HashIds(small.Encode(request).TokenIds) != row.SmallIdsSha256)
            {
                smallMismatches++;
                firstMismatch ??= row.Id;
            }

            if (HashIds(large.Encode(request).TokenIds) != row.LargeIdsSha256)
            {
                largeMismatches++;
                firstMismatch ??= row.Id;
            }
        }

        Assert.That(smallMismatches + largeMismatches, Is.Zero,
            $"{smallMismatches} (small) and {largeMismatches} (large) of {fixture.Rows.Count} rows tokenize differently from training (first: {firstMismatch})");
    }

    [Test]
    public async Task Library_ReproducesPyTorchProbabilitiesOnEveryDevelopmentRow()
    {
        Fixture fixture = Dev.Value;
        SafetyRequest[] requests = Requests(fixture);
        using var temp = new TempDirectory("saferoute-default-first-window");
        double worstSmall = await MaxDifferenceAsync(FirstWindowCopy(DefaultGuardModels.SmallModelPath, temp.Sub("small")), GuardTier.Small, requests, fixture.Rows.Select(r => r.TorchSmallP).ToArray());
        double worstLarge = await MaxDifferenceAsync(FirstWindowCopy(DefaultGuardModels.LargeModelPath, temp.Sub("large")), GuardTier.Large, requests, fixture.Rows.Select(r => r.TorchLargeP).ToArray());
        TestContext.Out.WriteLine($"max |p_library - p_pytorch| over {requests.Length} dev rows: small {worstSmall:E2}, large {worstLarge:E2}");

        // PyTorch's numbers are those of the models with their weights rounded to float16, as the shipped graphs store
        // them (float32 compute): what the library runs. The deviation from the float32 models is in the model card.
        Assert.That(worstSmall, Is.LessThan(1e-4));
        Assert.That(worstLarge, Is.LessThan(1e-4));
    }

    [Test]
    public async Task Library_ReproducesTheModelCardMetrics_AndTheyMeetTheIssueTargets()
    {
        Fixture fixture = Dev.Value;
        SafetyRequest[] requests = Requests(fixture);
        bool[] label = [.. fixture.Rows.Select(r => r.Label == 1)];

        IReadOnlyList<SafetyVerdict> large;
        using (OnnxSafetyGuard largeGuard = OnnxSafetyGuard.Create(DefaultGuardModels.LargeModelPath, tier: GuardTier.Large))
        {
            large = await largeGuard.EvaluateBatchAsync(requests);
        }

        IReadOnlyList<SafetyVerdict> routed;
        using (RoutedSafetyGuard guard = RoutedSafetyGuard.Create(DefaultOptions()))
        {
            routed = await guard.EvaluateBatchAsync(requests);
        }

        bool[] smallPred = [.. routed.Select(v => (v.SmallVerdict ?? v).IsUnsafe)];
        bool[] largePred = [.. large.Select(v => v.IsUnsafe)];
        bool[] routedPred = [.. routed.Select(v => v.IsUnsafe)];
        bool[] wasRouted = [.. routed.Select(v => v.Routed)];
        bool[] hard = [.. label.Select((y, i) => largePred[i] == y && smallPred[i] != y)];
        Assert.That(routed.All(v => !v.IsDegraded), Is.True);

        double small = F1(smallPred, label);
        double largeF1 = F1(largePred, label);
        double routedF1 = F1(routedPred, label);
        double share = wasRouted.Count(x => x) / (double)label.Length;
        double routingF1 = F1(wasRouted, hard);
        TestContext.Out.WriteLine($"dev ({label.Length} rows): F1 small {small:0.0000} large {largeF1:0.0000} routed {routedF1:0.0000} at large share {share:P1}, routing F1 {routingF1:0.0000}");

        using JsonDocument metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(DefaultGuardModels.Directory, "metrics.json")));
        JsonElement m = metrics.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(m.GetProperty("rows").GetInt32(), Is.EqualTo(label.Length));
            Assert.That(small, Is.EqualTo(m.GetProperty("small").GetProperty("f1").GetDouble()).Within(1e-4), "small F1 in metrics.json / the model card");
            Assert.That(largeF1, Is.EqualTo(m.GetProperty("large").GetProperty("f1").GetDouble()).Within(1e-4), "large F1");
            Assert.That(routedF1, Is.EqualTo(m.GetProperty("routed").GetProperty("f1").GetDouble()).Within(1e-4), "routed F1");
            Assert.That(share, Is.EqualTo(m.GetProperty("routed").GetProperty("largeShare").GetDouble()).Within(1e-4), "large-guard share");
            Assert.That(routingF1, Is.EqualTo(m.GetProperty("routed").GetProperty("routing").GetProperty("f1").GetDouble()).Within(1e-4), "routing F1");
            Assert.That(hard.Count(x => x), Is.EqualTo(m.GetProperty("hardLabels").GetInt32()), "hard labels");

            // Issue 16 targets the shipped pair meets, on the recomputed numbers (the missed ones: DefaultModelsTests).
            Assert.That(small, Is.GreaterThanOrEqualTo(0.74), "small F1");
            Assert.That(largeF1, Is.GreaterThan(small), "the large guard is better than the small one");
            Assert.That(share, Is.LessThanOrEqualTo(0.30), "calibrated large-guard share");
            Assert.That((routedF1 - small) / (largeF1 - small), Is.GreaterThanOrEqualTo(0.70), "share of the small-to-large gap closed");
            Assert.That(routingF1, Is.GreaterThan(0.30), "routing F1 against the hard labels");
        });
    }

    /// <summary>The shipped guards scan long inputs in up to <c>classifier.maxWindows</c> windows (the worst decides);
    /// training, and so PyTorch's reference numbers, saw only the first window. One window reproduces training exactly.</summary>
    private static GuardManifest FirstWindowOnly(GuardManifest manifest)
    {
        Assert.That(manifest.ModelKind, Is.EqualTo(GuardModelKind.Classifier), "the v2 default guards are sequence classifiers");
        manifest.Classifier!.MaxWindows = 1;
        return manifest;
    }

    /// <summary>A copy of a shipped model folder whose manifest scans only the first window (real files, real session).</summary>
    private static string FirstWindowCopy(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }

        string manifestPath = Path.Combine(destination, "saferoute.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
        json["classifier"]!["maxWindows"] = 1;
        File.WriteAllText(manifestPath, json.ToJsonString());
        return destination;
    }

    private static SafeRouteOptions DefaultOptions()
    {
        var options = new SafeRouteOptions();
        options.SmallModel.Path = DefaultGuardModels.SmallModelPath;
        options.LargeModel.Path = DefaultGuardModels.LargeModelPath;
        options.Router.Path = DefaultGuardModels.RouterPath;
        return options;
    }

    private static async Task<double> MaxDifferenceAsync(string directory, GuardTier tier, SafetyRequest[] requests, double[] expected)
    {
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(directory, tier: tier);
        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync(requests);
        double worst = 0;
        for (int i = 0; i < requests.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(verdicts[i].UnsafeProbability - expected[i]));
        }

        return worst;
    }

    private static SafetyRequest[] Requests(Fixture fixture)
    {
        Dictionary<string, SafetyExample> data = LoadData();
        return [.. fixture.Rows.Select(r => new SafetyRequest(data[r.Id].Prompt, data[r.Id].Response))];
    }

    private static Dictionary<string, SafetyExample> LoadData()
    {
        string directory = SharedFiles.RequireTrainingData();
        var byId = new Dictionary<string, SafetyExample>(StringComparer.Ordinal);
        foreach (string file in Directory.GetFiles(directory, "*.jsonl"))
        {
            foreach (SafetyExample example in SafetyDataset.Read(file))
            {
                byId.TryAdd(example.Id, example);
            }
        }

        return byId;
    }

    private static double F1(bool[] predicted, bool[] actual)
    {
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < predicted.Length; i++)
        {
            tp += predicted[i] && actual[i] ? 1 : 0;
            fp += predicted[i] && !actual[i] ? 1 : 0;
            fn += !predicted[i] && actual[i] ? 1 : 0;
        }

        return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
    }

    private static string HashIds(int[] ids) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(string.Join(',', ids.Select(i => i.ToString(CultureInfo.InvariantCulture))))));

    private static string Sha256File(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static Fixture LoadFixture()
    {
        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "DefaultModels", FixtureName);
        var hashes = new List<(string, string)>();
        var rows = new List<FixtureRow>();
        foreach (string line in File.ReadLines(path))
        {
            if (line.StartsWith("# sha256 ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                hashes.Add((parts[2], parts[3]));
                continue;
            }

            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] f = line.Split('\t');
            rows.Add(new FixtureRow(f[0], int.Parse(f[1], CultureInfo.InvariantCulture), f[2], f[3],
                double.Parse(f[4], CultureInfo.InvariantCulture), double.Parse(f[5], CultureInfo.InvariantCulture)));
        }

        return new Fixture(hashes, rows);
    }

    private sealed record FixtureRow(string Id, int Label, string SmallIdsSha256, string LargeIdsSha256, double TorchSmallP, double TorchLargeP);

    private sealed record Fixture(IReadOnlyList<(string Relative, string Sha256)> ModelHashes, IReadOnlyList<FixtureRow> Rows);
}
