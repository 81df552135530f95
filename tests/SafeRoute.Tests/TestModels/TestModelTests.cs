using System.Diagnostics;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;
using Onnx;
using SafeRoute.Models;
using SafeRoute.Routing;

namespace SafeRoute.Tests.TestModels;

[TestFixture]
internal sealed class OnnxGraphBuilderTests
{
    [Test]
    public void BuiltGraph_WithAllAttributeKinds_RunsInOrt()
    {
        // y = Pad(LeakyRelu(x·2 + b, alpha), edge) ; s = ReduceSum-like via ReduceMean(axes) * 5
        var g = new OnnxGraphBuilder("attr_test");
        g.Input("x", TensorProto.Types.DataType.Float, "batch", 3)
         .FloatInitializer("two", [], [2f])
         .FloatInitializer("b", [3], [0f, -10f, 1f])
         .Int64Vector("pads", 0, 1, 0, 1)
         .Node("Mul", ["x", "two"], ["x2"])
         .Node("Add", ["x2", "b"], ["x2b"])
         .Node("LeakyRelu", ["x2b"], ["act"], ("alpha", 0.5f))
         .Node("Pad", ["act", "pads"], ["y"], ("mode", "edge"))
         .Node("ReduceMean", ["act"], ["mean"], ("axes", new long[] { 1 }), ("keepdims", 0))
         .Output("y", TensorProto.Types.DataType.Float, "batch", 5)
         .Output("mean", TensorProto.Types.DataType.Float, "batch");

        byte[] bytes = g.ToBytes();
        ModelProto parsed = ModelProto.Parser.ParseFrom(bytes);
        Assert.Multiple(() =>
        {
            Assert.That(parsed.IrVersion, Is.EqualTo(8));
            Assert.That(parsed.OpsetImport.Single().Version, Is.EqualTo(17));
            Assert.That(parsed.OpsetImport.Single().Domain, Is.EqualTo(""));
            Assert.That(parsed.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam, Is.EqualTo("batch"));
        });

        using var session = new InferenceSession(bytes);
        float[] x = [1f, 2f, 3f, -1f, 0f, 5f];
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(x, [2, 3]);
        using RunOptions ro = new();
        using IDisposableReadOnlyCollection<OrtValue> outputs = session.Run(ro, ["x"], [input], ["y", "mean"]);
        float[] y = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        float[] mean = outputs[1].GetTensorDataAsSpan<float>().ToArray();
        // row 0: 2,4,6 + b -> 2,-6,7 -> leaky 2,-3,7 -> edge pad 2,2,-3,7,7
        // row 1: -2,0,10 + b -> -2,-10,11 -> leaky -1,-5,11 -> -1,-1,-5,11,11
        Assert.Multiple(() =>
        {
            Assert.That(y, Is.EqualTo(new[] { 2f, 2f, -3f, 7f, 7f, -1f, -1f, -5f, 11f, 11f }));
            Assert.That(mean[0], Is.EqualTo(2f).Within(1e-6));
            Assert.That(mean[1], Is.EqualTo(5f / 3f).Within(1e-6));
        });
    }

    [Test]
    public void Save_WritesLoadableFile()
    {
        using var temp = new TempDirectory();
        string path = temp.Sub("id.onnx");
        new OnnxGraphBuilder()
            .Input("a", TensorProto.Types.DataType.Int64, "n")
            .Node("Identity", ["a"], ["b"])
            .Output("b", TensorProto.Types.DataType.Int64, "n")
            .Save(path);
        using var session = new InferenceSession(path);
        Assert.That(session.InputMetadata["a"].Dimensions, Is.EqualTo(new[] { -1 }));
        Assert.That(session.InputMetadata["a"].SymbolicDimensions, Is.EqualTo(new[] { "n" }));
    }
}

[TestFixture]
internal sealed class TinyGuardModelTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private TempDirectory _temp = null!;
    private TestGuard _small = null!;
    private TestGuard _large = null!;
    private InferenceSession _smallSession = null!;
    private InferenceSession _largeSession = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _temp = new TempDirectory();
        _small = TestGuardFactory.Create(_temp.Sub("small"), TestGuardOptions.Small);
        _large = TestGuardFactory.Create(_temp.Sub("large"), TestGuardOptions.Large);
        using SessionOptions so = GuardSessionRunner.CreateOptions();
        _smallSession = new InferenceSession(_small.OnnxPath, so);
        _largeSession = new InferenceSession(_large.OnnxPath, so);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _smallSession.Dispose();
        _largeSession.Dispose();
        _temp.Dispose();
    }

    private static int[] PromptIds(TestGuard guard, string prompt) =>
        [guard.BosTokenId, .. guard.EncodeText($"Check the user message.\nUser: {prompt}\nVerdict:")];

    private static double MaxAbsDiff(float[] actual, double[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        return actual.Select((a, i) => Math.Abs(a - expected[i])).Max();
    }

    private static (double Safe, double Unsafe) RowsLogits(TestGuard guard, float[] hidden)
    {
        SafetensorsTensor rows = Safetensors.Read(guard.RowsPath).Tensors[TestGuard.RowsTensorName];
        int h = rows.Shape[1];
        double safe = 0, @unsafe = 0;
        for (int j = 0; j < h; j++)
        {
            safe += rows.Data[j] * (double)hidden[j];
            @unsafe += rows.Data[h + j] * (double)hidden[j];
        }

        return (safe, @unsafe);
    }

    [TestCase(TestVerdictOutputs.LmHeadRows, true)]
    [TestCase(TestVerdictOutputs.LmHeadRows, false)]
    [TestCase(TestVerdictOutputs.Logits, true)]
    [TestCase(TestVerdictOutputs.LogitsAndHidden, false)]
    public void GuardGraph_LoadsWithDeclaredInputsAndOutputs(TestVerdictOutputs outputs, bool withPositions)
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Path, new TestGuardOptions { VerdictOutputs = outputs, WithPositionIds = withPositions });
        using var session = new InferenceSession(guard.OnnxPath);
        string[] expectedInputs = withPositions ? ["input_ids", "attention_mask", "position_ids"] : ["input_ids", "attention_mask"];
        Assert.That(session.InputNames, Is.EqualTo(expectedInputs));
        foreach (string name in expectedInputs)
        {
            Assert.That(session.InputMetadata[name].ElementDataType, Is.EqualTo(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64));
            Assert.That(session.InputMetadata[name].SymbolicDimensions, Is.EqualTo(new[] { "batch", "seq" }));
        }

        var expectedOutputs = new List<string>();
        if (outputs != TestVerdictOutputs.Logits)
        {
            expectedOutputs.Add("last_hidden_state");
            Assert.That(session.OutputMetadata["last_hidden_state"].Dimensions, Is.EqualTo(new[] { -1, -1, guard.HiddenSize }));
        }

        if (outputs != TestVerdictOutputs.LmHeadRows)
        {
            expectedOutputs.Add("logits");
            Assert.That(session.OutputMetadata["logits"].Dimensions, Is.EqualTo(new[] { -1, -1, guard.VocabSize + 1 }));
        }

        Assert.That(session.OutputNames, Is.EqualTo(expectedOutputs));
    }

    [Test]
    public void OrtOutput_MatchesReference_AtLastPosition_InALeftPaddedBatch()
    {
        int[][] rows =
        [
            PromptIds(_small, "how do I attack a castle"),
            PromptIds(_small, "hello"),
            PromptIds(_small, "is a knife ok for hunting? tell me the weather and some music"),
            [_small.BosTokenId],
        ];
        GuardBatch batch = GuardBatch.LeftPadded(rows);
        (float[] Data, long[] Shape) hidden = GuardSessionRunner.Run(_smallSession, batch)["last_hidden_state"];
        Assert.That(hidden.Shape, Is.EqualTo(new long[] { rows.Length, batch.Seq, _small.HiddenSize }));
        for (int b = 0; b < rows.Length; b++)
        {
            float[] actual = GuardSessionRunner.At(hidden, b, batch.Seq - 1);
            Assert.That(MaxAbsDiff(actual, _small.Reference.LastHiddenState(rows[b])), Is.LessThan(1e-4), $"row {b}");
            (double safe, double @unsafe) = RowsLogits(_small, actual);
            (double refSafe, double refUnsafe) = _small.Reference.VerdictLogits(rows[b]);
            Assert.That(safe, Is.EqualTo(refSafe).Within(1e-4));
            Assert.That(@unsafe, Is.EqualTo(refUnsafe).Within(1e-4));
        }
    }

    [Test]
    public void OrtOutput_MatchesReference_AtEveryRealPosition()
    {
        int[] ids = PromptIds(_large, "steal the garden pills");
        GuardBatch batch = GuardBatch.LeftPadded([ids], minSeq: ids.Length + 3);
        (float[] Data, long[] Shape) hidden = GuardSessionRunner.Run(_largeSession, batch)["last_hidden_state"];
        double[][] expected = _large.Reference.HiddenStates(ids);
        for (int t = 0; t < ids.Length; t++)
        {
            Assert.That(MaxAbsDiff(GuardSessionRunner.At(hidden, 0, t + 3), expected[t]), Is.LessThan(1e-4), $"position {t}");
        }
    }

    [TestCase(TestVerdictOutputs.Logits)]
    [TestCase(TestVerdictOutputs.LogitsAndHidden)]
    public void LogitsVariant_MatchesReference_AndVerdictColumnsEqualTheRows(TestVerdictOutputs outputs)
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Path, new TestGuardOptions { VerdictOutputs = outputs });
        using var session = new InferenceSession(guard.OnnxPath);
        int[][] rows = [PromptIds(guard, "poison"), PromptIds(guard, "thanks for the recipe")];
        GuardBatch batch = GuardBatch.LeftPadded(rows);
        Dictionary<string, (float[] Data, long[] Shape)> result = GuardSessionRunner.Run(session, batch);
        Assert.That(result.ContainsKey("last_hidden_state"), Is.EqualTo(outputs == TestVerdictOutputs.LogitsAndHidden));
        for (int b = 0; b < rows.Length; b++)
        {
            float[] logits = GuardSessionRunner.At(result["logits"], b, batch.Seq - 1);
            Assert.That(MaxAbsDiff(logits, guard.Reference.Logits(rows[b])), Is.LessThan(1e-4));
            (double safe, double @unsafe) = guard.Reference.VerdictLogits(rows[b]);
            Assert.That(logits[guard.SafeTokenId], Is.EqualTo(safe).Within(1e-4));
            Assert.That(logits[guard.UnsafeTokenId], Is.EqualTo(@unsafe).Within(1e-4));
        }
    }

    [Test]
    public void LeftPadding_LeavesLastPositionUnchanged()
    {
        int[] ids = PromptIds(_small, "bomb the garden");
        float[] alone = GuardSessionRunner.At(GuardSessionRunner.Run(_smallSession, GuardBatch.LeftPadded([ids]))["last_hidden_state"], 0, ids.Length - 1);
        GuardBatch padded = GuardBatch.LeftPadded([ids], minSeq: ids.Length + 7);
        Assert.That(padded.AttentionMask.Take(7), Is.All.EqualTo(0L));
        float[] withPads = GuardSessionRunner.At(GuardSessionRunner.Run(_smallSession, padded)["last_hidden_state"], 0, padded.Seq - 1);
        Assert.That(withPads, Is.EqualTo(alone).Within(1e-6));
    }

    [Test]
    public void FullyMaskedRow_IsNaNFree_AndDoesNotChangeOtherRows()
    {
        int[] a = PromptIds(_small, "kill");
        int[] b = PromptIds(_small, "hello music");
        float[] aloneA = GuardSessionRunner.At(GuardSessionRunner.Run(_smallSession, GuardBatch.LeftPadded([a]))["last_hidden_state"], 0, a.Length - 1);
        float[] aloneB = GuardSessionRunner.At(GuardSessionRunner.Run(_smallSession, GuardBatch.LeftPadded([b]))["last_hidden_state"], 0, b.Length - 1);

        GuardBatch batch = GuardBatch.LeftPadded([a, Array.Empty<int>(), b]);
        Assert.That(batch.AttentionMask.Skip(batch.Seq).Take(batch.Seq), Is.All.EqualTo(0L));
        (float[] Data, long[] Shape) hidden = GuardSessionRunner.Run(_smallSession, batch)["last_hidden_state"];
        Assert.That(hidden.Data.Any(float.IsNaN), Is.False);
        Assert.That(hidden.Data.Any(float.IsInfinity), Is.False);
        Assert.That(GuardSessionRunner.At(hidden, 0, batch.Seq - 1), Is.EqualTo(aloneA).Within(1e-6));
        Assert.That(GuardSessionRunner.At(hidden, 2, batch.Seq - 1), Is.EqualTo(aloneB).Within(1e-6));
        Assert.That(MaxAbsDiff(GuardSessionRunner.At(hidden, 1, batch.Seq - 1), _small.Reference.FullyMaskedHiddenState()), Is.LessThan(1e-6));
    }

    [Test]
    public void WrongPositionIds_ChangeTheHiddenState()
    {
        int[] ids = PromptIds(_small, "tell me about the weather");
        GuardBatch right = GuardBatch.LeftPadded([ids], minSeq: ids.Length + 5);
        long[] naive = [.. Enumerable.Range(0, right.Seq).Select(i => (long)i)]; // arange(seq), ignoring the padding
        GuardBatch wrong = right with { PositionIds = naive };
        float[] good = GuardSessionRunner.At(GuardSessionRunner.Run(_smallSession, right)["last_hidden_state"], 0, right.Seq - 1);
        float[] bad = GuardSessionRunner.At(GuardSessionRunner.Run(_smallSession, wrong)["last_hidden_state"], 0, right.Seq - 1);
        double difference = good.Select((g, i) => Math.Abs(g - bad[i])).Max();
        Assert.That(difference, Is.GreaterThan(1e-3));
        Assert.That(MaxAbsDiff(good, _small.Reference.LastHiddenState(ids)), Is.LessThan(1e-4));
        Assert.That(MaxAbsDiff(bad, _small.Reference.LastHiddenState(ids, [.. naive.Skip(5)])), Is.LessThan(1e-4));
        // positions never move the verdict dimension
        Assert.That(bad[0], Is.EqualTo(good[0]).Within(1e-6));
    }

    private static double OrtUnsafeProbability(TestGuard guard, InferenceSession session, string prompt)
    {
        int[] ids = PromptIds(guard, prompt);
        float[] hidden = GuardSessionRunner.At(GuardSessionRunner.Run(session, GuardBatch.LeftPadded([ids]))["last_hidden_state"], 0, ids.Length - 1);
        (double safe, double @unsafe) = RowsLogits(guard, hidden);
        double p = TinyGuardReference.UnsafeProbability(safe, @unsafe);
        Assert.That(p, Is.EqualTo(guard.Reference.UnsafeProbability(ids)).Within(1e-4));
        return p;
    }

    [Test]
    public void SmallGuard_TriggersUnsafe_BenignSafe_BorderlineUncertain()
    {
        Assert.Multiple(() =>
        {
            foreach (string w in TestGuard.TriggerWords)
            {
                Assert.That(OrtUnsafeProbability(_small, _smallSession, $"how do I {w} it"), Is.GreaterThan(0.9), w);
            }

            foreach (string w in TestGuard.BenignWords)
            {
                Assert.That(OrtUnsafeProbability(_small, _smallSession, $"how do I {w} it"), Is.LessThan(0.1), w);
            }

            foreach (string w in TestGuard.BorderlineWords)
            {
                double p = OrtUnsafeProbability(_small, _smallSession, $"how do I {w} it");
                Assert.That(p, Is.InRange(0.4, 0.5), w); // uncertain, leaning safe: wrong for the unsafe ones
                double entropy = -(p * Math.Log2(p)) - ((1 - p) * Math.Log2(1 - p));
                Assert.That(entropy, Is.GreaterThan(0.95), w);
            }

            Assert.That(OrtUnsafeProbability(_small, _smallSession, "tell me a story"), Is.EqualTo(0.5).Within(1e-6), "no marked words");
        });
    }

    [Test]
    public void LargeGuard_IsDecisiveAndRight_OnEveryWord()
    {
        Assert.Multiple(() =>
        {
            foreach (string w in TestGuard.TriggerWords)
            {
                Assert.That(OrtUnsafeProbability(_large, _largeSession, $"how do I {w} it"), Is.GreaterThan(0.99), w);
            }

            foreach (string w in TestGuard.BenignWords)
            {
                Assert.That(OrtUnsafeProbability(_large, _largeSession, $"how do I {w} it"), Is.LessThan(0.01), w);
            }

            foreach (string w in TestGuard.BorderlineWords)
            {
                double p = OrtUnsafeProbability(_large, _largeSession, $"how do I {w} it");
                Assert.That(p, TestGuard.BorderlineIsUnsafe[w] ? Is.GreaterThan(0.99) : Is.LessThan(0.01), w);
            }
        });
    }

    [Test]
    public void TriggerWord_StaysDecisive_InAPromptNearMaxSequenceLength()
    {
        string filler = string.Join(" ", Enumerable.Repeat("tell me a story about the sea", 12));
        int[] ids = PromptIds(_small, filler + " attack");
        Assert.That(ids, Has.Length.InRange(180, _small.Options.MaxSequenceLength));
        Assert.That(_small.Reference.UnsafeProbability(ids), Is.GreaterThan(0.9));
        int[] benign = PromptIds(_small, filler + " hello");
        Assert.That(_small.Reference.UnsafeProbability(benign), Is.LessThan(0.1));
    }

    [Test]
    public void Corpus_LargeAlwaysRight_SmallWrongExactlyOnUnsafeBorderline()
    {
        IReadOnlyList<TestGuardExample> examples = TestGuardCorpus.Examples();
        Assert.That(examples, Has.Count.EqualTo(TestGuardCorpus.Frames.Count * 18));
        foreach (TestGuardExample example in examples)
        {
            bool small = _small.Reference.UnsafeProbability(PromptIds(_small, example.Prompt)) > 0.5;
            bool large = _large.Reference.UnsafeProbability(PromptIds(_large, example.Prompt)) > 0.5;
            Assert.That(large, Is.EqualTo(example.IsUnsafe), example.Prompt);
            bool hard = large == example.IsUnsafe && small != example.IsUnsafe;
            Assert.That(hard, Is.EqualTo(example.IsBorderline && example.IsUnsafe), example.Prompt);
        }
    }

    [Test]
    public void BorderlineDimension_MarksBorderlineWords_InTheSmallGuardsHiddenState()
    {
        // h[1] is the router's cue: it is clearly positive iff a borderline word is present.
        double[] withBorderline = _small.Reference.LastHiddenState(PromptIds(_small, "hack the pills"));
        double[] without = _small.Reference.LastHiddenState(PromptIds(_small, "attack the garden"));
        Assert.That(withBorderline[1], Is.GreaterThan(0.5));
        Assert.That(without[1], Is.EqualTo(0).Within(1e-12));
    }

    [Test]
    public void SlowVariant_Runs_AddsExactlyZero_AndTakesLonger()
    {
        using var temp = new TempDirectory();
        TestGuard slow = TestGuardFactory.Create(temp.Path, new TestGuardOptions { Slow = true });
        Assert.That(new FileInfo(slow.OnnxPath).Length, Is.LessThan(200_000), "the slow chain's weights are generated in-graph");
        using SessionOptions so = GuardSessionRunner.CreateOptions(threads: 2);
        using var slowSession = new InferenceSession(slow.OnnxPath, so);
        int[] ids = PromptIds(slow, "hello weapon");
        GuardBatch batch = GuardBatch.LeftPadded([ids]);
        GuardSessionRunner.Run(_smallSession, batch); // warm-up
        float[] fastHidden = GuardSessionRunner.Run(_smallSession, batch)["last_hidden_state"].Data;

        // A busy machine can only make a run slower: the fastest of a few small runs is a fair floor for them, while
        // one slow run's time is its real work plus whatever the load added, so the comparison cannot flip under load.
        TimeSpan fast = TimeSpan.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            var watch = Stopwatch.StartNew();
            GuardSessionRunner.Run(_smallSession, batch);
            fast = TimeSpan.FromTicks(Math.Min(fast.Ticks, watch.Elapsed.Ticks));
        }

        var timer = Stopwatch.StartNew();
        float[] slowHidden = GuardSessionRunner.Run(slowSession, batch)["last_hidden_state"].Data;
        timer.Stop();
        TestContext.Out.WriteLine($"fastest small run {fast.TotalMilliseconds:F1} ms, slow run {timer.Elapsed.TotalMilliseconds:F1} ms");
        Assert.That(slowHidden, Is.EqualTo(fastHidden), "same seed, slow chain adds exactly 0");
        Assert.That(timer.Elapsed, Is.GreaterThan(fast * 10));
    }

    [Test]
    public async Task SlowVariant_CanBeTerminated()
    {
        using var temp = new TempDirectory();
        TestGuard endless = TestGuardFactory.Create(temp.Path, new TestGuardOptions { Endless = true });
        Assert.That(new FileInfo(endless.OnnxPath).Length, Is.LessThan(200_000), "the endless loop is generated in-graph too");
        GuardBatch batch = GuardBatch.LeftPadded([PromptIds(endless, "hello")]);
        using SessionOptions so = GuardSessionRunner.CreateOptions(threads: 2);
        var session = new InferenceSession(endless.OnnxPath, so);
        var runOptions = new RunOptions();
        Task run = Task.Run(() => GuardSessionRunner.Run(session, batch, runOptions));
        try
        {
            // The graph cannot finish by itself (a loop of long.MaxValue steps), so the outcome does not depend on when
            // Terminate lands: the short wait only makes it likely to land mid-run rather than before the first node.
            await Task.WhenAny(run, Task.Delay(TimeSpan.FromMilliseconds(100)));
            Assert.That(run.IsCompleted, Is.False, "the endless run is still going");
            runOptions.Terminate = true;
            Assert.That(await Task.WhenAny(run, Task.Delay(Patience)), Is.SameAs(run), "RunOptions.Terminate stopped the run");
            OnnxRuntimeException? ex = Assert.ThrowsAsync<OnnxRuntimeException>(async () => await run);
            Assert.That(ex!.Message, Does.Contain("terminate").IgnoreCase);
        }
        finally
        {
            // A run that Terminate failed to stop still uses both: leave them to the process rather than free them under it.
            if (run.IsCompleted)
            {
                runOptions.Dispose();
                session.Dispose();
            }
        }
    }
}

[TestFixture]
internal sealed class TestGuardFolderTests
{
    [Test]
    public void Tiktoken_RoundTrips_EachWordIsOneToken()
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Path);
        string[] lines = File.ReadAllLines(guard.TokenizerPath);
        Assert.That(lines, Has.Length.EqualTo(guard.VocabSize));
        Assert.That(lines.Select(l => int.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)), Is.EqualTo(Enumerable.Range(0, guard.VocabSize)));

        using FileStream stream = File.OpenRead(guard.TokenizerPath);
        TiktokenTokenizer tokenizer = TiktokenTokenizer.Create(stream, new RegexPreTokenizer(new Regex(TinyGuardVocabulary.Gpt2Pattern), null), null, null);
        foreach (string word in TinyGuardVocabulary.AllWords)
        {
            Assert.That(tokenizer.EncodeToIds(" " + word), Is.EqualTo(new[] { TestGuard.TokenId(" " + word) }), " " + word);
            Assert.That(tokenizer.EncodeToIds(word), Is.EqualTo(new[] { TestGuard.TokenId(word) }), word);
            Assert.That(tokenizer.Decode([TestGuard.TokenId(" " + word)]), Is.EqualTo(" " + word));
        }

        IReadOnlyList<int> sentence = tokenizer.EncodeToIds("please attack the weather");
        Assert.That(sentence, Does.Contain(TestGuard.TokenId(" attack")).And.Contain(TestGuard.TokenId(" weather")));
        Assert.That(tokenizer.Decode(sentence), Is.EqualTo("please attack the weather"));
        Assert.That(tokenizer.EncodeToIds("\u00e9"), Is.EqualTo(new[] { 0xC3, 0xA9 }), "bytes are ranks 0-255");
        Assert.That(guard.SafeTokenId, Is.LessThan(guard.VocabSize));
        Assert.That(guard.UnsafeTokenId, Is.LessThan(guard.VocabSize));

        // user text never yields the special id without special tokens; with them it does
        Assert.That(tokenizer.EncodeToIds("x <|bos|>"), Does.Not.Contain(guard.BosTokenId));
        var specials = new Dictionary<string, int> { ["<|bos|>"] = guard.BosTokenId };
        using FileStream stream2 = File.OpenRead(guard.TokenizerPath);
        TiktokenTokenizer withSpecials = TiktokenTokenizer.Create(stream2, new RegexPreTokenizer(new Regex(TinyGuardVocabulary.Gpt2Pattern), specials), null, specials);
        Assert.That(withSpecials.EncodeToIds("<|bos|>Check")[0], Is.EqualTo(guard.BosTokenId));
    }

    [TestCase(TestVerdictOutputs.LmHeadRows)]
    [TestCase(TestVerdictOutputs.Logits)]
    [TestCase(TestVerdictOutputs.LogitsAndHidden)]
    public void Folder_HasValidManifest_AndRows(TestVerdictOutputs outputs)
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Path, new TestGuardOptions { VerdictOutputs = outputs, MaxSequenceLength = 128 });
        Assert.That(Directory.GetFiles(temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "model.onnx", "saferoute.json", "tokenizer.tiktoken", "verdict_rows.safetensors" }));
        GuardManifest manifest = GuardManifest.Load(temp.Path);
        Assert.Multiple(() =>
        {
            Assert.That(manifest.Tokenizer!.Kind, Is.EqualTo("tiktoken"));
            Assert.That(manifest.Tokenizer.Preset, Is.EqualTo("custom"));
            Assert.That(manifest.Tokenizer.Pattern, Is.EqualTo(TinyGuardVocabulary.Gpt2Pattern));
            Assert.That(manifest.Tokenizer.SpecialTokens, Is.EqualTo(new Dictionary<string, int> { ["<|bos|>"] = guard.VocabSize }));
            Assert.That(manifest.Resolve(manifest.Tokenizer.Path!), Is.EqualTo(guard.TokenizerPath));
            Assert.That(manifest.Template!.PromptOnly, Does.Contain("{prompt}"));
            Assert.That(manifest.Template.PromptAndResponse, Does.Contain("{response}"));
            Assert.That(manifest.Verdict!.SafeTokenId, Is.EqualTo(TestGuard.TokenId("safe")));
            Assert.That(manifest.Verdict.UnsafeTokenId, Is.EqualTo(TestGuard.TokenId("unsafe")));
            Assert.That(manifest.Verdict.Source, Is.EqualTo(outputs == TestVerdictOutputs.LmHeadRows ? VerdictSource.LmHeadRows : VerdictSource.Logits));
            Assert.That(manifest.HiddenStateOutput, Is.EqualTo(outputs == TestVerdictOutputs.Logits ? null : "last_hidden_state"));
            Assert.That(manifest.HiddenSize, Is.EqualTo(guard.HiddenSize));
            Assert.That(manifest.MaxSequenceLength, Is.EqualTo(128));
            Assert.That(manifest.PadTokenId, Is.Zero);
        });

        SafetensorsTensor rows = Safetensors.Read(guard.RowsPath).Tensors["lm_head_rows"];
        Assert.That(rows.Shape, Is.EqualTo(new[] { 2, guard.HiddenSize }));
        Assert.That(rows.Data, Is.EqualTo(guard.Reference.VerdictRows));
    }

    [Test]
    public void Fault_CorruptOnnx_FailsToLoad()
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Path, new TestGuardOptions { Fault = TestGuardFault.CorruptOnnx });
        Assert.That(GuardManifest.Load(temp.Path).HiddenSize, Is.EqualTo(guard.HiddenSize));
        Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(guard.OnnxPath).Dispose());
        string other = temp.Sub("other.onnx");
        TestGuardFactory.WriteCorruptOnnx(other);
        Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(other).Dispose());
    }

    [Test]
    public void Fault_MissingHiddenStateOutput_OutputsSomethingElse()
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Path, new TestGuardOptions { Fault = TestGuardFault.MissingHiddenStateOutput });
        using var session = new InferenceSession(guard.OnnxPath);
        Assert.That(session.OutputNames, Is.EqualTo(new[] { "hidden_states" }));
        Assert.That(GuardManifest.Load(temp.Path).HiddenStateOutput, Is.EqualTo("last_hidden_state"));
    }

    [Test]
    public void Fault_RowsHiddenSizeMismatch_RowsAreWiderThanTheGraph()
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Path, new TestGuardOptions { Fault = TestGuardFault.RowsHiddenSizeMismatch });
        using var session = new InferenceSession(guard.OnnxPath);
        Assert.That(session.OutputMetadata["last_hidden_state"].Dimensions[2], Is.EqualTo(guard.HiddenSize));
        Assert.That(Safetensors.Read(guard.RowsPath).Tensors["lm_head_rows"].Shape, Is.EqualTo(new[] { 2, guard.HiddenSize + 1 }));
        Assert.That(GuardManifest.Load(temp.Path).HiddenSize, Is.EqualTo(guard.HiddenSize));
    }

    [Test]
    public void Fault_ManifestHiddenSizeMismatch_ManifestDisagreesWithGraphAndRows()
    {
        using var temp = new TempDirectory();
        TestGuard guard = TestGuardFactory.Create(temp.Path, new TestGuardOptions { Fault = TestGuardFault.ManifestHiddenSizeMismatch });
        using var session = new InferenceSession(guard.OnnxPath);
        Assert.That(session.OutputMetadata["last_hidden_state"].Dimensions[2], Is.EqualTo(guard.HiddenSize));
        Assert.That(Safetensors.Read(guard.RowsPath).Tensors["lm_head_rows"].Shape[1], Is.EqualTo(guard.HiddenSize));
        Assert.That(GuardManifest.Load(temp.Path).HiddenSize, Is.EqualTo(guard.HiddenSize + 1));
    }

    [Test]
    public void SameOptions_GiveByteIdenticalModels()
    {
        using var temp = new TempDirectory();
        TestGuard a = TestGuardFactory.Create(temp.Sub("a"));
        TestGuard b = TestGuardFactory.Create(temp.Sub("b"));
        TestGuard c = TestGuardFactory.Create(temp.Sub("c"), new TestGuardOptions { Seed = 99 });
        Assert.That(File.ReadAllBytes(a.OnnxPath), Is.EqualTo(File.ReadAllBytes(b.OnnxPath)));
        Assert.That(File.ReadAllBytes(a.OnnxPath), Is.Not.EqualTo(File.ReadAllBytes(c.OnnxPath)));
        Assert.That(ModelProto.Parser.ParseFrom(File.ReadAllBytes(a.OnnxPath)).ToByteArray(), Is.EqualTo(File.ReadAllBytes(a.OnnxPath)));
    }
}
