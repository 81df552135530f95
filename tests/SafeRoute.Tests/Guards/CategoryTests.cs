using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using SafeRoute.Models;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;
using static SafeRoute.Tests.Text.TextTestSupport;

namespace SafeRoute.Tests.Guards;

/// <summary>Issue 15: Llama-Guard-3-style category scores: one extra pass, only for unsafe verdicts, over the prompt
/// followed by the category prefix; q = softmax of the category rows times the last hidden state; thresholds and
/// ignored categories applied.</summary>
[TestFixture]
public sealed class CategoryTests
{
    private static readonly string[] Names = ["S1", "S2", "S3", "S4"];

    private TempDirectory _temp = null!;
    private TestGuard _model = null!;
    private float[] _rows = null!;
    private int[] _prefix = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _temp = new TempDirectory("saferoute-categories");
        _model = TestGuardFactory.Create(_temp.Sub("guard"), TestGuardOptions.Small);
        var random = new Random(3);
        _rows = [.. Enumerable.Range(0, Names.Length * _model.HiddenSize).Select(_ => (float)((random.NextDouble() * 4) - 2))];
        _prefix = [TestGuard.TokenId(" unsafe"), TestGuard.TokenId(TestGuard.BenignWords[1])];
        Safetensors.Write(Path.Combine(_model.Directory, "category_rows.safetensors"), [("category_rows", new[] { Names.Length, _model.HiddenSize }, _rows)]);
        GuardManifest manifest = TestGuardFactory.BuildManifest(_model);
        manifest.Categories = new CategoriesManifest { Names = Names, PrefixTokenIds = _prefix, Rows = "category_rows.safetensors" };
        File.WriteAllText(_model.ManifestPath, JsonSerializer.Serialize(manifest, GuardManifestJsonContext.Default.GuardManifest), new UTF8Encoding(false));
    }

    [OneTimeTearDown]
    public void OneTimeTearDown() => _temp.Dispose();

    private static SafetyRequest Unsafe => new($"{TestGuard.TriggerWords[0]} {TestGuard.TriggerWords[1]}");

    private static SafetyRequest Safe => new($"{TestGuard.BenignWords[0]} {TestGuard.BenignWords[2]}");

    private double[] ExpectedCategories(OnnxSafetyGuard guard, SafetyRequest request)
    {
        int[] ids = [.. guard.Encoder.Encode(request).TokenIds, .. _prefix];
        double[] h = _model.Reference.HiddenStates(ids, [.. Enumerable.Range(0, ids.Length).Select(i => (long)i)])[^1];
        double[] z = new double[Names.Length];
        for (int c = 0; c < z.Length; c++)
        {
            for (int k = 0; k < h.Length; k++)
            {
                z[c] += h[k] * _rows[(c * h.Length) + k];
            }
        }

        double max = z.Max();
        double total = z.Sum(v => Math.Exp(v - max));
        return [.. z.Select(v => Math.Exp(v - max) / total)];
    }

    [Test]
    public async Task PrefixAndTokensAsText_AreEncodedLikeTheIdForm()
    {
        // Issue 17: the category prefix and tokens as trusted text, encoded by the guard's tokenizer.
        TestGuard model = TestGuardFactory.Create(_temp.Sub("text"), TestGuardOptions.Small);
        Safetensors.Write(Path.Combine(model.Directory, "category_rows.safetensors"), [("category_rows", new[] { Names.Length, model.HiddenSize }, _rows)]);
        GuardManifest manifest = TestGuardFactory.BuildManifest(model);
        manifest.Categories = new CategoriesManifest
        {
            Names = Names,
            Prefix = " unsafe " + TestGuard.BenignWords[1],
            Tokens = [" attack", " weapon", " poison", " bomb"],
            Rows = "category_rows.safetensors",
        };
        File.WriteAllText(model.ManifestPath, JsonSerializer.Serialize(manifest, GuardManifestJsonContext.Default.GuardManifest), new UTF8Encoding(false));
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(model.Directory);
        SafetyVerdict verdict = await guard.EvaluateAsync(Unsafe);
        int[] prefix = [TestGuard.TokenId(" unsafe"), TestGuard.TokenId(" " + TestGuard.BenignWords[1])];
        int[] ids = [.. guard.Encoder.Encode(Unsafe).TokenIds, .. prefix];
        double[] h = model.Reference.HiddenStates(ids, [.. Enumerable.Range(0, ids.Length).Select(i => (long)i)])[^1];
        double[] z = [.. Enumerable.Range(0, Names.Length).Select(c => Enumerable.Range(0, h.Length).Sum(k => h[k] * _rows[(c * h.Length) + k]))];
        double max = z.Max();
        double[] expected = [.. z.Select(v => Math.Exp(v - max) / z.Sum(w => Math.Exp(w - max)))];
        Assert.That(verdict.Categories!.Select(c => (double)c.Probability), Is.EqualTo(expected).Within(1e-5));

        manifest.Categories.Tokens = [" attack weapon", " weapon", " poison", " bomb"];
        File.WriteAllText(model.ManifestPath, JsonSerializer.Serialize(manifest, GuardManifestJsonContext.Default.GuardManifest), new UTF8Encoding(false));
        var ex = Assert.Throws<SafeRouteException>(() => OnnxSafetyGuard.Create(model.Directory));
        Assert.That(ex!.Message, Does.Contain("'categories.tokens'").And.Contain("attack weapon"));
    }

    [Test]
    public async Task UnsafeVerdict_CarriesCategories_FromOneExtraPass()
    {
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(_model.Directory);
        long before = guard.RunCount;
        SafetyVerdict verdict = await guard.EvaluateAsync(Unsafe);
        double[] expected = ExpectedCategories(guard, Unsafe);
        Assert.Multiple(() =>
        {
            Assert.That(verdict.IsUnsafe, Is.True);
            Assert.That(guard.RunCount - before, Is.EqualTo(2), "the verdict pass and one category pass");
            Assert.That(verdict.Categories!.Select(c => c.Name), Is.EqualTo(Names));
            Assert.That(verdict.Categories!.Select(c => (double)c.Probability), Is.EqualTo(expected).Within(1e-5));
            Assert.That(verdict.Categories!.Select(c => c.IsFlagged), Is.EqualTo(expected.Select(q => q >= 0.5)));
        });
    }

    [Test]
    public async Task SafeVerdict_HasNoCategories_AndNoExtraPass()
    {
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(_model.Directory);
        long before = guard.RunCount;
        SafetyVerdict verdict = await guard.EvaluateAsync(Safe);
        Assert.Multiple(() =>
        {
            Assert.That(verdict.IsUnsafe, Is.False);
            Assert.That(verdict.Categories, Is.Null);
            Assert.That(guard.RunCount - before, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Batch_OnlyUnsafeRowsGetTheCategoryPass()
    {
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(_model.Directory);
        var rows = new List<int>();
        guard.RunObserver = rows.Add;
        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync([Safe, Unsafe, Safe, Unsafe]);
        Assert.Multiple(() =>
        {
            Assert.That(verdicts.Select(v => v.Categories is null), Is.EqualTo(new[] { true, false, true, false }));
            Assert.That(rows.Sum(), Is.EqualTo(4 + 2), "four verdict rows, then two category rows");
        });
    }

    [Test]
    public async Task Thresholds_DecideFlags_AndIgnoredCategoriesLeaveP()
    {
        using OnnxSafetyGuard plain = OnnxSafetyGuard.Create(_model.Directory);
        SafetyVerdict baseline = await plain.EvaluateAsync(Unsafe);
        double[] q = ExpectedCategories(plain, Unsafe);
        int top = Array.IndexOf(q, q.Max());

        var options = new GuardModelOptions();
        options.Categories.DefaultThreshold = 0f;
        options.Categories.Thresholds[Names[top]] = 1f;
        options.Categories.Ignore.Add(Names[top]);
        using OnnxSafetyGuard allowing = OnnxSafetyGuard.Create(_model.Directory, options);
        SafetyVerdict verdict = await allowing.EvaluateAsync(Unsafe);
        Assert.Multiple(() =>
        {
            Assert.That(verdict.UnsafeProbability, Is.EqualTo(baseline.UnsafeProbability * (1 - q[top])).Within(1e-5));
            Assert.That(verdict.IsUnsafe, Is.EqualTo(verdict.UnsafeProbability > 0.5f), "IsUnsafe still agrees with p");
            Assert.That(verdict.Categories![top].IsFlagged, Is.False, "ignored");
            Assert.That(verdict.Categories!.Where((_, i) => i != top).Select(c => c.IsFlagged), Is.All.True, "threshold 0 flags the rest");
        });
    }

    [Test]
    public async Task Disabled_SkipsTheCategoryPass()
    {
        var options = new GuardModelOptions();
        options.Categories.Enabled = false;
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(_model.Directory, options);
        SafetyVerdict verdict = await guard.EvaluateAsync(Unsafe);
        Assert.That(verdict.Categories, Is.Null);
    }

    [Test]
    public async Task RoutedGuard_PassesTheLargeGuardsCategoriesThrough_AndCountsTheCategory()
    {
        using ServiceProvider meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var verdicts = new MetricCollector<long>(meters.GetRequiredService<IMeterFactory>(), "SafeRoute", "saferoute.verdicts");
        using OnnxSafetyGuard small = OnnxSafetyGuard.Create(TestGuardFactory.Create(_temp.Sub($"small-{Guid.NewGuid():N}"), TestGuardOptions.Small).Directory);
        var options = new GuardModelOptions();
        options.Categories.DefaultThreshold = 0f; // every category flagged: the first one is counted
        using OnnxSafetyGuard large = OnnxSafetyGuard.Create(_model.Directory, options, GuardTier.Large);
        using var routed = new RoutedSafetyGuard(small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f, MeterFactory = meters.GetRequiredService<IMeterFactory>() });
        SafetyVerdict verdict = await routed.EvaluateAsync(Unsafe);
        _ = await routed.EvaluateAsync(Safe);
        Assert.Multiple(() =>
        {
            Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Large));
            Assert.That(verdict.Categories, Has.Count.EqualTo(Names.Length));
            Assert.That(verdicts.GetMeasurementSnapshot().Select(m => m.Tags["saferoute.category"]), Is.EquivalentTo(new object?[] { "S1", "none" }));
        });
    }

    [Test]
    public void CategoryOptions_OutOfRangeThreshold_IsRejected()
    {
        var options = new GuardModelOptions();
        options.Categories.Thresholds["S1"] = 1.5f;
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxSafetyGuard.Create(_model.Directory, options));
        Assert.That(ex!.Message, Does.Contain("Thresholds['S1']"));
    }

    /// <summary>The Llama Guard 3 category prefix and category tokens, from Meta's tokenizer: the model writes
    /// "unsafe", "\n", "S" and then one token for the number (Llama 3 splits digits in groups of up to three).</summary>
    [Test]
    public void LlamaGuard3_CategoryTokens_AreOneTokenAfterThePrefix()
    {
        int[] prefix = Plain().EncodeRaw("unsafe\nS", null).TokenIds;
        Assert.That(prefix, Is.EqualTo(LlamaGuard3CategoryIds.Prefix), "unsafe, \\n, S");
        for (int n = 1; n <= 14; n++)
        {
            int[] ids = Plain().EncodeRaw($"unsafe\nS{n}", null).TokenIds;
            Assert.That(ids[..^1], Is.EqualTo(prefix), $"S{n}");
            Assert.That(ids[^1], Is.EqualTo(LlamaGuard3CategoryIds.Numbers[n - 1]), $"S{n}");
        }

        Assert.That(LlamaGuard3Template.CategoryCodes(is8B: true), Is.EqualTo(Enumerable.Range(1, 14).Select(i => $"S{i}")));
        Assert.That(LlamaGuard3Template.CategoryCodes(is8B: false), Has.Count.EqualTo(13));
    }
}

/// <summary>The ids the README's Llama Guard 3 export writes into <c>categories</c> (checked against Meta's tokenizer above).</summary>
internal static class LlamaGuard3CategoryIds
{
    public static readonly int[] Prefix = [39257, 198, 50];

    public static readonly int[] Numbers = [16, 17, 18, 19, 20, 21, 22, 23, 24, 605, 806, 717, 1032, 975];
}
