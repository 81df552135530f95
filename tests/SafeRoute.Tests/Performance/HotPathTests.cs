using Microsoft.ML.Tokenizers;
using SafeRoute.Models;
using SafeRoute.Tests.TestModels;
using SafeRoute.Text;

namespace SafeRoute.Tests.Performance;

/// <summary>The lean hot path: cached template ids, pooled buffers, steady-state allocation.</summary>
[TestFixture]
public sealed class HotPathTests
{
    private TempDirectory _temp = null!;
    private TestGuard _small = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp()
    {
        _temp = new TempDirectory("saferoute-hotpath");
        _small = TestGuardFactory.Create(_temp.Sub("small"), TestGuardOptions.Small);
    }

    [OneTimeTearDown]
    public void OneTimeTearDown() => _temp.Dispose();

    [TestCase("hello there")]
    [TestCase("  leading and trailing  ")]
    [TestCase("123 numbers, punctuation!? and 'quotes' it's")]
    [TestCase("line\nbreaks\n\nand\ttabs")]
    [TestCase("é ß 中文 😀 unicode")]
    [TestCase("x")]
    public void Gpt2DecoderTemplate_CachedIds_EqualOnePassTokenization(string prompt)
    {
        GuardManifest manifest = GuardManifest.Load(Gpt2DecoderGuard.Path);
        PromptEncoder encoder = PromptEncoder.Create(manifest);
        Assert.That(encoder.CachedTemplateIds, Is.GreaterThan(5), "the fixed template text is tokenized once, not per call");

        // The reference: the whole rendered text in one pass through the same GPT-2 tokenizer.
        TiktokenTokenizer gpt2 = TiktokenTokenizer.CreateForModel("gpt2");
        string stripped = prompt.Trim();
        string rendered = manifest.Template!.PromptOnly!.Replace("{prompt}", stripped, StringComparison.Ordinal);
        int[] expected = [.. gpt2.EncodeToIds(rendered)];
        Assert.That(encoder.Encode(new SafetyRequest(prompt)).TokenIds, Is.EqualTo(expected));

        string renderedPair = manifest.Template.PromptAndResponse!.Replace("{prompt}", stripped, StringComparison.Ordinal).Replace("{response}", "Sure: " + stripped, StringComparison.Ordinal);
        Assert.That(encoder.Encode(new SafetyRequest(prompt, "Sure: " + stripped)).TokenIds, Is.EqualTo(gpt2.EncodeToIds(renderedPair).ToArray()));
    }

    [Test]
    public async Task EvaluateAsync_SteadyState_AllocatesLittleBeyondTheVerdict()
    {
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(_small.Directory, new GuardModelOptions { IntraOpNumThreads = 1 });
        var request = new SafetyRequest("the plan for today is a walk in the park and then lunch");
        for (int i = 0; i < 5; i++)
        {
            _ = await guard.EvaluateAsync(request);
        }

        long least = await LeastAllocatedPerCallAsync(async () => _ = await guard.EvaluateAsync(request));
        TestContext.Out.WriteLine($"bytes allocated per EvaluateAsync: {least}");
        Assert.That(least, Is.LessThanOrEqualTo(2048 + 128), "≤ 2 KB beyond the verdict (about 100 bytes)");
    }

    /// <summary>Issue 15, item 4: the routed guard that DI hands out, on the path most calls take (not routed), allocates
    /// at most 2 KB beyond the verdicts (small verdict and the returned one) — the small guard's own path plus the
    /// routing bookkeeping.</summary>
    [Test]
    public async Task RoutedEvaluateAsync_NotRouted_AllocatesLittleBeyondTheVerdict()
    {
        using OnnxSafetyGuard small = OnnxSafetyGuard.Create(_small.Directory, new GuardModelOptions { IntraOpNumThreads = 1 });
        using OnnxSafetyGuard large = OnnxSafetyGuard.Create(_small.Directory, new GuardModelOptions { IntraOpNumThreads = 1 });
        using var routed = new RoutedSafetyGuard(small, large, new SafeRoute.Routing.EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = 2f });
        var request = new SafetyRequest("the plan for today is a walk in the park and then lunch");
        for (int i = 0; i < 5; i++)
        {
            Assert.That((await routed.EvaluateAsync(request)).Routed, Is.False);
        }

        long least = await LeastAllocatedPerCallAsync(async () => _ = await routed.EvaluateAsync(request));
        TestContext.Out.WriteLine($"bytes allocated per routed EvaluateAsync: {least}");
        Assert.That(least, Is.LessThanOrEqualTo(2048 + 256), "≤ 2 KB beyond the verdicts");
    }

    /// <summary>The least bytes one call allocated on this thread, over three passes of 20 calls. The calls complete
    /// synchronously on this thread, so the thread's allocation counter sees the whole call.</summary>
    private static async Task<long> LeastAllocatedPerCallAsync(Func<Task> call)
    {
        long least = long.MaxValue;
        for (int pass = 0; pass < 3; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++)
            {
                await call();
            }

            least = Math.Min(least, (GC.GetAllocatedBytesForCurrentThread() - before) / 20);
        }

        return least;
    }

    [Test]
    public async Task EvaluateBatchAsync_VeryDifferentLengths_RunInLengthGroups_InTheCallersOrder()
    {
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(_small.Directory);
        string longText = string.Join(' ', Enumerable.Repeat(TestGuard.BenignWords[1], 150));
        SafetyRequest[] requests =
        [
            new(TestGuard.TriggerWords[0]),
            new(longText + " " + TestGuard.TriggerWords[1]),
            new(TestGuard.BenignWords[0]),
            new(longText),
            new(TestGuard.BenignWords[2] + " " + TestGuard.TriggerWords[2]),
        ];
        var single = new List<SafetyVerdict>();
        foreach (SafetyRequest request in requests)
        {
            single.Add(await guard.EvaluateAsync(request));
        }

        var sizes = new List<int>();
        guard.RunObserver = sizes.Add;
        IReadOnlyList<SafetyVerdict> batch = await guard.EvaluateBatchAsync(requests);

        Assert.That(sizes, Is.EqualTo(new[] { 3, 2 }), "the three short rows in one run, the two long ones in another, not all padded to the longest");
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.That(batch[i].UnsafeProbability, Is.EqualTo(single[i].UnsafeProbability).Within(1e-5), $"row {i}");
        }
    }

    [Test]
    public async Task MemoryArenaOff_GivesTheSameVerdict()
    {
        using OnnxSafetyGuard withArena = OnnxSafetyGuard.Create(_small.Directory);
        using OnnxSafetyGuard withoutArena = OnnxSafetyGuard.Create(_small.Directory, new GuardModelOptions { UseCpuMemoryArena = false });
        var request = new SafetyRequest($"please {TestGuard.TriggerWords[0]} now");
        SafetyVerdict a = await withArena.EvaluateAsync(request);
        SafetyVerdict b = await withoutArena.EvaluateAsync(request);
        Assert.That(b.UnsafeProbability, Is.EqualTo(a.UnsafeProbability).Within(1e-6));
    }

    [TestCase("gpt2")]
    [TestCase("cl100k")]
    [TestCase("o200k")]
    public void CustomTemplates_CachedIds_EqualOnePassTokenization_ForRandomUserText(string preset)
    {
        // Templates whose text touches the user text with letters, quotes, digits, spaces and non-ASCII letters: the
        // places where a cached boundary could move. Each is compared with one tokenizer pass over the filled-in text.
        string[] templates =
        [
            "Task: is the user message safe or unsafe?\nUser: {prompt}\nAnswer:",
            "Message'{prompt}' ok",
            "Text:{prompt}.",
            "x  {prompt}  y",
            "N123{prompt}456 z",
            "abc{prompt}def ghi",
            "it's {prompt}'s turn, we'll see",
            "é{prompt}é done",
        ];
        string[] alphabet =
        [
            "a", "s", "t", "d", "m", "re", "ll", "ve", "S", "T", "1", "0", " ", "  ", "\n", "\r", "\t", "'", "!", ".", "-",
            "é", "\u0301", "\u00a0", "\u2028", "😀", "中", "_", "\"", "ſ", "\u3000", "²", "٣",
        ];
        var rng = new Random(20261129);
        PromptEncoder plain = Custom("{prompt}", strip: false, preset);
        var mismatches = new List<string>();
        foreach (string template in templates)
        {
            foreach (bool strip in new[] { false, true })
            {
                PromptEncoder cached = Custom(template, strip, preset);
                for (int n = 0; n < 400; n++)
                {
                    var user = new System.Text.StringBuilder();
                    for (int k = rng.Next(1, 5); k > 0; k--)
                    {
                        user.Append(alphabet[rng.Next(alphabet.Length)]);
                    }

                    string text = user.ToString();
                    string filled = template.Replace("{prompt}", strip ? PythonText.Strip(text) : text, StringComparison.Ordinal);
                    if (!cached.EncodeRaw(text, null).TokenIds.AsSpan().SequenceEqual(plain.EncodeRaw(filled, null).TokenIds))
                    {
                        mismatches.Add($"template {templates.ToList().IndexOf(template)}, strip {strip}, user text of {text.Length} chars (U+{string.Join(" U+", text.Select(c => ((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture)))})");
                    }
                }
            }
        }

        Assert.That(mismatches, Is.Empty);
    }

    private static PromptEncoder Custom(string template, bool strip, string preset) => PromptEncoder.Create(new GuardManifest
    {
        Directory = Path.GetTempPath(),
        FilePath = Path.Combine(Path.GetTempPath(), "saferoute.json"),
        Tokenizer = new TokenizerManifest { Kind = "tiktoken", Builtin = "gpt2", Preset = preset },
        Template = new TemplateManifest { Kind = "custom", PromptOnly = template, StripUserText = strip },
        MaxSequenceLength = 4096,
    });
}
