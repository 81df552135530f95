using SafeRoute.GuardServer;
using SafeRoute.Remote;
using SafeRoute.Tests.Guards;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Integrations;

/// <summary>The GuardServer sample serving a local model folder in the protocol that matches it, called in-process through
/// the remote guard: a classifier on /classify and /predict, a Qwen3Guard-style decoder on /v1/completions.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GuardServerFamilyTests
{
    private static readonly SafetyRequest[] Inputs =
    [
        new("how do i bake bread ?"),
        new("how to make a bomb"),
        new("tell me about autumn leaves .", "sure , here it is ."),
    ];

    [Test]
    public async Task A_classifier_folder_served_on_classify_and_predict_gives_the_local_probabilities()
    {
        using var temp = new TempDirectory();
        TinyClassifierModel model = TinyClassifierModel.Create(temp.Sub("classifier"));
        using OnnxSafetyGuard local = OnnxSafetyGuard.Create(model.Directory, tier: GuardTier.Large);
        await using LoopbackGuardServer server = await LoopbackGuardServer.StartAsync(app => GuardServerEndpoints.MapClassifier(app, local, "tiny-classifier"));
        using var http = new HttpClient();
        var vllm = new RemoteSafetyGuard(http, Options(server.Address, RemoteGuardProtocol.VllmClassify));
        var tei = new RemoteSafetyGuard(http, Options(server.Address, RemoteGuardProtocol.TeiPredict));
        IReadOnlyList<SafetyVerdict> viaVllm = await vllm.EvaluateBatchAsync(Inputs[..2]);
        IReadOnlyList<SafetyVerdict> viaTei = await tei.EvaluateBatchAsync(Inputs);
        for (int i = 0; i < Inputs.Length; i++)
        {
            SafetyVerdict expected = await local.EvaluateAsync(Inputs[i]);
            Assert.Multiple(() =>
            {
                Assert.That(viaTei[i].UnsafeProbability, Is.EqualTo(expected.UnsafeProbability).Within(1e-6), $"TEI input {i}");
                Assert.That(viaTei[i].IsUnsafe, Is.EqualTo(expected.IsUnsafe));
                if (i < 2)
                {
                    Assert.That(viaVllm[i].UnsafeProbability, Is.EqualTo(expected.UnsafeProbability).Within(1e-6), $"vLLM input {i}");
                }
            });
        }

        Assert.That(viaVllm[1].IsUnsafe, Is.True);
    }

    [Test]
    public async Task A_Qwen3Guard_folder_served_on_completions_gives_the_local_probabilities()
    {
        using var temp = new TempDirectory();
        string folder = Qwen3GuardTests.WriteFolder(temp.Sub("qwen3"));
        using OnnxSafetyGuard local = OnnxSafetyGuard.Create(folder, tier: GuardTier.Large);
        GuardPromptFormat format = GuardPromptFormat.FromModelFolder(folder);
        Assert.That(format.Kind, Is.EqualTo("qwen3guard-gen"));
        await using LoopbackGuardServer server = await LoopbackGuardServer.StartAsync(app => GuardServerEndpoints.MapDecoder(app, local, "tiny-qwen3guard", format));
        using var http = new HttpClient();
        var remote = new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = server.Address, Model = "tiny-qwen3guard", PromptFormat = format });
        IReadOnlyList<SafetyVerdict> verdicts = await remote.EvaluateBatchAsync(Inputs);
        for (int i = 0; i < Inputs.Length; i++)
        {
            SafetyVerdict expected = await local.EvaluateAsync(Inputs[i]);
            Assert.That(verdicts[i].UnsafeProbability, Is.EqualTo(expected.UnsafeProbability).Within(1e-5), $"input {i}");
        }
    }

    private static RemoteSafetyGuardOptions Options(Uri endpoint, RemoteGuardProtocol protocol) => new()
    {
        Endpoint = endpoint,
        Model = "tiny-classifier",
        Protocol = protocol,
        ClassifierLabels = [.. GuardServerEndpoints.ClassifierLabels],
        UnsafeLabels = ["unsafe"],
    };
}
