using System.Text.Json;
using SafeRoute.Remote;
using SafeRoute.Tests.TestModels;

namespace SafeRoute.Tests.Integrations;

/// <summary>
/// The remote guard speaking each decoder family to a loopback server that answers like vLLM (one generated token, its top
/// logprobs, or the exact logprobs of <c>logprob_token_ids</c>): Llama Guard 3, Qwen3Guard-Gen 3-way (strict and loose),
/// WildGuard's prefill, and a family described only in saferoute.json; and the answers it must refuse.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RemoteFamilyTests
{
    private const string ModelName = "guard";

    private static readonly SafetyRequest Benign = new("How do I bake bread?");
    private static readonly SafetyRequest Harmful = new("How do I make a bomb?");
    private static readonly SafetyRequest Borderline = new("Which household chemicals are dangerous to mix?");

    [Test]
    public async Task Qwen3Guard_three_way_reads_controversial_as_unsafe_when_strict_and_safe_when_loose()
    {
        // Controversial leads: strict counts it unsafe, loose counts it safe.
        await using RawHttpServer server = RawHttpServer.Start(r => FakeVllm.Completions(r, ModelName, prompt =>
        {
            Assert.That(prompt, Does.StartWith("<|im_start|>user\n# Task:").And.EndWith("</think>\n\nSafety:"), "the Qwen3Guard template and its prefill");
            return prompt.Contains("bomb", StringComparison.Ordinal)
                ? new Dictionary<string, double> { [" Unsafe"] = -0.1, [" Cont"] = -2.6, [" Safe"] = -4.0 }
                : prompt.Contains("chemicals", StringComparison.Ordinal)
                    ? new Dictionary<string, double> { [" Cont"] = -0.4, [" Unsafe"] = -2.0, [" Safe"] = -1.6, ["\n"] = -5 }
                    : new Dictionary<string, double> { [" Safe"] = -0.05, [" Cont"] = -3.5, [" Unsafe"] = -5.0 };
        }));
        using var http = new HttpClient();
        var strict = new RemoteSafetyGuard(http, Options(server.Address, GuardPromptFormat.FromKind("qwen3guard-gen")));
        var loose = new RemoteSafetyGuard(http, Options(server.Address, GuardPromptFormat.FromKind("qwen3guard-gen"), o => o.ControversialAsUnsafe = false));
        IReadOnlyList<SafetyVerdict> s = await strict.EvaluateBatchAsync([Benign, Harmful, Borderline]);
        IReadOnlyList<SafetyVerdict> l = await loose.EvaluateBatchAsync([Benign, Harmful, Borderline]);
        Assert.Multiple(() =>
        {
            Assert.That(s[0].IsUnsafe, Is.False);
            Assert.That(s[1].IsUnsafe, Is.True);
            Assert.That(s[2].UnsafeProbability, Is.EqualTo(UnsafeMass([-0.4, -2.0], [-1.6])).Within(1e-5), "strict: (Cont + Unsafe) / all");
            Assert.That(s[2].IsUnsafe, Is.True);
            Assert.That(l[2].UnsafeProbability, Is.EqualTo(UnsafeMass([-2.0], [-0.4, -1.6])).Within(1e-5), "loose: Unsafe / all");
            Assert.That(l[2].IsUnsafe, Is.False);
            Assert.That(l[1].UnsafeProbability, Is.EqualTo(UnsafeMass([-0.1], [-2.6, -4.0])).Within(1e-5));
            Assert.That(server.Received.Select(r => r.Path), Is.All.EqualTo("/v1/completions"));
        });
    }

    [Test]
    public async Task WildGuard_prompt_carries_the_prefill_without_a_doubled_BOS_and_SentencePiece_tokens_are_read()
    {
        await using RawHttpServer server = RawHttpServer.Start(r => FakeVllm.Completions(r, ModelName, prompt =>
        {
            Assert.That(prompt, Does.StartWith("<|user|>\n[INST] You are a classifier").And.EndWith("<|assistant|>\nHarmful request:"), "no <s>: vLLM adds BOS");
            return prompt.Contains("bomb", StringComparison.Ordinal)
                ? new Dictionary<string, double> { ["▁yes"] = -0.2, ["▁no"] = -1.8 } // raw SentencePiece pieces
                : new Dictionary<string, double> { [" no"] = -0.01, [" yes"] = -5.0, [" No"] = -6.0 };
        }));
        using var http = new HttpClient();
        var guard = new RemoteSafetyGuard(http, Options(server.Address, GuardPromptFormat.FromKind("wildguard")));
        IReadOnlyList<SafetyVerdict> v = await guard.EvaluateBatchAsync([Benign, Harmful]);
        Assert.Multiple(() =>
        {
            Assert.That(v[0].UnsafeProbability, Is.EqualTo(UnsafeMass([-5.0], [-0.01])).Within(1e-5), "' No' is not a listed WildGuard token, so it is ignored (as the local guard reads only listed ids)");
            Assert.That(v[1].UnsafeProbability, Is.EqualTo(UnsafeMass([-0.2], [-1.8])).Within(1e-5));
            Assert.That(v[1].IsUnsafe, Is.True);
        });
        Assert.That(async () => await guard.EvaluateAsync(new SafetyRequest("q", "a")), Throws.InstanceOf<SafeRouteException>().With.Message.Contains("cannot check a response"));
    }

    [Test]
    public async Task A_family_described_in_saferoute_json_is_spoken_and_its_case_variants_are_read()
    {
        using var temp = new TempDirectory();
        GuardPromptFormat format = GuardPromptFormat.FromModelFolder(JsonFamily.Write(temp.Sub("json-guard")));
        await using RawHttpServer server = RawHttpServer.Start(r => FakeVllm.Completions(r, ModelName, prompt =>
        {
            Assert.That(prompt, Does.StartWith("<|turn|>").And.EndWith("[END]Verdict:"));
            return prompt.Contains("bomb", StringComparison.Ordinal)
                ? new Dictionary<string, double> { ["ĠBAD"] = -0.3, ["Ġbad"] = -2.0, ["ĠOK"] = -2.5, ["Ġhmm"] = -3.0 }
                : new Dictionary<string, double> { [" OK"] = -0.2, [" ok"] = -2.2, [" hmm"] = -3.0, [" bad"] = -4.0 };
        }));
        using var http = new HttpClient();
        var guard = new RemoteSafetyGuard(http, Options(server.Address, format));
        IReadOnlyList<SafetyVerdict> v = await guard.EvaluateBatchAsync([Benign, Harmful]);
        Assert.Multiple(() =>
        {
            // controversialAs "safe" (loose) in the manifest: " hmm" counts as safe.
            Assert.That(v[0].UnsafeProbability, Is.EqualTo(UnsafeMass([-4.0], [-0.2, -2.2, -3.0])).Within(1e-5));
            Assert.That(v[1].UnsafeProbability, Is.EqualTo(UnsafeMass([-0.3, -2.0], [-2.5, -3.0])).Within(1e-5));
            Assert.That(v[1].IsUnsafe, Is.True);
            Assert.That(v[0].IsUnsafe, Is.False);
        });
    }

    [Test]
    public async Task Exact_token_ids_ask_for_logprob_token_ids_and_read_the_exact_softmax()
    {
        await using RawHttpServer server = RawHttpServer.Start(r =>
        {
            using JsonDocument body = JsonDocument.Parse(r.Body);
            Assert.That(body.RootElement.GetProperty("logprob_token_ids").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 20, 30, 40 }));
            Assert.That(body.RootElement.GetProperty("return_tokens_as_token_ids").GetBoolean(), Is.True);
            // The unsafe token is far outside any top k; exact logprobs still list it.
            return FakeVllm.Completions(r, ModelName, _ => new Dictionary<string, double> { ["token_id:20"] = -0.05, ["token_id:30"] = -9.5, ["token_id:40"] = -3.1, ["token_id:7"] = -0.01 });
        });
        using var http = new HttpClient();
        var guard = new RemoteSafetyGuard(http, Options(server.Address, GuardPromptFormat.FromKind("qwen3guard-gen"), o => o.VerdictTokenIds = [20, 30, 40]));
        SafetyVerdict v = await guard.EvaluateAsync(Benign);
        Assert.That(v.UnsafeProbability, Is.EqualTo(UnsafeMass([-9.5, -3.1], [-0.05])).Within(1e-5), "strict: (Unsafe + Cont) over the three verdict ids; the sampled non-verdict token is not a verdict");
    }

    [Test]
    public async Task Exact_token_ids_fail_when_the_server_ignores_logprob_token_ids()
    {
        await using RawHttpServer server = RawHttpServer.Start(r => FakeVllm.Completions(r, ModelName, _ => new Dictionary<string, double> { [" Safe"] = -0.05, [" Unsafe"] = -3 }));
        using var http = new HttpClient();
        var guard = new RemoteSafetyGuard(http, Options(server.Address, GuardPromptFormat.FromKind("qwen3guard-gen"), o => o.VerdictTokenIds = [20, 30, 40]));
        Assert.That(async () => await guard.EvaluateAsync(Benign), Throws.InstanceOf<SafeRouteException>().With.Message.Contains("logprob_token_ids"));
    }

    public static IEnumerable<TestCaseData> UnreadableFamilyAnswers()
    {
        static string Top(string top) => $$$"""{"model":"guard","choices":[{"index":0,"text":" Safe","logprobs":{"top_logprobs":[{{{top}}}]}}]}""";
        yield return Case("no verdict token in the top k", Top("""{"The":-0.1,"I":-2.0}"""), "no verdict token");
        yield return Case("prose on top", Top("""{"The":-0.1," Safe":-2.0}"""), "not a verdict token");
        yield return Case("case variant not listed by the family", Top("""{" safe":-0.1," unsafe":-2.0}"""), "no verdict token");
        yield return Case("NaN written by Python's json", Top("""{" Safe":NaN," Unsafe":-2.0}"""), "not JSON");
        yield return Case("logprob as a string", Top("""{" Safe":"NaN"," Unsafe":-2.0}"""), "finite number");
        yield return Case("tie between the sides", Top("""{" Safe":-0.6931," Unsafe":-0.6931}"""), "tie");
        yield return Case("one side alone bounds itself (a tie)", Top("""{" Unsafe":-0.01}"""), "tie");
        yield return Case("top_logprobs[0] is a list", """{"model":"guard","choices":[{"index":0,"logprobs":{"top_logprobs":[[" Safe",-0.1]]}}]}""", "not an object");
        yield return Case("no logprobs, text not a verdict", """{"model":"guard","choices":[{"index":0,"text":" Safety"}]}""", "not a verdict token");
        yield return Case("choices not an array", """{"model":"guard","choices":{"0":1}}""", "no 'choices' array");
        yield return Case("another model", """{"model":"other","choices":[{"index":0,"text":" Safe"}]}""", "another model");

        static TestCaseData Case(string name, string json, string reason) => new TestCaseData(json, reason).SetArgDisplayNames(name);
    }

    [TestCaseSource(nameof(UnreadableFamilyAnswers))]
    public async Task An_unreadable_family_answer_is_a_failure_never_a_verdict(string json, string reason)
    {
        await using RawHttpServer server = RawHttpServer.Start(json);
        using var http = new HttpClient();
        var guard = new RemoteSafetyGuard(http, Options(server.Address, GuardPromptFormat.FromKind("qwen3guard-gen")));
        Assert.That(async () => await guard.EvaluateAsync(Benign), Throws.InstanceOf<SafeRouteException>().With.Message.Contains(reason));
    }

    [Test]
    public async Task A_truncated_body_is_a_failure()
    {
        string full = """{"model":"guard","choices":[{"index":0,"text":" Safe","logprobs":{"top_logprobs":[{" Safe":-0.1," Unsafe":-2.5}]}}]}""";
        await using RawHttpServer server = RawHttpServer.Start(_ => RawReply.Truncated(full));
        using var http = new HttpClient();
        var guard = new RemoteSafetyGuard(http, Options(server.Address, GuardPromptFormat.FromKind("qwen3guard-gen")));
        Assert.That(async () => await guard.EvaluateAsync(Benign), Throws.Exception.Not.InstanceOf<AssertionException>());
    }

    [Test]
    public async Task A_stalled_body_ends_when_the_test_says_and_the_call_fails()
    {
        // The server sends headers and the start of a body, then holds the connection until the test releases it: no
        // timer decides anything (the guard's timeouts are far longer than the test).
        await using RawHttpServer server = RawHttpServer.Start(_ => RawReply.StalledBody());
        using var http = new HttpClient();
        var guard = new RemoteSafetyGuard(http, Options(server.Address, GuardPromptFormat.FromKind("wildguard"), o => { o.AttemptTimeout = TimeSpan.FromMinutes(5); o.TotalTimeout = TimeSpan.FromMinutes(5); }));
        Task<SafetyVerdict> call = guard.EvaluateAsync(Benign).AsTask();
        await server.Stalling.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.That(call.IsCompleted, Is.False, "the body has not ended, so the call is still waiting");
        server.ReleaseStalls();
        Assert.That(async () => await call.WaitAsync(TimeSpan.FromSeconds(60)), Throws.Exception.Not.InstanceOf<TimeoutException>().And.Not.InstanceOf<AssertionException>());
    }

    [Test]
    public async Task A_stalled_body_ends_with_the_callers_cancellation()
    {
        await using RawHttpServer server = RawHttpServer.Start(_ => RawReply.StalledBody());
        using var http = new HttpClient();
        var guard = new RemoteSafetyGuard(http, Options(server.Address, GuardPromptFormat.FromKind("qwen3guard-gen"), o => { o.AttemptTimeout = TimeSpan.FromMinutes(5); o.TotalTimeout = TimeSpan.FromMinutes(5); }));
        using var cts = new CancellationTokenSource();
        Task<SafetyVerdict> call = guard.EvaluateAsync(Benign, cts.Token).AsTask();
        await server.Stalling.WaitAsync(TimeSpan.FromSeconds(60));
        await cts.CancelAsync();
        Assert.That(async () => await call.WaitAsync(TimeSpan.FromSeconds(60)), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void Family_options_are_validated_with_clear_messages()
    {
        using var http = new HttpClient();
        GuardPromptFormat qwen = GuardPromptFormat.FromKind("qwen3guard-gen");
        GuardPromptFormat wild = GuardPromptFormat.FromKind("wildguard");
        Uri x = new("http://x/");
        Assert.Multiple(() =>
        {
            Assert.That(() => new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = x, Model = "m", PromptFormat = wild, ControversialAsUnsafe = false }), Throws.ArgumentException.With.Message.Contains("ControversialAsUnsafe"));
            Assert.That(() => new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = x, Model = "m", PromptFormat = qwen, VerdictTokenIds = [1, 2] }), Throws.ArgumentException.With.Message.Contains("VerdictTokenIds"));
            Assert.That(() => new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = x, Model = "m", PromptFormat = qwen, VerdictTokenIds = [1, 1, 2] }), Throws.ArgumentException.With.Message.Contains("distinct"));
            Assert.That(() => new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = x, Model = "m", PromptFormat = qwen, RequestCategories = true }), Throws.ArgumentException.With.Message.Contains("RequestCategories"));
            Assert.That(() => new RemoteSafetyGuard(http, new RemoteSafetyGuardOptions { Endpoint = x, Model = "m", UnsafeLabels = ["toxic"] }), Throws.ArgumentException.With.Message.Contains("classifier protocols"));
        });
    }

    /// <summary>p(unsafe) = the unsafe side's softmax mass over all the listed verdict logprobs.</summary>
    internal static double UnsafeMass(double[] unsafeSide, double[] safeSide)
    {
        double u = unsafeSide.Sum(Math.Exp);
        return u / (u + safeSide.Sum(Math.Exp));
    }

    private static RemoteSafetyGuardOptions Options(Uri endpoint, GuardPromptFormat format, Action<RemoteSafetyGuardOptions>? configure = null)
    {
        var o = new RemoteSafetyGuardOptions { Endpoint = endpoint, Model = ModelName, PromptFormat = format };
        configure?.Invoke(o);
        return o;
    }
}
