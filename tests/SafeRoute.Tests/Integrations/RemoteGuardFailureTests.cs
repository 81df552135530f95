using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SafeRoute.Remote;

namespace SafeRoute.Tests.Integrations;

/// <summary>
/// The remote guard against a misbehaving server (a raw loopback HTTP server): stalled and endless bodies, and answers
/// that name no readable verdict. Each must fail the call, so that the routed guard's failure policy decides; none may
/// become a verdict. Timing is never asserted: a stalled body is held until the test ends, and a safety net turns a
/// hang into a failure.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RemoteGuardFailureTests
{
    private const string ModelName = "guard-model";

    private static readonly TimeSpan SafetyNet = TimeSpan.FromSeconds(60);

    private static readonly SafetyRequest[] Inputs =
    [
        new("What is the capital of France?"),
        new("How do I bake bread at home?"),
    ];

    public static IEnumerable<TestCaseData> UnreadableAnswers()
    {
        static string Answer(string choices, string model = $"\"{ModelName}\"") => $$"""{"model":{{model}},"choices":[{{choices}}]}""";
        static string Top(int index, string top) => $$$"""{"index":{{{index}}},"text":"safe","logprobs":{"top_logprobs":[{{{top}}}]}}""";

        yield return Case("top token is not a verdict", 1, Answer(Top(0, """{"I":-0.02,"safe":-4.0}""")), "most likely first token");
        yield return Case("prose on top, safe far below", 1, Answer(Top(0, """{"I":-0.7,"The":-1.1,"safe":-6,"x":-7,"y":-8}""")), "most likely first token");
        yield return Case("a verdict ties with another token on top", 1, Answer(Top(0, """{"I":-0.5,"safe":-0.5,"unsafe":-3}""")), "most likely first token");
        yield return Case("no verdict token listed", 1, Answer(Top(0, """{"I":-0.1,"The":-2.5}""")), "neither 'safe' nor 'unsafe'");
        yield return Case("exact tie", 1, Answer(Top(0, """{"safe":-0.6931,"unsafe":-0.6931,"x":-5}""")), "tie");
        yield return Case("one verdict listed alone (bounded by itself: a tie)", 1, Answer(Top(0, """{"safe":-0.01}""")), "tie");
        yield return Case("logprob not a number", 1, Answer(Top(0, """{"safe":"high","unsafe":-3}""")), "finite number");
        yield return Case("no logprobs, text not a verdict", 1, Answer("""{"index":0,"text":"I"}"""), "text does not start");
        yield return Case("no logprobs, text 'safety'", 1, Answer("""{"index":0,"text":"safety","logprobs":null}"""), "text does not start");
        yield return Case("no logprobs, text 'Safe'", 1, Answer("""{"index":0,"text":"Safe"}"""), "text does not start");
        yield return Case("no logprobs, no text", 1, Answer("""{"index":0}"""), "neither top logprobs nor a text");
        yield return Case("duplicate choice index", 1, Answer(Top(0, """{"safe":-0.1,"unsafe":-2.5}""") + "," + Top(0, """{"safe":-0.1,"unsafe":-2.5}""")), "more than once");
        yield return Case("missing choice", 2, Answer(Top(0, """{"safe":-0.1,"unsafe":-2.5}""")), "no choice answers prompt 1");
        yield return Case("choice index out of range", 1, Answer(Top(1, """{"safe":-0.1,"unsafe":-2.5}""")), "out of range");
        yield return Case("choice index not an integer", 1, Answer("""{"index":0.5,"text":"safe"}"""), "not an integer");
        yield return Case("no choices", 1, Answer(""), "no choice answers prompt 0");
        yield return Case("wrong model echoed", 1, Answer(Top(0, """{"safe":-0.1,"unsafe":-2.5}"""), "\"some-chat-model\""), "another model");
        yield return Case("not JSON", 1, "<html>busy</html>", "not JSON");
        yield return Case("no choices array", 1, """{"error":{"message":"overloaded"}}""", "no 'choices' array");

        static TestCaseData Case(string name, int prompts, string json, string reason) =>
            new TestCaseData(prompts, json, reason).SetArgDisplayNames(name);
    }

    [TestCaseSource(nameof(UnreadableAnswers))]
    public async Task An_unreadable_answer_throws_and_logs_why(int prompts, string json, string reason)
    {
        await using RawHttpServer server = RawHttpServer.Start(json);
        using var http = new HttpClient();
        var logger = new ListLogger();
        var guard = new RemoteSafetyGuard(http, Options(server.Address), logger);
        Task<IReadOnlyList<SafetyVerdict>> call = guard.EvaluateBatchAsync(Inputs[..prompts]).AsTask();
        SafeRouteException? ex = Assert.ThrowsAsync<SafeRouteException>(async () => await WithinSafetyNet(call));
        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain(reason));
            Assert.That(logger.Lines, Has.Count.EqualTo(1), "one log line per failure");
            Assert.That(logger.Lines[0].Level, Is.EqualTo(LogLevel.Warning));
            Assert.That(logger.Lines[0].Message, Does.Contain(reason));
            Assert.That(logger.Lines[0].Message, Does.Not.Contain("France").And.Not.Contain("bread"), "no user text in logs");
        });
    }

    [TestCaseSource(nameof(UnreadableAnswers))]
    public async Task An_unreadable_answer_fails_closed_through_the_routed_guard(int prompts, string json, string reason)
    {
        await using RawHttpServer server = RawHttpServer.Start(json);
        await using ServiceProvider sp = Provider(server.Address, LargeGuardFailurePolicy.FailClosed);
        var guard = sp.GetRequiredService<RoutedSafetyGuard>();
        IReadOnlyList<SafetyVerdict> verdicts = await WithinSafetyNet(guard.EvaluateBatchAsync(Inputs[..prompts]).AsTask());
        Assert.That(verdicts, Has.Count.EqualTo(prompts));
        foreach (SafetyVerdict verdict in verdicts)
        {
            Assert.Multiple(() =>
            {
                Assert.That(verdict.IsDegraded, Is.True, reason);
                Assert.That(verdict.IsUnsafe, Is.True);
                Assert.That(verdict.UnsafeProbability, Is.EqualTo(1f));
            });
        }
    }

    [TestCase(LargeGuardFailurePolicy.FallBackToSmall)]
    [TestCase(LargeGuardFailurePolicy.Throw)]
    public async Task An_unreadable_answer_goes_through_the_other_policies(LargeGuardFailurePolicy policy)
    {
        await using RawHttpServer server = RawHttpServer.Start($$$"""{"model":"{{{ModelName}}}","choices":[{"index":0,"text":"I","logprobs":{"top_logprobs":[{"I":-0.02,"safe":-4.0}]}}]}""");
        await using ServiceProvider sp = Provider(server.Address, policy);
        await AssertPolicyAsync<SafeRouteException>(sp.GetRequiredService<RoutedSafetyGuard>(), policy);
    }

    [Test]
    public async Task A_readable_answer_is_a_verdict()
    {
        // No 'model' echoed is accepted (only a different one fails); the text agrees with the top token.
        await using RawHttpServer server = RawHttpServer.Start("""{"choices":[{"index":0,"text":"unsafe","logprobs":{"top_logprobs":[{"unsafe":-0.1,"safe":-2.5}]}}]}""");
        using var http = new HttpClient();
        var guard = new RemoteSafetyGuard(http, Options(server.Address));
        SafetyVerdict verdict = await WithinSafetyNet(guard.EvaluateAsync(Inputs[0]).AsTask());
        Assert.Multiple(() =>
        {
            Assert.That(verdict.IsUnsafe, Is.True);
            Assert.That(verdict.UnsafeProbability, Is.EqualTo(0.9168273f).Within(1e-5));
        });
    }

    [TestCase(LargeGuardFailurePolicy.FailClosed)]
    [TestCase(LargeGuardFailurePolicy.FallBackToSmall)]
    [TestCase(LargeGuardFailurePolicy.Throw)]
    public async Task A_stalled_body_ends_at_the_attempt_timeout_is_retried_and_the_failure_policy_decides(LargeGuardFailurePolicy policy)
    {
        await using RawHttpServer server = RawHttpServer.Start(RawReply.StalledBody);

        // A total timeout far above two attempts: the attempts must end on their own timeout while the body stalls.
        await using ServiceProvider sp = Provider(server.Address, policy, r =>
        {
            r.AttemptTimeout = TimeSpan.FromMilliseconds(200);
            r.TotalTimeout = TimeSpan.FromSeconds(20);
            r.MaxRetryAttempts = 1;
        });
        await AssertPolicyAsync<TimeoutException>(sp.GetRequiredService<RoutedSafetyGuard>(), policy);
        Assert.That(server.Requests, Is.EqualTo(2), "the stalled body was an attempt timeout, so it was retried once");
    }

    [Test]
    public async Task A_stalled_body_ends_at_the_total_timeout_when_retries_remain()
    {
        await using RawHttpServer server = RawHttpServer.Start(RawReply.StalledBody);
        await using ServiceProvider sp = Provider(server.Address, LargeGuardFailurePolicy.FailClosed, r =>
        {
            r.AttemptTimeout = TimeSpan.FromMilliseconds(200);
            r.TotalTimeout = TimeSpan.FromMilliseconds(500);
            r.MaxRetryAttempts = 1000;
            r.RetryDelay = TimeSpan.FromMilliseconds(300);
        });
        var guard = sp.GetRequiredService<RoutedSafetyGuard>();
        Assert.That(guard.Large, Is.InstanceOf<RemoteSafetyGuard>());
        TimeoutException? ex = Assert.ThrowsAsync<TimeoutException>(async () => await WithinSafetyNet(((RemoteSafetyGuard)guard.Large).EvaluateAsync(Inputs[0]).AsTask()));
        Assert.That(ex!.Message, Does.Contain("total timeout"));
        SafetyVerdict verdict = await WithinSafetyNet(guard.EvaluateAsync(Inputs[0]).AsTask());
        Assert.Multiple(() =>
        {
            Assert.That(verdict.IsDegraded, Is.True);
            Assert.That(verdict.IsUnsafe, Is.True);
        });
    }

    [Test]
    public async Task A_stalled_body_on_a_caller_owned_client_ends_at_the_total_timeout_and_logs_why()
    {
        await using RawHttpServer server = RawHttpServer.Start(RawReply.StalledBody);
        using var http = new HttpClient(); // HttpClient.Timeout 100 s; no resilience pipeline
        var logger = new ListLogger();
        RemoteSafetyGuardOptions options = Options(server.Address);
        options.AttemptTimeout = TimeSpan.FromMilliseconds(200);
        options.TotalTimeout = TimeSpan.FromMilliseconds(500);
        var guard = new RemoteSafetyGuard(http, options, logger);
        Assert.ThrowsAsync<TimeoutException>(async () => await WithinSafetyNet(guard.EvaluateAsync(Inputs[0]).AsTask()));
        Assert.That(logger.Lines.Select(l => l.Message), Has.One.Contains("did not answer (headers and body) in time"));
    }

    [Test]
    public async Task The_callers_cancellation_during_a_stalled_body_stays_a_cancellation()
    {
        await using RawHttpServer server = RawHttpServer.Start(RawReply.StalledBody);
        await using ServiceProvider sp = Provider(server.Address, LargeGuardFailurePolicy.FailClosed);
        var guard = sp.GetRequiredService<RoutedSafetyGuard>();
        using var cts = new CancellationTokenSource();
        Task<SafetyVerdict> call = guard.EvaluateAsync(Inputs[0], cts.Token).AsTask();
        // Cancel once the server is holding the body (the attempt timeout is 10 s): the test controls the event, no timer.
        await WithinSafetyNet(server.Stalling.ContinueWith(_ => true, TaskScheduler.Default));
        await cts.CancelAsync();
        Assert.That(async () => await WithinSafetyNet(call), Throws.InstanceOf<OperationCanceledException>());
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task A_body_over_the_size_limit_fails_without_reading_it_all(bool declared)
    {
        await using RawHttpServer server = RawHttpServer.Start(declared ? RawReply.HugeDeclaredBody : RawReply.EndlessBody);
        using var http = new HttpClient();
        RemoteSafetyGuardOptions options = Options(server.Address);
        options.MaxResponseBytes = 64 * 1024;
        var guard = new RemoteSafetyGuard(http, options);
        SafeRouteException? ex = Assert.ThrowsAsync<SafeRouteException>(async () => await WithinSafetyNet(guard.EvaluateAsync(Inputs[0]).AsTask()));
        Assert.That(ex!.Message, Does.Contain("MaxResponseBytes"));

        await using ServiceProvider sp = Provider(server.Address, LargeGuardFailurePolicy.FailClosed, r => r.MaxResponseBytes = 64 * 1024);
        SafetyVerdict verdict = await WithinSafetyNet(sp.GetRequiredService<RoutedSafetyGuard>().EvaluateAsync(Inputs[0]).AsTask());
        Assert.That(verdict.IsDegraded, Is.True);
    }

    private static async Task<T> WithinSafetyNet<T>(Task<T> task)
    {
        if (await Task.WhenAny(task, Task.Delay(SafetyNet)) != task)
        {
            Assert.Fail($"The call did not end within {SafetyNet.TotalSeconds} s (a stalled call that no timeout ended).");
        }

        return await task;
    }

    private static async Task AssertPolicyAsync<TException>(RoutedSafetyGuard guard, LargeGuardFailurePolicy policy)
        where TException : Exception
    {
        if (policy == LargeGuardFailurePolicy.Throw)
        {
            Assert.ThrowsAsync<TException>(async () => await WithinSafetyNet(guard.EvaluateAsync(Inputs[0]).AsTask()));
            return;
        }

        SafetyVerdict verdict = await WithinSafetyNet(guard.EvaluateAsync(Inputs[0]).AsTask());
        Assert.Multiple(() =>
        {
            Assert.That(verdict.IsDegraded, Is.True);
            Assert.That(verdict.Routed, Is.True);
            if (policy == LargeGuardFailurePolicy.FailClosed)
            {
                Assert.That(verdict.IsUnsafe, Is.True);
                Assert.That(verdict.UnsafeProbability, Is.EqualTo(1f));
            }
            else
            {
                Assert.That(verdict.DecidedBy, Is.EqualTo(GuardTier.Small));
            }
        });
    }

    private static RemoteSafetyGuardOptions Options(Uri endpoint) => new() { Endpoint = endpoint, Model = ModelName };

    private static ServiceProvider Provider(Uri endpoint, LargeGuardFailurePolicy policy, Action<RemoteSafetyGuardOptions>? configure = null)
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
                r.AttemptTimeout = TimeSpan.FromSeconds(10);
                r.TotalTimeout = TimeSpan.FromSeconds(30);
                r.MaxRetryAttempts = 1;
                r.RetryDelay = TimeSpan.FromMilliseconds(10);
                configure?.Invoke(r);
            });
        return services.BuildServiceProvider();
    }

    /// <summary>Collects formatted log lines.</summary>
    private sealed class ListLogger : ILogger<RemoteSafetyGuard>
    {
        public List<(LogLevel Level, string Message)> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Information)
            {
                lock (Lines)
                {
                    Lines.Add((logLevel, formatter(state, exception)));
                }
            }
        }
    }
}
