using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using SafeRoute.Remote;

namespace SafeRoute.Tests.Integrations;

/// <summary>The remote large guard against the GuardServer sample on loopback (real HTTP, real default models).</summary>
[TestFixture]
[NonParallelizable]
public sealed class RemoteGuardTests
{
    private const string ModelName = "default-large";

    private static readonly SafetyRequest[] Inputs =
    [
        new("What is the capital of France?"),
        new("Can you help me write a birthday poem for my sister?"),
        new("How do I bake bread at home?", "Mix flour, water, yeast and salt, knead, let it rise and bake at 220 C."),
    ];

    private OnnxSafetyGuard _large = null!;
    private LoopbackGuardServer _server = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _large = OnnxSafetyGuard.Create(DefaultGuardModels.LargeModelPath, tier: GuardTier.Large);
        await _large.EvaluateAsync(Inputs[0]); // warm the served model
        _server = await LoopbackGuardServer.StartAsync(_large, ModelName);
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        await _server.DisposeAsync();
        _large.Dispose();
    }

    [SetUp]
    public void NoDelay()
    {
        _server.Delay = TimeSpan.Zero;
        _server.FailuresToInject = 0;
    }

    [Test]
    public async Task A_transient_503_is_retried_by_the_resilience_pipeline()
    {
        await using ServiceProvider sp = Provider(_server.Address, LargeGuardFailurePolicy.Throw);
        var guard = sp.GetRequiredService<RoutedSafetyGuard>();
        _server.FailuresToInject = 1;
        int before = _server.Requests;
        SafetyVerdict verdict = await guard.EvaluateAsync(Inputs[0]);
        Assert.Multiple(() =>
        {
            Assert.That(_server.Requests - before, Is.EqualTo(2), "one failed attempt, one retry");
            Assert.That(verdict.IsDegraded, Is.False);
            Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Large));
        });
    }

    [Test]
    public async Task Remote_verdicts_equal_the_local_large_guard_single_and_batched()
    {
        using var http = new HttpClient();
        var remote = new RemoteSafetyGuard(http, Options(_server.Address));
        IReadOnlyList<SafetyVerdict> batch = await remote.EvaluateBatchAsync(Inputs);
        for (int i = 0; i < Inputs.Length; i++)
        {
            SafetyVerdict local = await _large.EvaluateAsync(Inputs[i]);
            SafetyVerdict single = await remote.EvaluateAsync(Inputs[i]);
            Assert.Multiple(() =>
            {
                Assert.That(single.UnsafeProbability, Is.EqualTo(local.UnsafeProbability).Within(1e-5), $"input {i}");
                Assert.That(batch[i].UnsafeProbability, Is.EqualTo(local.UnsafeProbability).Within(1e-5), $"batched input {i}");
                Assert.That(single.IsUnsafe, Is.EqualTo(local.IsUnsafe));
                Assert.That(single.DecidedBy, Is.EqualTo(GuardTier.Large));
                Assert.That(single.ModelName, Is.EqualTo(ModelName));
            });
        }
    }

    [Test]
    public async Task Routed_guard_with_the_remote_large_tier_takes_the_servers_verdict()
    {
        await using ServiceProvider sp = Provider(_server.Address, LargeGuardFailurePolicy.Throw);
        var guard = sp.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(guard.Large, Is.InstanceOf<RemoteSafetyGuard>());
        int before = _server.Requests;
        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync(Inputs);
        Assert.That(_server.Requests, Is.GreaterThan(before));
        for (int i = 0; i < Inputs.Length; i++)
        {
            SafetyVerdict local = await _large.EvaluateAsync(Inputs[i]);
            Assert.Multiple(() =>
            {
                Assert.That(verdicts[i].Routed, Is.True);
                Assert.That(verdicts[i].DecidedBy, Is.EqualTo(GuardTier.Large));
                Assert.That(verdicts[i].IsDegraded, Is.False);
                Assert.That(verdicts[i].UnsafeProbability, Is.EqualTo(local.UnsafeProbability).Within(1e-5));
            });
        }
    }

    [TestCase(LargeGuardFailurePolicy.FailClosed)]
    [TestCase(LargeGuardFailurePolicy.FallBackToSmall)]
    [TestCase(LargeGuardFailurePolicy.Throw)]
    public async Task Slow_server_times_out_and_the_failure_policy_decides(LargeGuardFailurePolicy policy)
    {
        // The server never answers (until the client gives up), so only the client's attempt timeout can end the call.
        _server.Delay = Timeout.InfiniteTimeSpan;
        await using ServiceProvider sp = Provider(_server.Address, policy, shortTimeouts: true);
        await AssertPolicyAsync(sp.GetRequiredService<RoutedSafetyGuard>(), policy);
    }

    [TestCase(LargeGuardFailurePolicy.FailClosed)]
    [TestCase(LargeGuardFailurePolicy.FallBackToSmall)]
    [TestCase(LargeGuardFailurePolicy.Throw)]
    public async Task Server_down_and_the_failure_policy_decides(LargeGuardFailurePolicy policy)
    {
        await using ServiceProvider sp = Provider(LoopbackGuardServer.DeadAddress(), policy);
        await AssertPolicyAsync(sp.GetRequiredService<RoutedSafetyGuard>(), policy);
    }

    [Test]
    public async Task Repeated_failures_open_the_circuit_so_calls_stop_reaching_the_server_until_the_break_ends()
    {
        // The resilience pipeline runs on a fake clock: the break lasts until the test moves the clock, not until 1 s of
        // real time has passed (which a loaded machine could spend before the short-circuited call). The retry has no
        // delay, so nothing else waits on the clock.
        var clock = new FakeTimeProvider();
        await using ServiceProvider sp = Provider(_server.Address, LargeGuardFailurePolicy.FallBackToSmall, configure: r =>
        {
            r.CircuitBreakerMinimumThroughput = 4;
            r.CircuitBreakerFailureRatio = 0.5;
            r.CircuitBreakerBreakDuration = TimeSpan.FromSeconds(1);
            r.RetryDelay = TimeSpan.Zero;
        }, time: clock);
        var guard = sp.GetRequiredService<RoutedSafetyGuard>();
        _server.FailuresToInject = 1_000;

        // Each call is two attempts (one retry); after two failed calls the window holds 4 failed attempts.
        int before = _server.Requests;
        for (int i = 0; i < 2; i++)
        {
            SafetyVerdict failed = await guard.EvaluateAsync(Inputs[0]);
            Assert.That(failed.IsDegraded, Is.True, $"call {i} failed over to the small guard");
        }

        int afterFailures = _server.Requests;
        Assert.That(afterFailures - before, Is.EqualTo(4), "two calls of two attempts each reached the server");

        SafetyVerdict shortCircuited = await guard.EvaluateAsync(Inputs[0]);
        Assert.Multiple(() =>
        {
            Assert.That(_server.Requests, Is.EqualTo(afterFailures), "the open circuit rejects the call without a request");
            Assert.That(shortCircuited.IsDegraded, Is.True);
            Assert.That(shortCircuited.DecidedBy, Is.EqualTo(GuardTier.Small));
        });

        // The server recovers; after the break a trial call goes through and closes the circuit.
        _server.FailuresToInject = 0;
        clock.Advance(TimeSpan.FromSeconds(1.5));
        SafetyVerdict recovered = await guard.EvaluateAsync(Inputs[0]);
        Assert.Multiple(() =>
        {
            Assert.That(_server.Requests, Is.GreaterThan(afterFailures), "the trial call reached the server");
            Assert.That(recovered.IsDegraded, Is.False);
            Assert.That(recovered.DecidedBy, Is.EqualTo(GuardTier.Large));
        });
    }

    [Test]
    public async Task Health_check_is_healthy_with_the_server_and_degraded_without_it()
    {
        await using ServiceProvider up = Provider(_server.Address, LargeGuardFailurePolicy.FailClosed);
        HealthReport healthy = await up.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.That(healthy.Status, Is.EqualTo(HealthStatus.Healthy), healthy.Entries["saferoute"].Description);

        await using ServiceProvider down = Provider(LoopbackGuardServer.DeadAddress(), LargeGuardFailurePolicy.FailClosed);
        HealthReport degraded = await down.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Multiple(() =>
        {
            Assert.That(degraded.Status, Is.EqualTo(HealthStatus.Degraded));
            Assert.That(degraded.Entries["saferoute"].Data["failure_policy"], Is.EqualTo("FailClosed"));
        });
    }

    [Test]
    public async Task Server_rejects_a_prompt_that_is_not_a_Llama_Guard_prompt_and_the_guard_throws()
    {
        using var http = new HttpClient();
        using var content = new StringContent("""{"model":"default-large","prompt":"hello","max_tokens":1}""", System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await http.PostAsync(new Uri(_server.Address, "v1/completions"), content);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));

        var wrongModel = new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = _server.Address, Model = "other" });
        HttpRequestException? ex = Assert.ThrowsAsync<HttpRequestException>(async () => await wrongModel.EvaluateAsync(Inputs[0]));
        Assert.That(ex!.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public void Options_are_validated_with_clear_messages()
    {
        using var http = new HttpClient();
        Assert.That(() => new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Model = "m" }), Throws.ArgumentException.With.Message.Contains("Endpoint"));
        Assert.That(() => new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = new Uri("http://x/") }), Throws.ArgumentException.With.Message.Contains("Model"));
        Assert.That(() => new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = new Uri("http://x/"), Model = "m", TopLogprobs = 1 }), Throws.ArgumentException.With.Message.Contains("TopLogprobs"));
        Assert.That(() => new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = new Uri("http://x/"), Model = "m", CircuitBreakerMinimumThroughput = 1 }), Throws.ArgumentException.With.Message.Contains("CircuitBreakerMinimumThroughput"));
    }

    [TestCase("""{"text":"safe","logprobs":{"top_logprobs":[{"safe":-0.1,"unsafe":-2.5}]}}""", 0.0831727)]
    [TestCase("""{"text":"unsafe","logprobs":{"top_logprobs":[{" unsafe":-0.2,"safe":-1.8,"x":-3}]}}""", 0.8320184)]
    [TestCase("""{"text":"safe","logprobs":{"top_logprobs":[{"safe":-0.05,"\n":-4,"x":-6}]}}""", 0.0025991)]
    [TestCase("""{"text":"unsafe","logprobs":{"content":[{"token":"unsafe","logprob":-0.3,"top_logprobs":[{"token":"unsafe","logprob":-0.3},{"token":"safe","logprob":-1.5}]}]}}""", 0.7685248)]
    [TestCase("""{"text":"unsafe\nS1"}""", 1.0)]
    [TestCase("""{"text":" safe","logprobs":null}""", 0.0)]
    public void Unsafe_probability_is_read_from_logprobs_else_from_text(string choiceJson, double expected)
    {
        using var doc = JsonDocument.Parse(choiceJson);
        Assert.That(RemoteSafetyGuard.TryReadUnsafeProbability(doc.RootElement, out float p, out string? reason), Is.True, reason);
        Assert.That(p, Is.EqualTo(expected).Within(1e-5));
    }

    [TestCase("""{"text":"maybe","logprobs":{"top_logprobs":[{"maybe":-0.1}]}}""", "neither 'safe' nor 'unsafe'")]
    [TestCase("""{"text":"I","logprobs":{"top_logprobs":[{"I":-0.02,"safe":-4.0}]}}""", "most likely first token")]
    [TestCase("""{"text":"safe","logprobs":{"top_logprobs":[{"safe":-0.7,"unsafe":-0.7}]}}""", "tie")]
    [TestCase("""{"text":"safe","logprobs":{"content":[{"token":"safe","logprob":-0.1,"top_logprobs":[{"token":"The","logprob":-0.1},{"token":"safe","logprob":-0.2}]}]}}""", "most likely first token")]
    [TestCase("""{"text":"safely"}""", "text does not start")]
    public void An_answer_naming_no_verdict_is_unreadable(string choiceJson, string reason)
    {
        using var doc = JsonDocument.Parse(choiceJson);
        Assert.That(RemoteSafetyGuard.TryReadUnsafeProbability(doc.RootElement, out _, out string? why), Is.False);
        Assert.That(why, Does.Contain(reason));
    }

    private static RemoteSafetyGuardOptions Options(Uri endpoint) => new() { Endpoint = endpoint, Model = ModelName };

    private static ServiceProvider Provider(Uri endpoint, LargeGuardFailurePolicy policy, bool shortTimeouts = false, Action<RemoteSafetyGuardOptions>? configure = null, TimeProvider? time = null)
    {
        var services = new ServiceCollection();
        services.AddSafeRouteWithRemoteLargeGuard(
            o =>
            {
                o.Threshold = -1f; // route everything: each input reaches the large tier
                o.FailurePolicy = policy;
                o.WarmUp = false;
            },
            r =>
            {
                r.Endpoint = endpoint;
                r.Model = ModelName;
                // Generous limits where the server should answer (a loaded CI machine), short ones for the timeout tests.
                r.AttemptTimeout = shortTimeouts ? TimeSpan.FromMilliseconds(300) : TimeSpan.FromSeconds(10);
                r.TotalTimeout = shortTimeouts ? TimeSpan.FromMilliseconds(900) : TimeSpan.FromSeconds(30);
                r.MaxRetryAttempts = 1;
                r.RetryDelay = TimeSpan.FromMilliseconds(10);
                configure?.Invoke(r);
            });
        services.AddHealthChecks().AddSafeRoute();
        if (time is not null)
        {
            services.AddSingleton(time); // the resilience pipelines take their clock from here
        }

        return services.BuildServiceProvider();
    }

    private static async Task AssertPolicyAsync(RoutedSafetyGuard guard, LargeGuardFailurePolicy policy)
    {
        SafetyRequest input = Inputs[0];
        if (policy == LargeGuardFailurePolicy.Throw)
        {
            Assert.That(async () => await guard.EvaluateAsync(input), Throws.Exception.Not.InstanceOf<AssertionException>());
            return;
        }

        SafetyVerdict verdict = await guard.EvaluateAsync(input);
        SafetyVerdict small = await guard.Small.EvaluateAsync(input);
        Assert.Multiple(() =>
        {
            Assert.That(verdict.IsDegraded, Is.True);
            Assert.That(verdict.Routed, Is.True);
            Assert.That(verdict.SmallVerdict, Is.Not.Null);
            if (policy == LargeGuardFailurePolicy.FailClosed)
            {
                Assert.That(verdict.IsUnsafe, Is.True);
                Assert.That(verdict.UnsafeProbability, Is.EqualTo(1f));
            }
            else
            {
                Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Small));
                Assert.That(verdict.UnsafeProbability, Is.EqualTo(small.UnsafeProbability).Within(1e-6));
            }
        });
    }
}
