using System.Globalization;
using SafeRoute.Tests.TestModels;
using SafeRoute.Training;

namespace SafeRoute.Tests.Training;

[TestFixture]
public sealed class FeatureCacheTests
{
    private const int BatchSize = 8;
    private string _directory = "";
    private OnnxSafetyGuard _small = null!;
    private OnnxSafetyGuard _large = null!;
    private List<SafetyExample> _rows = null!;
    private List<TestGuardExample> _corpus = null!;

    [OneTimeSetUp]
    public void CreateGuards()
    {
        _directory = Path.Combine(Path.GetTempPath(), "saferoute-cache-" + Guid.NewGuid().ToString("N"));
        TestGuard small = TestGuardFactory.Create(Path.Combine(_directory, "small"), TestGuardOptions.Small);
        TestGuard large = TestGuardFactory.Create(Path.Combine(_directory, "large"), TestGuardOptions.Large);
        _small = OnnxSafetyGuard.Create(small.Directory);
        _large = OnnxSafetyGuard.Create(large.Directory, tier: GuardTier.Large);
        _corpus = [.. TestGuardCorpus.Examples()];
        _rows = [.. _corpus.Select((e, i) => new SafetyExample(string.Create(CultureInfo.InvariantCulture, $"corpus-{i}"), e.Prompt, null, e.IsUnsafe ? 1 : 0))];
    }

    [OneTimeTearDown]
    public void Dispose()
    {
        _small.Dispose();
        _large.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string NewPath() => Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".cache");

    private string BuildFull()
    {
        string path = NewPath();
        using FeatureCache cache = FeatureCache.Open(path, _small, _large);
        cache.Add(_rows, BatchSize);
        return path;
    }

    [Test]
    public void Open_AnyLargeGuard_StoresItsVerdictProbability_AndChecksTheGivenIdentity()
    {
        // A guard that is not an OnnxSafetyGuard: a routed guard that sends every input to the large tier (ε = 0).
        using var routed = new SafeRoute.RoutedSafetyGuard(_small, _large, new SafeRoute.Routing.EntropyRouter(), new SafeRoute.RoutedSafetyGuardOptions { Threshold = 0f });
        GuardModelIdentity identity = GuardModelIdentity.FromDescription("served", "remote completions\nuri=http://guard:8000/v1/completions\nmodel=served");
        string anyPath = NewPath();
        using (FeatureCache cache = FeatureCache.Open(anyPath, _small, routed, identity))
        {
            Assert.That(cache.Add(_rows, BatchSize), Is.EqualTo(_rows.Count));
        }

        using FeatureCache any = FeatureCache.OpenRead(anyPath);
        using FeatureCache onnx = FeatureCache.OpenRead(BuildFull());
        FeatureSet a = any.Load(_rows);
        FeatureSet b = onnx.Load(_rows);
        Assert.Multiple(() =>
        {
            Assert.That(any.LargeModel, Is.EqualTo(identity));
            Assert.That(any.LargeModel, Is.Not.EqualTo(GuardModelIdentity.FromDescription("served", "remote completions\nuri=http://other:8000/v1/completions\nmodel=served")));
            for (int i = 0; i < _rows.Count; i++)
            {
                Assert.That(a.LargeUnsafeProbabilities[i], Is.EqualTo(b.LargeUnsafeProbabilities[i]).Within(1e-6), $"row {i}");
                Assert.That(a.HardLabels[i], Is.EqualTo(b.HardLabels[i]), $"row {i}");
            }
        });
        Assert.That(() => FeatureCache.Open(anyPath, _small, _large), Throws.InstanceOf<SafeRouteException>().With.Message.Contains("other models"));
    }

    [Test]
    public void Add_LargeGuardAnswersWithAnotherTiersVerdicts_Throws_AndWritesNothingOfThatBatch()
    {
        // ε = 1 routes nothing: the "large" guard answers with the small tier's verdicts, which a cache must not store as
        // large-guard verdicts.
        using var routed = new SafeRoute.RoutedSafetyGuard(_small, _large, new SafeRoute.Routing.EntropyRouter(), new SafeRoute.RoutedSafetyGuardOptions { Threshold = 1f });
        string path = NewPath();
        using FeatureCache cache = FeatureCache.Open(path, _small, routed, GuardModelIdentity.FromDescription("routed", "never routes"));

        Assert.That(() => cache.Add(_rows, BatchSize), Throws.InstanceOf<SafeRouteException>().With.Message.Contains("not a large-guard verdict"));
        Assert.That(cache.Count, Is.Zero);
    }

    [TestCase("", "d")]
    [TestCase("n", " ")]
    public void FromDescription_BlankNameOrDescription_Throws(string name, string description) =>
        Assert.That(() => GuardModelIdentity.FromDescription(name, description), Throws.ArgumentException);

    [Test]
    public void Add_ComputesEachRowOnce_AndLoadGivesKnownHardLabels()
    {
        string path = NewPath();
        long smallRuns = _small.RunCount;
        long largeRuns = _large.RunCount;
        int batches = (_rows.Count + BatchSize - 1) / BatchSize;
        using (FeatureCache cache = FeatureCache.Open(path, _small, _large))
        {
            Assert.That(cache.Add(_rows, BatchSize), Is.EqualTo(_rows.Count));
            Assert.That(_small.RunCount - smallRuns, Is.EqualTo(batches));
            Assert.That(_large.RunCount - largeRuns, Is.EqualTo(batches));
            Assert.That(cache.Add(_rows, BatchSize), Is.Zero, "a second pass computes nothing");
        }

        long before = _small.RunCount + _large.RunCount;
        using (FeatureCache reopened = FeatureCache.Open(path, _small, _large))
        {
            Assert.That(reopened.Count, Is.EqualTo(_rows.Count));
            Assert.That(reopened.Add(_rows, BatchSize), Is.Zero, "reopening skips cached rows");
        }

        Assert.That(_small.RunCount + _large.RunCount, Is.EqualTo(before), "no model ran on reopen");

        using FeatureCache reader = FeatureCache.OpenRead(path);
        FeatureSet data = reader.Load(_rows);
        Assert.Multiple(() =>
        {
            Assert.That(data.HiddenSize, Is.EqualTo(16));
            Assert.That(reader.SmallModel.Name, Is.EqualTo("small"));
            Assert.That(data.Features.Length, Is.EqualTo(_rows.Count * 16));
            // TestGuardCorpus: the large guard is right everywhere and the small guard is wrong exactly on unsafe borderline words.
            for (int i = 0; i < _corpus.Count; i++)
            {
                Assert.That(data.HardLabels[i], Is.EqualTo(_corpus[i].IsBorderline && _corpus[i].IsUnsafe), $"row {i}");
            }

            Assert.That(data.Ids, Is.EqualTo(_rows.Select(r => r.Id)));
        });

        // The cached features and logits are exactly what the guard computes.
        SafeRoute.Onnx.GuardOutput direct = _small.ForwardBatch([_rows[5].ToRequest()], wantFeatures: true, CancellationToken.None)[0];
        Assert.That(data.GetFeatures(5).ToArray(), Is.EqualTo(direct.Features));
        Assert.That(data.SmallUnsafeLogits[5], Is.EqualTo(direct.UnsafeLogit));
    }

    [Test]
    public void Add_CancelledMidway_ResumeWritesTheSameBytesAsAnUninterruptedRun()
    {
        string reference = BuildFull();
        string path = NewPath();
        using (var cts = new CancellationTokenSource())
        using (FeatureCache cache = FeatureCache.Open(path, _small, _large))
        {
            var cancelAfterTwoBatches = new InlineProgress(p =>
            {
                if (p.Added >= 2 * BatchSize)
                {
                    cts.Cancel();
                }
            });
            Assert.Catch<OperationCanceledException>(() => cache.Add(_rows, BatchSize, cancelAfterTwoBatches, cts.Token));
            Assert.That(cache.Count, Is.EqualTo(2 * BatchSize), "whole batches only");
        }

        using (FeatureCache resumed = FeatureCache.Open(path, _small, _large))
        {
            Assert.That(resumed.Count, Is.EqualTo(2 * BatchSize));
            Assert.That(resumed.Add(_rows, BatchSize), Is.EqualTo(_rows.Count - (2 * BatchSize)));
        }

        Assert.That(File.ReadAllBytes(path), Is.EqualTo(File.ReadAllBytes(reference)));
    }

    [Test]
    public void Open_TornLastRecord_IsDroppedAndRecomputed()
    {
        string reference = BuildFull();
        string path = NewPath();
        File.Copy(reference, path);
        long recordBytes = 40 + (4 * 16);

        // A crash mid-write: a partial record, then (another case) a full-length record of zeros.
        foreach (int tail in new[] { 17, (int)recordBytes })
        {
            byte[] original = File.ReadAllBytes(path);
            File.WriteAllBytes(path, [.. original, .. new byte[tail]]);
            using (FeatureCache cache = FeatureCache.Open(path, _small, _large))
            {
                Assert.That(cache.RecoveredTornRecord, Is.True, $"tail of {tail} bytes");
                Assert.That(cache.Count, Is.EqualTo(_rows.Count));
            }

            Assert.That(File.ReadAllBytes(path), Is.EqualTo(original), "the torn tail is truncated away");
        }

        // Lose the last real record's end: it is dropped and recomputed to the same bytes.
        byte[] full = File.ReadAllBytes(path);
        File.WriteAllBytes(path, full[..^10]);
        using (FeatureCache cache = FeatureCache.Open(path, _small, _large))
        {
            Assert.That(cache.Count, Is.EqualTo(_rows.Count - 1));
            Assert.That(cache.Add(_rows, BatchSize), Is.EqualTo(1));
        }

        Assert.That(File.ReadAllBytes(path), Has.Length.EqualTo(full.Length));
    }

    [Test]
    public void Open_CorruptMiddleRecord_Rejected()
    {
        string path = BuildFull();
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^200] ^= 0xFF; // inside the second-to-last record
        File.WriteAllBytes(path, bytes);

        SafeRouteException ex = Assert.Throws<SafeRouteException>(() => FeatureCache.Open(path, _small, _large))!;
        Assert.That(ex.Message, Does.Contain("corrupt"));
    }

    [Test]
    public void Open_OtherModels_IdentityMismatchRejected()
    {
        string path = BuildFull();

        SafeRouteException ex = Assert.Throws<SafeRouteException>(() => FeatureCache.Open(path, _large, _small))!;
        Assert.That(ex.Message, Does.Contain("other models").And.Contain("small").And.Contain("large"));

        // A manifest edit changes the identity too.
        string copy = Path.Combine(_directory, "small-edited-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(copy);
        foreach (string file in Directory.GetFiles(_small.ModelDirectory))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        File.AppendAllText(Path.Combine(copy, "saferoute.json"), "\n");
        using OnnxSafetyGuard edited = OnnxSafetyGuard.Create(copy);
        Assert.Throws<SafeRouteException>(() => FeatureCache.Open(path, edited, _large));
    }

    [Test]
    public void Load_MissingRowOrChangedLabel_Rejected()
    {
        string path = NewPath();
        using FeatureCache cache = FeatureCache.Open(path, _small, _large);
        cache.Add(_rows.Take(4), BatchSize);

        SafeRouteException missing = Assert.Throws<SafeRouteException>(() => cache.Load(_rows.Take(6)))!;
        Assert.That(missing.Message, Does.Contain("2 of 6 rows").And.Contain("corpus-4"));

        SafetyExample relabelled = new(_rows[0].Id, _rows[0].Prompt, null, 1 - _rows[0].Label);
        Assert.Throws<SafeRouteException>(() => cache.Load([relabelled]));
    }

    [Test]
    public void Open_ArgValidation()
    {
        Assert.Throws<ArgumentException>(() => FeatureCache.Open("", _small, _large));
        Assert.Throws<ArgumentNullException>(() => FeatureCache.Open(NewPath(), null!, _large));
        Assert.Throws<ArgumentNullException>(() => FeatureCache.Open(NewPath(), _small, null!));
        string path = BuildFull();
        using FeatureCache reader = FeatureCache.OpenRead(path);
        Assert.Throws<InvalidOperationException>(() => reader.Add(_rows));
        File.WriteAllText(path, "not a cache at all");
        Assert.Throws<SafeRouteException>(() => FeatureCache.OpenRead(path).Dispose());
    }

    private sealed class InlineProgress(Action<FeatureCacheProgress> report) : IProgress<FeatureCacheProgress>
    {
        public void Report(FeatureCacheProgress value) => report(value);
    }
}
