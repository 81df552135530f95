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
    public async Task Probe_ByDomain_AddsOneLinePerKindAndDomain_AlignedWithTheKindLines()
    {
        string trigger = TestGuard.TriggerWords[0];
        string benign = TestGuard.BenignWords[0];
        string file = NewPath("probes-domains.jsonl");
        await File.WriteAllLinesAsync(file,
        [
            JsonSerializer.Serialize(new { id = "e1", kind = "everyday", domain = "cooking", prompt = benign + " one" }),
            JsonSerializer.Serialize(new { id = "e2", kind = "everyday", domain = "a-rather-long-domain-name", prompt = benign + " two" }),
            JsonSerializer.Serialize(new { id = "h1", kind = "harmful", domain = "violent-crimes", prompt = trigger + " now" }),
            JsonSerializer.Serialize(new { id = "h2", kind = "harmful", prompt = trigger + " later" }),
        ]);
        using OnnxSafetyGuard small = OnnxSafetyGuard.Create(_small);
        float pTrigger = (await small.EvaluateAsync(new SafetyRequest(trigger + " now"))).UnsafeProbability;
        (int plainCode, string plain, _) = await Run("probe", "--file", file, "--small", _small, "--large", _large, "--router", "entropy", "--threshold", "1");
        (int code, string output, string err) = await Run("probe", "--file", file, "--small", _small, "--large", _large, "--router", "entropy", "--threshold", "1", "--by-domain");
        string[] lines = output.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
            Assert.That(plainCode, Is.EqualTo(ExitCodes.Ok));
            Assert.That(plain, Does.Not.Contain("/cooking"), "per-domain lines only on request");
            Assert.That(lines.Count(l => l.StartsWith("  ", StringComparison.Ordinal)), Is.EqualTo(4), "one line per (kind, domain), a row without a domain under '-'");
            Assert.That(lines.Single(l => l.Contains("harmful/violent-crimes", StringComparison.Ordinal)), Does.Match(@"\s1\s+" + (pTrigger > 0.5f ? "100.0%" : "0.0%")));
            Assert.That(lines, Has.Some.Contains("harmful/-"));
            // Every table line ends its row count in the same column (one right of the header's "rows", as the table
            // always printed), so per-domain labels longer than the kinds widen the label column for all lines.
            int column = lines[0].IndexOf("rows", StringComparison.Ordinal) + 4;
            string[] table = [.. lines.Skip(1).Take(lines.Length - 2)];
            Assert.That(table, Has.Length.EqualTo(6));
            Assert.That(table.Select(l => char.IsDigit(l[column]) && char.IsWhiteSpace(l[column + 1]) && char.IsWhiteSpace(l[column - 4])), Has.All.True);
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

    [Test]
    public async Task Calibrate_EntropyTargetShare_WritesARouterFile_ThatClassifyAndEvalUse()
    {
        string file = NewPath("entropy-router.json");
        (int code, string stdout, string err) = await Run("calibrate", "--router", "entropy", "--target-share", "0.2", "--data", _data, "--cache", _cache, "--out", file);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(stdout, Does.Contain("(entropy router)"));

        ISafetyRouter router = BaselineRouterFile.Load(file);
        using (FeatureCache reader = FeatureCache.OpenRead(_cache))
        {
            float[] scores = EvalCommand.Score(new EntropyRouter(), reader.Load(SafetyDataset.Read(_data)));
            Assert.That(scores.Count(x => x > router.DefaultThreshold) / (double)scores.Length, Is.EqualTo(0.2).Within(0.05), "the stored ε gives about the target share");
        }

        // classify routes with the file's ε: every row goes to the large guard exactly when its entropy is above it.
        (code, string lines, err) = await Run("classify", "--small", _small, "--large", _large, "--router", file, "--input", _data, "--json");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok).Or.EqualTo(ExitCodes.UnsafeFound), err);
        JsonElement[] verdicts = [.. lines.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];
        Assert.That(verdicts, Has.Length.EqualTo(_rows));
        int routed = 0;
        foreach (JsonElement v in verdicts)
        {
            bool large = v.GetProperty("decidedBy").GetString() == "Large";
            Assert.That(large, Is.EqualTo(v.GetProperty("routerScore").GetSingle() > router.DefaultThreshold));
            routed += large ? 1 : 0;
        }

        Assert.That(routed / (double)_rows, Is.EqualTo(0.2).Within(0.06));

        string outDir = NewPath("report");
        (code, _, err) = await Run("eval", "--data", _data, "--cache", _cache, "--router", _router, "--extra-router", file, "--no-models", "--bootstrap", "0", "--out", outDir);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, EvalCommand.JsonFile)));
        JsonElement extra = json.RootElement.GetProperty("budget").GetProperty("methods").EnumerateArray().Single(m => m.GetProperty("role").GetString() == "extra");
        Assert.That(extra.GetProperty("atOwnThreshold").GetProperty("threshold").GetSingle(), Is.EqualTo(router.DefaultThreshold));
    }

    [Test]
    public async Task Calibrate_TsWithoutFitData_ExitTwo_WithFitData_WritesTemperature()
    {
        (int code, _, string err) = await Run("calibrate", "--router", "ts", "--target-share", "0.2", "--data", _data, "--cache", _cache, "--out", NewPath("ts.json"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("--fit-data"));

        string file = NewPath("ts.json");
        (code, _, err) = await Run("calibrate", "--router", "ts", "--fit-data", _data, "--target-share", "0.2", "--data", _data, "--cache", _cache, "--out", file);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        Assert.That(json.RootElement.GetProperty("kind").GetString(), Is.EqualTo("temperature-scaling"));
        Assert.That(json.RootElement.GetProperty("temperature").GetSingle(), Is.GreaterThan(0));
    }

    [Test]
    public async Task Eval_BudgetTable_EveryMethodAtEveryShare_CurvesAndIntervals()
    {
        string outDir = NewPath("report");
        (int code, string stdout, string err) = await Run("eval", "--data", _data, "--cache", _cache, "--fit-data", _data, "--router", _router,
            "--no-models", "--shares", "0,0.2,1", "--bootstrap", "200", "--seed", "3", "--out", outDir);

        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(stdout, Does.Contain("## Every method at the same large-guard share").And.Contain("on the evaluated rows themselves"));
        Assert.That(stdout, Does.Contain("95% interval").And.Contain("For reference: Small safety F1"));
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, EvalCommand.JsonFile)));
        JsonElement budget = json.RootElement.GetProperty("budget");
        Assert.That(budget.GetProperty("thresholdsChosenOnEvaluatedRows").GetBoolean(), Is.True);
        string[] names = [.. budget.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("method").GetString()!)];
        Assert.That(names, Is.EqualTo(new[] { "SafeRoute", "Random", "Entropy", "TS", "BC" }), "no CC without models");
        foreach (JsonElement m in budget.GetProperty("methods").EnumerateArray())
        {
            JsonElement[] points = [.. m.GetProperty("points").EnumerateArray()];
            Assert.That(points, Has.Length.EqualTo(3));
            Assert.That(points[0].GetProperty("largeShare").GetDouble(), Is.Zero, m.GetProperty("method").GetString());
            Assert.That(points[1].GetProperty("largeShare").GetDouble(), Is.EqualTo(0.2).Within(0.05), m.GetProperty("method").GetString());
            Assert.That(points[2].GetProperty("largeShare").GetDouble(), Is.EqualTo(1.0), m.GetProperty("method").GetString());
        }

        Assert.That(budget.GetProperty("bootstrap").GetProperty("deltas").GetArrayLength(), Is.EqualTo(6), "3 shares × 2 metrics");
        JsonElement[] references = [.. budget.GetProperty("references").EnumerateArray()];
        Assert.That(references.Select(r => r.GetProperty("method").GetString()), Is.EqualTo(new[] { "Small", "Large", "Oracle" }));
        Assert.That(references[2].GetProperty("routingF1").GetDouble(), Is.EqualTo(1.0), "the oracle routes exactly the hard rows");
        foreach (string png in (string[])[EvalCommand.SafetyCurveFile, EvalCommand.RoutingCurveFile])
        {
            Assert.That(PngTests.IsPng(Path.Combine(outDir, png), out int w, out int h), Is.True, png);
            Assert.That((w, h), Is.EqualTo((CurvePlot.Width, CurvePlot.Height)));
        }
    }

    [Test]
    public async Task Eval_CalibrateOn_ChoosesEpsilonOnThoseRows()
    {
        string[] all = await File.ReadAllLinesAsync(_data);
        string calibrationFile = NewPath("calibration.jsonl");
        await File.WriteAllLinesAsync(calibrationFile, all.Where((_, i) => i % 2 == 0));
        string outDir = NewPath("report");
        (int code, string stdout, string err) = await Run("eval", "--data", _data, "--cache", _cache, "--router", _router, "--calibrate-on", calibrationFile,
            "--no-models", "--shares", "0.2", "--bootstrap", "0", "--out", outDir);

        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(stdout, Does.Contain("on the --calibrate-on rows"));
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, EvalCommand.JsonFile)));
        JsonElement budget = json.RootElement.GetProperty("budget");
        Assert.That(budget.GetProperty("thresholdsChosenOnEvaluatedRows").GetBoolean(), Is.False);
        float epsilon = budget.GetProperty("methods")[0].GetProperty("points")[0].GetProperty("threshold").GetSingle();
        using FeatureCache reader = FeatureCache.OpenRead(_cache);
        float[] calibrationScores = EvalCommand.Score(MlpRouter.Load(_router), reader.Load(SafetyDataset.Read(calibrationFile)));
        Assert.That(epsilon, Is.EqualTo(ThresholdCalibrator.ForTargetShare(calibrationScores, 0.2).Threshold));
    }

    [Test]
    public async Task Eval_RowsWithSources_ReportBreaksDownBySource()
    {
        string[] all = await File.ReadAllLinesAsync(_data);
        string sourced = NewPath("sourced.jsonl");
        await File.WriteAllLinesAsync(sourced, all.Select((l, i) => l.Replace("\"source\":\"test\"", i % 3 == 0 ? "\"source\":\"alpha\"" : "\"source\":\"beta\"", StringComparison.Ordinal)));
        string outDir = NewPath("report");
        (int code, string stdout, string err) = await Run("eval", "--data", sourced, "--cache", _cache, "--router", _router, "--no-models", "--bootstrap", "0", "--out", outDir);

        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(stdout, Does.Contain("## By source"));
        string alphaRows = all.Where((_, i) => i % 3 == 0).Count().ToString(CultureInfo.InvariantCulture);
        Assert.That(stdout, Does.Contain($"| alpha | {alphaRows} |"));
        Assert.That(stdout, Does.Contain("| beta |").And.Contain("| **all** | " + _rows.ToString(CultureInfo.InvariantCulture) + " |"));

        // One source only: no breakdown.
        (_, string single, _) = await Run("eval", "--data", _data, "--cache", _cache, "--router", _router, "--no-models", "--bootstrap", "0", "--out", NewPath("r"));
        Assert.That(single, Does.Not.Contain("## By source"));
    }

    [Test]
    public async Task Eval_FitDataInItsOwnCache_AndConflictingLabels_ReportedByIdOnly()
    {
        // Two rows with the same text and different labels, cached apart from the evaluated rows.
        string text = "tell me about " + TinyGuardVocabulary.BenignWords[0];
        string fitFile = NewPath("fit.jsonl");
        await File.WriteAllLinesAsync(fitFile,
        [
            JsonSerializer.Serialize(new { id = "fit-1", prompt = text, label = 0 }),
            JsonSerializer.Serialize(new { id = "fit-2", prompt = text, label = 1 }),
            JsonSerializer.Serialize(new { id = "fit-3", prompt = "how do I " + TinyGuardVocabulary.TriggerWords[0], label = 1 }),
        ]);
        string fitCache = NewPath("fit.srfc");
        (int code, _, string err) = await Run("cache", "--data", fitFile, "--cache", fitCache, "--small", _small, "--large", _large);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(err, Does.Contain("1 group(s) of identical text (2 rows) carry both labels").And.Contain("fit-1, fit-2"));
        Assert.That(err, Does.Not.Contain(text), "never the text");

        (code, _, err) = await Run("eval", "--data", _data, "--cache", _cache, "--fit-data", fitFile, "--no-models", "--bootstrap", "0", "--out", NewPath("r"));
        Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel), "the fit rows are not in the evaluation cache");

        string outDir = NewPath("report");
        (code, string stdout, err) = await Run("eval", "--data", _data, "--cache", _cache, "--fit-data", fitFile, "--fit-cache", fitCache, "--router", _router, "--no-models", "--bootstrap", "0", "--out", outDir);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(stdout, Does.Contain("| TS |").And.Contain("| BC |"));
        Assert.That(stdout, Does.Contain("## Data").And.Contain("--fit-data: 1 group(s) of identical text (2 rows) carry both labels"));
        Assert.That(stdout, Does.Not.Contain(text));
    }

    [Test]
    public async Task Calibrate_Cc_MeasuresTheSmallGuard_WritesARouterFile()
    {
        string file = NewPath("cc.json");
        (int code, _, string err) = await Run("calibrate", "--router", "cc", "--small", _small, "--large", _large, "--best-f1", "--data", _data, "--cache", _cache, "--out", file);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);

        using OnnxSafetyGuard small = OnnxSafetyGuard.Create(_small);
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        Assert.That(json.RootElement.GetProperty("kind").GetString(), Is.EqualTo("contextual-calibration"));
        Assert.That(json.RootElement.GetProperty("contentFreeUnsafeProbability").GetSingle(), Is.EqualTo(ContextualCalibrationRouter.MeasureContentFree(small)));

        (code, _, err) = await Run("calibrate", "--router", "cc", "--small", _large, "--large", _large, "--best-f1", "--data", _data, "--cache", _cache, "--out", NewPath("cc2.json"));
        Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel), "another small guard than the cache's");
        Assert.That(err, Does.Contain("another small guard"));
    }
}
