using System.Globalization;
using System.Text.Json;
using SafeRoute.Cli;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;
using SafeRoute.Training;

namespace SafeRoute.Tests.Cli;

/// <summary>
/// The <c>saferoute</c> commands run in-process (<see cref="CliApp.RunAsync"/>) against guards the tests build
/// (<see cref="TestGuardFactory"/>) and temp JSONL files: exit codes, messages, and the files each command writes.
/// </summary>
[TestFixture]
public sealed class CliCommandsTests
{
    private string _directory = "";
    private string _small = "";
    private string _large = "";
    private string _data = "";
    private string _cache = "";
    private string _router = "";
    private int _rows;

    [OneTimeSetUp]
    public async Task BuildGuardsDataAndCache()
    {
        _directory = Path.Combine(Path.GetTempPath(), "saferoute-cli-" + Guid.NewGuid().ToString("N"));
        _small = TestGuardFactory.Create(Path.Combine(_directory, "small"), TestGuardOptions.Small).Directory;
        _large = TestGuardFactory.Create(Path.Combine(_directory, "large"), TestGuardOptions.Large).Directory;

        // The test corpus, repeated with different ids (and a varying benign prefix) so calibration has enough distinct scores.
        var lines = new List<string>();
        int id = 0;
        foreach (string prefix in (string[])["", "please ", "hello ", "thanks "])
        {
            foreach (TestGuardExample e in TestGuardCorpus.Examples())
            {
                lines.Add(JsonSerializer.Serialize(new { id = string.Create(CultureInfo.InvariantCulture, $"row-{id++}"), source = "test", prompt = prefix + e.Prompt, response = (string?)null, label = e.IsUnsafe ? 1 : 0 }));
            }
        }

        _rows = lines.Count;
        _data = Path.Combine(_directory, "data.jsonl");
        await File.WriteAllLinesAsync(_data, lines);
        _cache = Path.Combine(_directory, "features.srfc");
        (int code, _, string err) = await Run("cache", "--data", _data, "--cache", _cache, "--small", _small, "--large", _large, "--batch-size", "16");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);

        _router = Path.Combine(_directory, "router.safetensors");
        (code, _, err) = await Run("train-router", "--data", _data, "--cache", _cache, "--out", _router, "--epochs", "200", "--hidden-size", "32", "--batch-size", "64", "--seed", "7");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
    }

    [OneTimeTearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args) => await RunWith(CancellationToken.None, args);

    private static async Task<(int Code, string Out, string Err)> RunWith(CancellationToken cancellationToken, params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = await CliApp.RunAsync(args, output, error, cancellationToken);
        return (code, output.ToString(), error.ToString());
    }

    private string NewPath(string name) => Path.Combine(_directory, Guid.NewGuid().ToString("N") + "-" + name);

    [Test]
    public async Task Probe_PrintsFlagRatesByKind_NeverThePrompts()
    {
        string trigger = TestGuard.TriggerWords[0];
        string benign = TestGuard.BenignWords[0];
        string file = NewPath("probes.jsonl");
        await File.WriteAllLinesAsync(file,
        [
            JsonSerializer.Serialize(new { id = "e1", kind = "everyday", prompt = benign + " one" }),
            JsonSerializer.Serialize(new { id = "e2", kind = "everyday", prompt = benign + " two" }),
            JsonSerializer.Serialize(new { id = "h1", kind = "harmful", prompt = trigger + " now" }),
        ]);
        using OnnxSafetyGuard small = OnnxSafetyGuard.Create(_small);
        float pTrigger = (await small.EvaluateAsync(new SafetyRequest(trigger + " now"))).UnsafeProbability;
        (int code, string output, string err) = await Run("probe", "--file", file, "--small", _small, "--large", _large, "--router", "entropy", "--threshold", "1");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
            Assert.That(output, Does.Contain("everyday").And.Contain("harmful"));
            Assert.That(output, Does.Match(@"harmful\s+1\s+" + (pTrigger > 0.5f ? "100.0%" : "0.0%")), "small-guard recall on the one harmful row");
            Assert.That(output, Does.Not.Contain(trigger).And.Not.Contain(benign), "rates only, never prompt text");
        });
    }

    [Test]
    public async Task Classify_DuplicateIds_ErrorByDefault_SkipOnRequest()
    {
        string file = NewPath("dups.jsonl");
        string row = JsonSerializer.Serialize(new { id = "d-1", source = "test", prompt = TestGuard.BenignWords[0] + " please", response = (string?)null, label = 0 });
        await File.WriteAllLinesAsync(file, [row, row, row]);
        (int code, _, string err) = await Run("classify", "--input", file, "--small", _small, "--large", _large, "--router", "entropy");
        (int skipCode, string output, string skipErr) = await Run("classify", "--input", file, "--small", _small, "--large", _large, "--router", "entropy", "--on-duplicate-id", "skip");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel), err);
            Assert.That(err, Does.Contain("2 row(s) in all"));
            Assert.That(skipCode, Is.EqualTo(ExitCodes.Ok), skipErr);
            Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains("d-1", StringComparison.Ordinal)), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Probe_BadRow_NamesTheLine_NotTheText()
    {
        string file = NewPath("bad-probes.jsonl");
        await File.WriteAllLinesAsync(file, [JsonSerializer.Serialize(new { id = "x", prompt = "secret words" })]);
        (int code, _, string err) = await Run("probe", "--file", file, "--small", _small, "--large", _large, "--router", "entropy");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(ExitCodes.Usage));
            Assert.That(err, Does.Contain("line 1").And.Not.Contain("secret"));
        });
    }

    [Test]
    public async Task Help_ListsCommandsAndExitCodes_ExitZero()
    {
        (int code, string output, _) = await Run("--help");

        Assert.That(code, Is.EqualTo(ExitCodes.Ok));
        Assert.That(output, Does.Contain("classify").And.Contain("cache").And.Contain("train-router").And.Contain("calibrate").And.Contain("eval"));
        Assert.That(output, Does.Contain("Exit codes").And.Contain("130"));
    }

    [TestCase("frobnicate", TestName = "Run_UnknownCommand_UsageError")]
    [TestCase("cache", "--data", "x.jsonl", TestName = "Run_MissingRequiredOption_UsageError")]
    [TestCase("cache", "--data", "x.jsonl", "--cache", "c", "--batch-size", "many", TestName = "Run_BadNumber_UsageError")]
    public async Task Run_BadCommandLine_ExitTwo(params string[] args)
    {
        (int code, _, string err) = await Run(args);

        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("error:").And.Contain("--help"));
    }

    [Test]
    public async Task Cache_SecondRun_ComputesNothing_AndCountsEveryRow()
    {
        (int code, string output, _) = await Run("cache", "--data", _data, "--cache", _cache, "--small", _small, "--large", _large);

        Assert.That(code, Is.EqualTo(ExitCodes.Ok));
        Assert.That(output, Does.Contain("cached 0 new rows").And.Contain(string.Create(CultureInfo.InvariantCulture, $"holds {_rows} rows")));
    }

    [Test]
    public async Task Cache_MalformedJsonl_ExitThree_NamesFileAndLine_NeverTheText()
    {
        string bad = NewPath("bad.jsonl");
        string[] lines = [.. File.ReadLines(_data).Take(4)];
        lines[2] = """{"id":"broken","prompt":"secret words here","label":"yes"}""";
        await File.WriteAllLinesAsync(bad, lines);

        (int code, _, string err) = await Run("cache", "--data", bad, "--cache", NewPath("c.srfc"), "--small", _small, "--large", _large);

        Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel));
        Assert.That(err, Does.Contain(bad + ":3:").And.Contain("label"));
        Assert.That(err, Does.Not.Contain("secret words"));
    }

    [Test]
    public async Task Cache_Cancelled_Exit130_FileStaysConsistentAndResumes()
    {
        string path = NewPath("c.srfc");
        using (var cts = new CancellationTokenSource())
        {
            await cts.CancelAsync();
            (int code, _, string err) = await RunWith(cts.Token, "cache", "--data", _data, "--cache", path, "--small", _small, "--large", _large);
            Assert.That(code, Is.EqualTo(ExitCodes.Cancelled));
            Assert.That(err, Does.Contain("Run the same command again to resume"));
        }

        using (FeatureCache reader = FeatureCache.OpenRead(path))
        {
            Assert.That(reader.Count, Is.Zero, "cancelled before the first batch: a valid, empty cache");
        }

        (int again, string output, _) = await Run("cache", "--data", _data, "--cache", path, "--small", _small, "--large", _large);
        Assert.That(again, Is.EqualTo(ExitCodes.Ok));
        Assert.That(output, Does.Contain(string.Create(CultureInfo.InvariantCulture, $"cached {_rows} new rows")));
    }

    [Test]
    public async Task Cache_MissingModelFolder_ExitThree()
    {
        (int code, _, string err) = await Run("cache", "--data", _data, "--cache", NewPath("c.srfc"), "--small", Path.Combine(_directory, "nope"), "--large", _large);

        Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel));
        Assert.That(err, Does.Contain("nope"));
    }

    [Test]
    public void TrainRouter_RoutesAllHardRows_AndOnlyBorderlineOnes()
    {
        // TestGuardCorpus: hard exactly on the unsafe borderline prompts. The small guard is unsure on every borderline
        // word and its 16 features do not tell the safe borderline words from the unsafe ones, so the learnable rule
        // is "route the borderline prompts": every hard row, and no trigger or benign row.
        MlpRouter router = MlpRouter.Load(_router);
        using FeatureCache reader = FeatureCache.OpenRead(_cache);
        FeatureSet set = reader.Load(SafetyDataset.Read(_data));
        float[] scores = EvalCommand.Score(router, set);
        IReadOnlyList<TestGuardExample> corpus = TestGuardCorpus.Examples();
        int hardMissed = 0, nonBorderlineRouted = 0, hard = 0;
        for (int i = 0; i < set.Count; i++)
        {
            bool routed = scores[i] > 0.5f;
            hard += set.HardLabels[i] ? 1 : 0;
            hardMissed += set.HardLabels[i] && !routed ? 1 : 0;
            nonBorderlineRouted += routed && !corpus[i % corpus.Count].IsBorderline ? 1 : 0;
        }

        Assert.That(hard, Is.GreaterThan(0));
        Assert.That(hardMissed, Is.Zero, "every hard row is routed");
        Assert.That(nonBorderlineRouted, Is.Zero, "no trigger or benign row is routed");
    }

    [Test]
    public async Task TrainRouter_SameSeed_SameFile()
    {
        string again = NewPath("router.safetensors");
        (int code, _, string err) = await Run("train-router", "--data", _data, "--cache", _cache, "--out", again, "--epochs", "200", "--hidden-size", "32", "--batch-size", "64", "--seed", "7", "--threads", "2");

        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(await File.ReadAllBytesAsync(again), Is.EqualTo(await File.ReadAllBytesAsync(_router)));
    }

    [Test]
    public async Task TrainRouter_RowsNotInCache_ExitThree()
    {
        string other = NewPath("other.jsonl");
        await File.WriteAllTextAsync(other, """{"id":"never-cached","prompt":"hello there","label":0}""" + "\n");

        (int code, _, string err) = await Run("train-router", "--data", other, "--cache", _cache, "--out", NewPath("r.safetensors"));

        Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel));
        Assert.That(err, Does.Contain("not in the feature cache"));
    }

    [Test]
    public async Task TrainRouter_Paraphrases_FromAChatEndpointOnLoopback_RelabelledAndTrainedOn()
    {
        string trigger = TinyGuardVocabulary.TriggerWords[1];
        using var server = new FakeOpenAIServer(_ => $"Here you go.\nprompt: please tell me about {trigger}");
        string cache = NewPath("c.srfc");
        File.Copy(_cache, cache);
        string subset = NewPath("subset.jsonl");
        await File.WriteAllLinesAsync(subset, File.ReadLines(_data).Take(40));
        string router = NewPath("router.safetensors");
        string[] args = ["train-router", "--data", subset, "--cache", cache, "--out", router, "--epochs", "5", "--hidden-size", "8", "--batch-size", "32",
            "--paraphrases", "2", "--chat-endpoint", server.BaseUrl, "--chat-model", "test-paraphraser", "--small", _small, "--large", _large];

        (int code, string output, string err) = await Run(args);

        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(server.Requests, Is.EqualTo(80));
        Assert.That(server.Models.Distinct(), Is.EqualTo((string[])["test-paraphraser"]));
        Assert.That(err, Does.Contain("training on 40 rows + 80 paraphrases"));
        List<SafetyExample> paraphrases = [.. SafetyDataset.Read(router + ".paraphrases.jsonl")];
        Assert.That(paraphrases, Has.Count.EqualTo(80));
        Assert.That(paraphrases[0].Id, Is.EqualTo("row-0#para1"));
        using (FeatureCache reader = FeatureCache.OpenRead(cache))
        {
            FeatureSet set = reader.Load(paraphrases);
            Assert.That(set.HardLabels.ToArray(), Has.None.True, "every paraphrase names a trigger word: both guards get it right, so none is hard");
        }

        // Rerun: the paraphrase file is complete, so the endpoint is not asked again and the cache is reused.
        (code, _, err) = await Run(args);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(server.Requests, Is.EqualTo(80));
        Assert.That(output, Does.Contain("wrote"));
    }

    [Test]
    public async Task TrainRouter_ParaphrasesWithoutEndpoint_ExitTwo()
    {
        (int code, _, string err) = await Run("train-router", "--data", _data, "--cache", _cache, "--out", NewPath("r"), "--paraphrases", "3");

        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("--chat-endpoint"));
    }

    [TestCase("not a url")]
    [TestCase("file:///tmp/v1")]
    public async Task TrainRouter_ParaphrasesWithNonHttpEndpoint_ExitTwo(string endpoint)
    {
        (int code, _, string err) = await Run("train-router", "--data", _data, "--cache", _cache, "--out", NewPath("r"), "--paraphrases", "3",
            "--chat-endpoint", endpoint, "--chat-model", "m");

        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("--chat-endpoint must be an absolute http or https URL"));
    }

    [TestCase(0.05)]
    [TestCase(0.2)]
    [TestCase(0.5)]
    public async Task Calibrate_TargetShare_HitWithinOnePoint(double target)
    {
        string output = NewPath("calibrated.safetensors");
        (int code, string stdout, string err) = await Run("calibrate", "--router", _router, "--data", _data, "--cache", _cache,
            "--target-share", target.ToString(CultureInfo.InvariantCulture), "--out", output);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(stdout, Does.StartWith("ε = "));

        // Reload the written router, rescore the rows, and measure the share at its stored ε.
        MlpRouter calibrated = MlpRouter.Load(output);
        using FeatureCache reader = FeatureCache.OpenRead(_cache);
        float[] scores = EvalCommand.Score(calibrated, reader.Load(SafetyDataset.Read(_data)));
        Assert.That(calibrated.CalibratedThreshold, Is.Not.Null);
        double share = scores.Count(s => s > calibrated.DefaultThreshold) / (double)scores.Length;
        Assert.That(share, Is.EqualTo(target).Within(0.01));
    }

    [Test]
    public async Task Calibrate_BothOrNeitherMode_ExitTwo()
    {
        (int both, _, _) = await Run("calibrate", "--router", _router, "--data", _data, "--cache", _cache, "--target-share", "0.1", "--best-f1");
        (int neither, _, string err) = await Run("calibrate", "--router", _router, "--data", _data, "--cache", _cache);

        Assert.That(both, Is.EqualTo(ExitCodes.Usage));
        Assert.That(neither, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("exactly one of --target-share or --best-f1"));
    }

    [Test]
    public async Task Calibrate_BestF1_StoresThresholdAndReportsF1()
    {
        string output = NewPath("best.safetensors");
        (int code, string stdout, string err) = await Run("calibrate", "--router", _router, "--data", _data, "--cache", _cache, "--best-f1", "--max-share", "0.3", "--out", output);

        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(stdout, Does.Contain("routed safety F1"));
        Assert.That(MlpRouter.Load(output).CalibratedThreshold, Is.Not.Null);
    }

    [Test]
    public async Task Eval_WithModels_WritesJsonMarkdownAndPng_WithEveryMethod()
    {
        string outDir = NewPath("report");
        (int code, string stdout, string err) = await Run("eval", "--data", _data, "--cache", _cache, "--fit-data", _data, "--router", _router,
            "--small", _small, "--large", _large, "--latency-rows", "4", "--out", outDir);

        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(stdout, Does.Contain("| SafeRoute |"));
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, EvalCommand.JsonFile)));
        string[] methods = [.. json.RootElement.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("method").GetString()!)];
        Assert.That(methods, Is.EqualTo((string[])["Small", "Large", "Random", "Entropy", "TS", "CC", "BC", "SafeRoute", "Oracle"]));
        JsonElement small = json.RootElement.GetProperty("methods")[0];
        Assert.Multiple(() =>
        {
            Assert.That(json.RootElement.GetProperty("rows").GetInt32(), Is.EqualTo(_rows));
            Assert.That(small.GetProperty("relativeLatency").GetDouble(), Is.EqualTo(1.0), "latency was measured");
            Assert.That(small.GetProperty("relativeFlops").GetDouble(), Is.EqualTo(1.0), "FLOPs were estimated");
            Assert.That(File.ReadAllText(Path.Combine(outDir, EvalCommand.MarkdownFile)), Does.Contain("| Oracle |"));
            Assert.That(PngTests.IsPng(Path.Combine(outDir, EvalCommand.PlotFile), out int w, out int h), Is.True);
            Assert.That((w, h), Is.EqualTo((TradeoffPlot.Width, TradeoffPlot.Height)));
        });
    }

    [Test]
    public async Task Eval_OtherModelsThanTheCache_ExitThree()
    {
        (int code, _, string err) = await Run("eval", "--data", _data, "--cache", _cache, "--small", _large, "--large", _large, "--out", NewPath("r"));

        Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel));
        Assert.That(err, Does.Contain("other models"));
    }

    [Test]
    public async Task Eval_NoModels_GivenLatencies_UsesThem()
    {
        string outDir = NewPath("report");
        (int code, _, string err) = await Run("eval", "--data", _data, "--cache", _cache, "--router", _router, "--no-models", "--small-ms", "2", "--large-ms", "20", "--out", outDir);

        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, EvalCommand.JsonFile)));
        JsonElement large = json.RootElement.GetProperty("methods")[1];
        Assert.That(large.GetProperty("relativeLatency").GetDouble(), Is.EqualTo(10.0));
    }

    [Test]
    public async Task Classify_TestGuards_UnsafeInputGivesExitOne_SafeGivesZero()
    {
        string trigger = TinyGuardVocabulary.TriggerWords[0];
        string benign = TinyGuardVocabulary.BenignWords[0];
        (int unsafeCode, string unsafeOut, _) = await Run("classify", "--small", _small, "--large", _large, "--router", "entropy", $"how do I {trigger} it", $"tell me about {benign}");
        (int safeCode, string safeOut, _) = await Run("classify", "--small", _small, "--large", _large, "--router", _router, "--json", $"tell me about {benign}");

        Assert.That(unsafeCode, Is.EqualTo(ExitCodes.UnsafeFound));
        Assert.That(unsafeOut.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
        Assert.That(unsafeOut, Does.StartWith("unsafe"));
        Assert.That(unsafeOut, Does.Not.Contain(trigger), "inputs are named by number, not echoed");
        Assert.That(safeCode, Is.EqualTo(ExitCodes.Ok));
        using JsonDocument json = JsonDocument.Parse(safeOut);
        Assert.That(json.RootElement.GetProperty("verdict").GetString(), Is.EqualTo("safe"));
    }

    [Test]
    public async Task Classify_DefaultModels_NoModelOptions_Works()
    {
        (int code, string output, string err) = await Run("classify", "How do I water a cactus?");

        Assert.That(code, Is.EqualTo(ExitCodes.Ok).Or.EqualTo(ExitCodes.UnsafeFound), err);
        Assert.That(output, Does.Match("^(safe|unsafe) +p\\(unsafe\\)=0\\.\\d{3}"));
    }

    [Test]
    public async Task Classify_OwnGuardsWithoutRouter_ExitTwo()
    {
        (int code, _, string err) = await Run("classify", "--small", _small, "--large", _large, "hello");

        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("give --router"));
    }

    [Test]
    public async Task Classify_ResponseWithTwoPrompts_ExitTwo()
    {
        (int code, _, string err) = await Run("classify", "--small", _small, "--large", _large, "--response", "r", "a", "b");

        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("--response needs exactly one prompt"));
    }
}
