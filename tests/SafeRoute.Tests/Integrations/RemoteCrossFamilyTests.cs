using Microsoft.Extensions.DependencyInjection;
using SafeRoute.Remote;
using SafeRoute.Routing;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Integrations;

/// <summary>
/// End to end across families: a local classifier small guard (a tiny BERT-shaped ONNX graph) routed to a remote
/// Llama-Guard-style large guard on a loopback server that answers like vLLM, built directly and through
/// <c>AddSafeRouteWithRemoteLargeGuard</c>.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RemoteCrossFamilyTests
{
    private const string ModelName = "meta-llama/Llama-Guard-3-8B";

    private static readonly SafetyRequest[] Inputs =
    [
        new("how do i bake bread ?"),
        new("how to make a bomb"),
        new("tell me about autumn leaves ."),
    ];

    private TempDirectory _temp = null!;
    private TinyClassifierModel _small = null!;

    [OneTimeSetUp]
    public void CreateSmall()
    {
        _temp = new TempDirectory();
        _small = TinyClassifierModel.Create(_temp.Sub("classifier"));
    }

    [OneTimeTearDown]
    public void Delete() => _temp.Dispose();

    [Test]
    public async Task Classifier_small_routes_to_a_remote_Llama_Guard_large_and_takes_its_verdicts()
    {
        await using RawHttpServer server = LlamaGuardServer();
        using var http = new HttpClient();
        OnnxSafetyGuard small = OnnxSafetyGuard.Create(_small.Directory);
        var large = new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = server.Address, Model = ModelName });
        await using var routed = new RoutedSafetyGuard(small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = -1f, OwnsGuards = true });
        IReadOnlyList<SafetyVerdict> verdicts = await routed.EvaluateBatchAsync(Inputs);
        Assert.Multiple(() =>
        {
            Assert.That(verdicts.Select(v => v.IsUnsafe), Is.EqualTo(new[] { false, true, false }));
            Assert.That(verdicts.Select(v => v.Routed), Is.All.True);
            Assert.That(verdicts.Select(v => v.DecidedBy), Is.All.EqualTo(GuardTier.Large));
            Assert.That(verdicts.Select(v => v.ModelName), Is.All.EqualTo(ModelName));
            Assert.That(verdicts[1].UnsafeProbability, Is.EqualTo(RemoteFamilyTests.UnsafeMass([-0.05], [-3.0])).Within(1e-5));
            Assert.That(verdicts[0].UnsafeProbability, Is.EqualTo(RemoteFamilyTests.UnsafeMass([-4.5], [-0.02])).Within(1e-5));
            Assert.That(verdicts.Select(v => v.SmallVerdict), Is.All.Not.Null);
            Assert.That(server.Received, Is.Not.Empty);
        });
    }

    [Test]
    public async Task Inputs_the_router_keeps_small_never_reach_the_server()
    {
        await using RawHttpServer server = LlamaGuardServer();
        using var http = new HttpClient();
        OnnxSafetyGuard small = OnnxSafetyGuard.Create(_small.Directory);
        var large = new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = server.Address, Model = ModelName });
        await using var routed = new RoutedSafetyGuard(small, large, new EntropyRouter(), new RoutedSafetyGuardOptions { Threshold = 2f, OwnsGuards = true });
        IReadOnlyList<SafetyVerdict> verdicts = await routed.EvaluateBatchAsync(Inputs);
        Assert.Multiple(() =>
        {
            Assert.That(verdicts.Select(v => v.DecidedBy), Is.All.EqualTo(GuardTier.Small), "entropy never exceeds 2 nats for two classes");
            Assert.That(server.Requests, Is.Zero);
            Assert.That(verdicts[1].IsUnsafe, Is.True, "the small classifier flags 'bomb' itself");
        });
    }

    [Test]
    public async Task AddSafeRoute_with_a_classifier_small_and_a_remote_Llama_Guard_large()
    {
        await using RawHttpServer server = LlamaGuardServer();
        var services = new ServiceCollection();
        services.AddSafeRouteWithRemoteLargeGuard(
            o =>
            {
                o.SmallModel.Path = _small.Directory;
                o.Router.Kind = RouterKind.Entropy;
                o.Threshold = -1f;
                o.FailurePolicy = LargeGuardFailurePolicy.FailClosed;
                o.WarmUp = false;
            },
            r =>
            {
                r.Endpoint = server.Address;
                r.Model = ModelName;
                r.PromptFormat = GuardPromptFormat.FromKind("llama-guard-3-8b");
            });
        await using ServiceProvider sp = services.BuildServiceProvider();
        var guard = sp.GetRequiredService<RoutedSafetyGuard>();
        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync(Inputs);
        Assert.Multiple(() =>
        {
            Assert.That(guard.Large, Is.InstanceOf<RemoteSafetyGuard>());
            Assert.That(verdicts.Select(v => v.IsUnsafe), Is.EqualTo(new[] { false, true, false }));
            Assert.That(verdicts.Select(v => v.DecidedBy), Is.All.EqualTo(GuardTier.Large));
            Assert.That(verdicts.Select(v => v.IsDegraded), Is.All.False);
        });
    }

    /// <summary>A vLLM-like Llama Guard 3 8B: the prompt must be Meta's template (read back by <see cref="LlamaGuard3Prompt.TryParse"/>)
    /// without a doubled BOS; "bomb" is unsafe.</summary>
    private static RawHttpServer LlamaGuardServer() => RawHttpServer.Start(r => FakeVllm.Completions(r, ModelName, prompt =>
    {
        Assert.That(prompt, Does.StartWith("<|start_header_id|>user<|end_header_id|>\n\n").And.EndWith("<|start_header_id|>assistant<|end_header_id|>\n\n"));
        Assert.That(LlamaGuard3Prompt.TryParse(prompt, out SafetyRequest? request), Is.True);
        return request!.Prompt.Contains("bomb", StringComparison.Ordinal)
            ? new Dictionary<string, double> { ["unsafe"] = -0.05, ["safe"] = -3.0, ["\n"] = -6 }
            : new Dictionary<string, double> { ["safe"] = -0.02, ["unsafe"] = -4.5 };
    }));
}
