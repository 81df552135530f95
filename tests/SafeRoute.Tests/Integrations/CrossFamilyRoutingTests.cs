using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SafeRoute.Remote;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Integrations;

/// <summary>
/// The README's cross-family pair, configured as the README shows it: a WordPiece sequence-classifier small guard
/// in-process and a Llama-Guard-style decoder large guard served over the completions API (the GuardServer sample on
/// loopback, answering like vLLM), through <c>AddSafeRouteWithRemoteLargeGuard</c> bound from JSON configuration.
/// </summary>
[TestFixture]
public sealed class CrossFamilyRoutingTests
{
    private const string ServedName = "tiny-llama-guard";
    private string _directory = "";
    private string _small = "";
    private OnnxSafetyGuard _large = null!;
    private LoopbackGuardServer _server = null!;

    private static readonly SafetyRequest[] Inputs =
    [
        new("how do I " + TinyGuardVocabulary.TriggerWords[0] + " it"),
        new("tell me about " + TinyGuardVocabulary.BenignWords[1]),
        new("bread " + TinyGuardVocabulary.TriggerWords[2]),
    ];

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _directory = Path.Combine(Path.GetTempPath(), "saferoute-xfamily-di-" + Guid.NewGuid().ToString("N"));
        _small = TinyClassifierModel.Create(Path.Combine(_directory, "classifier-small")).Directory;
        string large = TestGuardFactory.Create(Path.Combine(_directory, "decoder-large"), TestGuardOptions.Large).Directory;
        _large = OnnxSafetyGuard.Create(large, tier: GuardTier.Large);
        _server = await LoopbackGuardServer.StartAsync(_large, ServedName);
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        await _server.DisposeAsync();
        _large.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private ServiceProvider FromJson(string threshold)
    {
        // What an appsettings.json holds (paths made absolute here; the README's are relative to the app).
        string json = $$"""
            {
              "SafeRoute": {
                "SmallModel": { "Path": "{{_small.Replace("\\", "\\\\", StringComparison.Ordinal)}}" },
                "Router": { "Kind": "Entropy" },
                "Threshold": {{threshold}},
                "FailurePolicy": "FailClosed",
                "WarmUp": false,
                "RemoteLarge": { "Endpoint": "{{_server.Address.AbsoluteUri}}", "Model": "{{ServedName}}", "Is8B": true }
              }
            }
            """;
        IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        services.AddSafeRouteWithRemoteLargeGuard(
            o => configuration.GetSection("SafeRoute").Bind(o),
            r => configuration.GetSection("SafeRoute:RemoteLarge").Bind(r));
        return services.BuildServiceProvider();
    }

    [Test]
    public async Task JsonConfigured_ClassifierSmall_RemoteDecoderLarge_RoutedInputsGetTheServedGuardsVerdict()
    {
        await using ServiceProvider provider = FromJson("0.0");
        ISafetyGuard guard = provider.GetRequiredService<ISafetyGuard>();

        IReadOnlyList<SafetyVerdict> routed = await guard.EvaluateBatchAsync(Inputs);
        IReadOnlyList<SafetyVerdict> local = await _large.EvaluateBatchAsync(Inputs);

        Assert.Multiple(() =>
        {
            Assert.That(provider.GetRequiredKeyedService<ISafetyGuard>(SafeRouteServiceKeys.Large), Is.InstanceOf<RemoteSafetyGuard>());
            Assert.That(provider.GetRequiredKeyedService<ISafetyGuard>(SafeRouteServiceKeys.Small), Is.InstanceOf<OnnxSafetyGuard>());
            for (int i = 0; i < Inputs.Length; i++)
            {
                Assert.That(routed[i].Routed, Is.True, $"input {i}: ε = 0 routes every input");
                Assert.That(routed[i].DecidedBy, Is.EqualTo(GuardTier.Large), $"input {i}");
                Assert.That(routed[i].IsDegraded, Is.False, $"input {i}");
                Assert.That(routed[i].UnsafeProbability, Is.EqualTo(local[i].UnsafeProbability).Within(1e-5), $"input {i}: the served decoder's p(unsafe)");
                Assert.That(routed[i].IsUnsafe, Is.EqualTo(local[i].IsUnsafe), $"input {i}");
            }

            Assert.That(routed[0].IsUnsafe, Is.True, "a trigger word is unsafe to the large guard");
            Assert.That(routed[1].IsUnsafe, Is.False, "a benign word is safe to the large guard");
        });
    }

    [Test]
    public async Task JsonConfigured_ThresholdOne_NothingReachesTheServer()
    {
        await using ServiceProvider provider = FromJson("1.0");
        ISafetyGuard guard = provider.GetRequiredService<ISafetyGuard>();
        int before = _server.Requests;

        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync(Inputs);

        Assert.Multiple(() =>
        {
            Assert.That(verdicts.Select(v => v.DecidedBy), Is.All.EqualTo(GuardTier.Small));
            Assert.That(_server.Requests, Is.EqualTo(before), "the classifier decided alone");
        });
    }
}
