using System.Globalization;
using System.Text.Json;
using SafeRoute.Cli;
using SafeRoute.Routing;
using SafeRoute.Tests.Integrations;
using SafeRoute.Tests.TestModels;
using SafeRoute.Training;

namespace SafeRoute.Tests.Cli;

/// <summary>
/// The router CLI walk (<c>cache</c> → <c>train-router</c> → <c>calibrate</c> → <c>eval</c> → <c>classify</c>) for pairs of
/// different families: a WordPiece sequence-classifier small guard with a Llama-Guard-style decoder large guard, first
/// as a local model folder and then served over the completions API (the GuardServer sample on loopback, which answers
/// like vLLM), so the remote walk can be checked row by row against the local one.
/// </summary>
[TestFixture]
public sealed class CrossFamilyWalkTests
{
    private const string ServedName = "tiny-llama-guard";
    private string _directory = "";
    private string _small = "";
    private string _large = "";
    private string _data = "";
    private int _rows;

    [OneTimeSetUp]
    public async Task BuildGuardsAndData()
    {
        _directory = Path.Combine(Path.GetTempPath(), "saferoute-xfamily-" + Guid.NewGuid().ToString("N"));
        _small = TinyClassifierModel.Create(Path.Combine(_directory, "classifier-small")).Directory;
        _large = TestGuardFactory.Create(Path.Combine(_directory, "decoder-large"), TestGuardOptions.Large).Directory;

        // The decoder's test corpus, each prompt behind a few words the classifier knows, so both guards see real tokens.
        // The prefixes are neutral to the decoder: a benign word of its vocabulary ("hello") would cancel a trigger word
        // exactly, a tie of the two verdict logits, and a served guard's tie is unreadable by design.
        var lines = new List<string>();
        int id = 0;
        foreach (string prefix in (string[])["", "how ", "bread ", "tell ", "today "])
        {
            foreach (TestGuardExample e in TestGuardCorpus.Examples())
            {
                lines.Add(JsonSerializer.Serialize(new { id = string.Create(CultureInfo.InvariantCulture, $"x-{id++}"), source = "test", prompt = prefix + e.Prompt, response = (string?)null, label = e.IsUnsafe ? 1 : 0 }));
            }
        }

        _rows = lines.Count;
        _data = Path.Combine(_directory, "data.jsonl");
        await File.WriteAllLinesAsync(_data, lines);
    }

    [OneTimeTearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = await CliApp.RunAsync(args, output, error, CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }

    private string NewPath(string name) => Path.Combine(_directory, Guid.NewGuid().ToString("N") + "-" + name);

    /// <summary>The served large guard's cached p(unsafe) equals the local folder's on every row (and the small guard's is the same).</summary>
    private void AssertSameLargeProbabilities(string localCache, string remoteCache)
    {
        List<SafetyExample> rows = [.. SafetyDataset.Read(_data)];
        FeatureSet local, remote;
        using (FeatureCache a = FeatureCache.OpenRead(localCache))
        using (FeatureCache b = FeatureCache.OpenRead(remoteCache))
        {
            local = a.Load(rows);
            remote = b.Load(rows);
        }

        Assert.Multiple(() =>
        {
            for (int i = 0; i < rows.Count; i++)
            {
                Assert.That(remote.LargeUnsafeProbabilities[i], Is.EqualTo(local.LargeUnsafeProbabilities[i]).Within(1e-5), $"row {i}: the served guard's p(unsafe) equals the local folder's");
                Assert.That(remote.SmallUnsafeProbabilities[i], Is.EqualTo(local.SmallUnsafeProbabilities[i]), $"row {i}: the same small guard");
            }
        });
    }

    [Test]
    public async Task Walk_ClassifierSmall_DecoderLarge_CacheTrainCalibrateEvalClassify()
    {
        string cache = NewPath("features.srfc");
        string router = NewPath("router.safetensors");
        string report = NewPath("report");

        (int code, _, string err) = await Run("cache", "--data", _data, "--cache", cache, "--small", _small, "--large", _large, "--batch-size", "16");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        (code, _, err) = await Run("train-router", "--data", _data, "--cache", cache, "--out", router, "--epochs", "100", "--hidden-size", "16", "--batch-size", "64", "--seed", "3");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        (code, _, err) = await Run("calibrate", "--data", _data, "--cache", cache, "--router", router, "--target-share", "0.3", "--out", router);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        (code, string stdout, err) = await Run("eval", "--data", _data, "--cache", cache, "--router", router, "--small", _small, "--large", _large, "--latency-rows", "4", "--bootstrap", "50", "--out", report);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        (code, string classified, err) = await Run("classify", "--small", _small, "--large", _large, "--router", router, "--json", "tell me about the weather");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok).Or.EqualTo(ExitCodes.UnsafeFound), err);

        using FeatureCache opened = FeatureCache.OpenRead(cache);
        using JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(report, EvalCommand.JsonFile)));
        using JsonDocument verdict = JsonDocument.Parse(classified);
        Assert.Multiple(() =>
        {
            Assert.That(opened.Count, Is.EqualTo(_rows));
            Assert.That(opened.HiddenSize, Is.EqualTo(TinyClassifierModel.Dim), "the classifier's pooled output feeds the router");
            Assert.That(opened.SmallModel, Is.EqualTo(GuardModelIdentity.FromModelDirectory(_small)));
            Assert.That(opened.LargeModel, Is.EqualTo(GuardModelIdentity.FromModelDirectory(_large)));
            Assert.That(MlpRouter.Load(router).CalibratedThreshold, Is.Not.Null);
            Assert.That(json.RootElement.GetProperty("rows").GetInt32(), Is.EqualTo(_rows));
            Assert.That(stdout, Does.Contain("| SafeRoute |"));
            Assert.That(verdict.RootElement.GetProperty("decidedBy").GetString(), Is.AnyOf("Small", "Large"));
        });
    }

    [Test]
    public async Task Walk_LargeGuardServedOverCompletions_CachesTheSameVerdicts_AndEvalChecksItsIdentity()
    {
        using OnnxSafetyGuard served = OnnxSafetyGuard.Create(_large, tier: GuardTier.Large);
        await using LoopbackGuardServer server = await LoopbackGuardServer.StartAsync(served, ServedName);
        string endpoint = server.Address.AbsoluteUri;
        string localCache = NewPath("local.srfc");
        string remoteCache = NewPath("remote.srfc");
        string router = NewPath("router.safetensors");

        (int code, _, string err) = await Run("cache", "--data", _data, "--cache", localCache, "--small", _small, "--large", _large, "--batch-size", "16");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        (code, _, err) = await Run("cache", "--data", _data, "--cache", remoteCache, "--small", _small, "--large-endpoint", endpoint, "--large-model", ServedName, "--batch-size", "16");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        int requestsAfterCache = server.Requests;
        (code, _, err) = await Run("cache", "--data", _data, "--cache", remoteCache, "--small", _small, "--large-endpoint", endpoint, "--large-model", ServedName);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        Assert.That(server.Requests, Is.EqualTo(requestsAfterCache), "a second run finds every row cached and asks the server nothing");

        AssertSameLargeProbabilities(localCache, remoteCache);
        using (FeatureCache b = FeatureCache.OpenRead(remoteCache))
        {
            Assert.That(b.LargeModel.Name, Is.EqualTo(ServedName));
            Assert.That(b.LargeModel, Is.Not.EqualTo(GuardModelIdentity.FromModelDirectory(_large)));
        }

        (code, _, err) = await Run("train-router", "--data", _data, "--cache", remoteCache, "--out", router, "--epochs", "100", "--hidden-size", "16", "--batch-size", "64", "--seed", "3");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        string report = NewPath("report");
        (code, _, err) = await Run("eval", "--data", _data, "--cache", remoteCache, "--router", router, "--small", _small, "--large-endpoint", endpoint, "--large-model", ServedName, "--latency-rows", "2", "--bootstrap", "50", "--out", report);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        using (JsonDocument json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(report, EvalCommand.JsonFile))))
        {
            JsonElement small = json.RootElement.GetProperty("methods")[0];
            Assert.That(small.GetProperty("relativeLatency").GetDouble(), Is.EqualTo(1.0), "latency is measured through the server");
            Assert.That(small.TryGetProperty("relativeFlops", out JsonElement flops) && flops.ValueKind == JsonValueKind.Number, Is.False, "a served model has no ONNX file to count FLOPs from");
        }

        (code, _, err) = await Run("eval", "--data", _data, "--cache", remoteCache, "--router", router, "--small", _small, "--large-endpoint", endpoint, "--large-model", "another-model", "--out", NewPath("r"));
        Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel));
        Assert.That(err, Does.Contain("other models"));

        (code, string classified, err) = await Run("classify", "--small", _small, "--large-endpoint", endpoint, "--large-model", ServedName, "--router", "entropy", "--threshold", "0", "--json", "hello");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok).Or.EqualTo(ExitCodes.UnsafeFound), err);
        using JsonDocument verdict = JsonDocument.Parse(classified);
        Assert.That(verdict.RootElement.GetProperty("decidedBy").GetString(), Is.EqualTo("Large"), "threshold 0 routes every input to the served guard");
    }

    [Test]
    public async Task Walk_Qwen3GuardServedOverCompletions_FamilyFromItsFolderOrKind_CachesTheLocalVerdicts()
    {
        // A classifier small guard and a Qwen3Guard-style 3-way large guard (the tiny Qwen3 graph with Qwen3's real
        // tokenizer), served by the GuardServer sample in its family's prompt format.
        string folder = Guards.Qwen3GuardTests.WriteFolder(NewPath("qwen3"));
        using OnnxSafetyGuard served = OnnxSafetyGuard.Create(folder, tier: GuardTier.Large);
        await using LoopbackGuardServer server = await LoopbackGuardServer.StartAsync(app =>
            SafeRoute.GuardServer.GuardServerEndpoints.MapDecoder(app, served, "tiny-qwen3guard", GuardPromptFormat.FromModelFolder(folder)));
        string endpoint = server.Address.AbsoluteUri;
        string localCache = NewPath("local.srfc");
        string remoteCache = NewPath("remote.srfc");

        (int code, _, string err) = await Run("cache", "--data", _data, "--cache", localCache, "--small", _small, "--large", folder, "--batch-size", "16");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        (code, _, err) = await Run("cache", "--data", _data, "--cache", remoteCache, "--small", _small, "--large-endpoint", endpoint, "--large-model", "tiny-qwen3guard", "--large-family", folder, "--batch-size", "16");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);

        AssertSameLargeProbabilities(localCache, remoteCache);

        // eval accepts the cache with the same served family; another family (Llama Guard 3, the default) is another
        // identity, and so is the bare kind here: the folder's manifest lists its own verdict token variants.
        string router = NewPath("router.safetensors");
        (code, _, err) = await Run("train-router", "--data", _data, "--cache", remoteCache, "--out", router, "--epochs", "50", "--hidden-size", "16", "--seed", "3");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        (code, _, err) = await Run("eval", "--data", _data, "--cache", remoteCache, "--router", router, "--small", _small, "--large-endpoint", endpoint, "--large-model", "tiny-qwen3guard", "--large-family", folder, "--latency-rows", "2", "--bootstrap", "20", "--out", NewPath("report"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        foreach (string[] other in new[] { Array.Empty<string>(), ["--large-family", "qwen3guard-gen"] })
        {
            (code, _, err) = await Run(["eval", "--data", _data, "--cache", remoteCache, "--router", router, "--small", _small, "--large-endpoint", endpoint, "--large-model", "tiny-qwen3guard", .. other, "--out", NewPath("report")]);
            Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel), string.Join(' ', other));
            Assert.That(err, Does.Contain("other models"));
        }
    }

    [TestCase("vllm-classify")]
    [TestCase("tei-predict")]
    public async Task Walk_ClassifierLargeServedOnAClassificationEndpoint_CachesTheLocalVerdicts(string protocol)
    {
        // Another classifier (other weights) as the large guard, served by the GuardServer sample on /classify and /predict.
        string folder = TinyClassifierModel.Create(NewPath("classifier-large"), seed: 11).Directory;
        using OnnxSafetyGuard served = OnnxSafetyGuard.Create(folder, tier: GuardTier.Large);
        await using LoopbackGuardServer server = await LoopbackGuardServer.StartAsync(app => SafeRoute.GuardServer.GuardServerEndpoints.MapClassifier(app, served, "tiny-classifier"));
        string labels = string.Join(',', SafeRoute.GuardServer.GuardServerEndpoints.ClassifierLabels);
        string localCache = NewPath("local.srfc");
        string remoteCache = NewPath("remote.srfc");

        (int code, _, string err) = await Run("cache", "--data", _data, "--cache", localCache, "--small", _small, "--large", folder, "--batch-size", "16");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);
        string[] remoteArgs = ["--large-endpoint", server.Address.AbsoluteUri, "--large-model", "tiny-classifier", "--large-protocol", protocol, "--large-labels", labels, "--large-unsafe-labels", "unsafe"];
        (code, _, err) = await Run(["cache", "--data", _data, "--cache", remoteCache, "--small", _small, .. remoteArgs, "--batch-size", "16"]);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), err);

        AssertSameLargeProbabilities(localCache, remoteCache);

        (code, string classified, err) = await Run(["classify", "--small", _small, .. remoteArgs, "--router", "entropy", "--threshold", "0", "--json", "how do i bake bread"]);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok).Or.EqualTo(ExitCodes.UnsafeFound), err);
        using JsonDocument verdict = JsonDocument.Parse(classified);
        Assert.That(verdict.RootElement.GetProperty("decidedBy").GetString(), Is.EqualTo("Large"));
    }

    [TestCase("--large-protocol vllm-classify --large-labels safe,unsafe", "--large-unsafe-labels")]
    [TestCase("--large-protocol vllm-classify --large-unsafe-labels unsafe", "ClassifierLabels")]
    [TestCase("--large-labels safe,unsafe", "served classifier")]
    [TestCase("--large-protocol tei-predict --large-unsafe-labels unsafe --large-family wildguard", "--large-family")]
    [TestCase("--large-protocol grpc", "not known")]
    public async Task RemoteClassifierOptions_Invalid_ExitTwo(string options, string expected)
    {
        string[] args = ["classify", "--small", _small, "--large-endpoint", "http://127.0.0.1:9/", "--large-model", "m", "--router", "entropy", .. options.Split(' '), "hello"];
        (int code, _, string err) = await Run(args);

        Assert.That(code, Is.EqualTo(ExitCodes.Usage), err);
        Assert.That(err, Does.Contain(expected));
    }

    [Test]
    public async Task RemoteLarge_ServerAnswersUnreadably_CacheFailsWithExitThree_AndWritesNothing()
    {
        using OnnxSafetyGuard served = OnnxSafetyGuard.Create(_large, tier: GuardTier.Large);
        await using LoopbackGuardServer server = await LoopbackGuardServer.StartAsync(served, ServedName);
        string cache = NewPath("features.srfc");

        // The guard checks the echoed model name: a server that serves another model is unreadable, never a verdict.
        (int code, _, string err) = await Run("cache", "--data", _data, "--cache", cache, "--small", _small, "--large-endpoint", server.Address.AbsoluteUri, "--large-model", "not-the-served-model", "--batch-size", "16");

        Assert.That(code, Is.EqualTo(ExitCodes.DataOrModel), err);
        using FeatureCache opened = FeatureCache.OpenRead(cache);
        Assert.That(opened.Count, Is.Zero);
    }

    [TestCase("--large-model", "m")]
    [TestCase("--large-api-key-env", "HOME")]
    public async Task RemoteOptions_WithoutEndpoint_ExitTwo(string option, string value)
    {
        (int code, _, string err) = await Run("classify", "--small", _small, "--large", _large, "--router", "entropy", option, value, "hello");

        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("needs --large-endpoint"));
    }

    [TestCase("--large", "LARGE", "not both")]
    [TestCase("--large-family", "shieldgemma", "per-policy")]
    [TestCase("--large-family", "no-such-family", "neither a model folder")]
    [TestCase("--large-api-key-env", "SAFEROUTE_TEST_UNSET_VARIABLE", "not set")]
    public async Task RemoteOptions_Invalid_ExitTwo(string option, string value, string expected)
    {
        string[] args = ["classify", "--small", _small, "--large-endpoint", "http://127.0.0.1:9/", "--large-model", "m", "--router", "entropy", option, value == "LARGE" ? _large : value, "hello"];
        (int code, _, string err) = await Run(args);

        Assert.That(code, Is.EqualTo(ExitCodes.Usage), err);
        Assert.That(err, Does.Contain(expected));
    }

    [Test]
    public async Task RemoteOptions_EndpointNotHttp_ExitTwo()
    {
        (int code, _, string err) = await Run("classify", "--small", _small, "--large-endpoint", "ftp://host/", "--large-model", "m", "--router", "entropy", "hello");

        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("absolute http(s)"));
    }

    [Test]
    public async Task RemoteOptions_NoModelName_ExitTwo()
    {
        (int code, _, string err) = await Run("classify", "--small", _small, "--large-endpoint", "http://127.0.0.1:9/", "--router", "entropy", "hello");

        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(err, Does.Contain("needs --large-model"));
    }
}
