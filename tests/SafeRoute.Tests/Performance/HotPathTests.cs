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
    public void DefaultTemplate_CachedIds_EqualOnePassTokenization(string prompt)
    {
        GuardManifest manifest = GuardManifest.Load(DefaultGuardModels.SmallModelPath);
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

        long least = long.MaxValue;
        for (int pass = 0; pass < 3; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++)
            {
                // Completes synchronously on this thread, so the thread's allocation counter sees the whole call.
                _ = await guard.EvaluateAsync(request);
            }

            least = Math.Min(least, (GC.GetAllocatedBytesForCurrentThread() - before) / 20);
        }

        TestContext.Out.WriteLine($"bytes allocated per EvaluateAsync: {least}");
        Assert.That(least, Is.LessThanOrEqualTo(2048 + 128), "≤ 2 KB beyond the verdict (about 100 bytes)");
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
}
