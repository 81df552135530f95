using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.AI;
using SafeRoute.Cli;

namespace SafeRoute.Tests.Cli;

/// <summary>
/// The tool's own chat-completions client against the loopback <see cref="FakeOpenAIServer"/> (real HTTP): request
/// shape, answer parsing, errors, limits, retries, cancellation and the <see cref="IChatClient"/> conventions.
/// </summary>
[TestFixture]
public sealed class OpenAICompatibleChatClientTests
{
    private const string Prompt = "please paraphrase: the secret prompt text 7f3a";

    private static List<ChatMessage> UserMessage() => [new(ChatRole.User, Prompt)];

    private static FakeOpenAIServer Replying(FakeReply reply) => new(_ => reply);

    private static OpenAICompatibleChatClient Client(FakeOpenAIServer server, string? key = null, int maxRetries = 0) =>
        new(new Uri(server.BaseUrl), "test-model", key) { MaxRetries = maxRetries, RetryDelay = TimeSpan.FromMilliseconds(10) };

    [Test]
    public async Task Request_ModelMessagesOptionsAndBearerKey_SentToChatCompletions()
    {
        using var server = Replying(new FakeReply(200, FakeOpenAIServer.Completion("ok")));
        using var client = new OpenAICompatibleChatClient(new Uri(server.BaseUrl + "/"), "test-model", "sk-test-key");
        var options = new ChatOptions { Temperature = 0.25f, TopP = 0.5f, MaxOutputTokens = 64, StopSequences = ["END", "STOP"], Seed = 42 };

        await client.GetResponseAsync([new ChatMessage(ChatRole.System, "be brief"), new ChatMessage(ChatRole.User, "hello")], options);

        Assert.That(server.Received.TryPeek(out FakeRequest? request), Is.True);
        Assert.That(request!.Method, Is.EqualTo("POST"));
        Assert.That(request.Path, Is.EqualTo("/v1/chat/completions"), "a trailing slash on the endpoint must not double the slash");
        Assert.That(request.Authorization, Is.EqualTo("Bearer sk-test-key"));
        Assert.That(request.ContentType, Does.StartWith("application/json"));
        using JsonDocument body = JsonDocument.Parse(request.Body);
        JsonElement root = body.RootElement;
        Assert.That(root.GetProperty("model").GetString(), Is.EqualTo("test-model"));
        Assert.That(root.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString())),
            Is.EqualTo(new[] { ("system", "be brief"), ("user", "hello") }));
        Assert.That(root.GetProperty("temperature").GetDouble(), Is.EqualTo(0.25));
        Assert.That(root.GetProperty("top_p").GetDouble(), Is.EqualTo(0.5));
        Assert.That(root.GetProperty("max_tokens").GetInt32(), Is.EqualTo(64));
        Assert.That(root.GetProperty("stop").EnumerateArray().Select(s => s.GetString()), Is.EqualTo(new[] { "END", "STOP" }));
        Assert.That(root.GetProperty("seed").GetInt64(), Is.EqualTo(42));
    }

    [Test]
    public async Task Request_NoKeyNoOptions_NoAuthorizationHeaderAndOnlyModelAndMessages()
    {
        using var server = Replying(new FakeReply(200, FakeOpenAIServer.Completion("ok")));
        using var client = new OpenAICompatibleChatClient(new Uri(server.BaseUrl), "test-model", apiKey: "");

        await client.GetResponseAsync(UserMessage());

        Assert.That(server.Received.TryPeek(out FakeRequest? request), Is.True);
        Assert.That(request!.Path, Is.EqualTo("/v1/chat/completions"));
        Assert.That(request.Authorization, Is.Null);
        using JsonDocument body = JsonDocument.Parse(request.Body);
        Assert.That(body.RootElement.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "model", "messages" }));
    }

    [Test]
    public async Task Request_OptionsModelId_OverridesTheClientsModel()
    {
        using var server = Replying(new FakeReply(200, FakeOpenAIServer.Completion("ok")));
        using OpenAICompatibleChatClient client = Client(server);

        await client.GetResponseAsync(UserMessage(), new ChatOptions { ModelId = "other-model" });

        Assert.That(server.Models, Is.EqualTo(new[] { "other-model" }));
    }

    [Test]
    public async Task Response_TextFinishReasonUsageIdModelAndCreated_Parsed()
    {
        using var server = Replying(new FakeReply(200, FakeOpenAIServer.Completion("Here you go.", model: "served-model", finishReason: "length", id: "chatcmpl-42")));
        using OpenAICompatibleChatClient client = Client(server);

        ChatResponse response = await client.GetResponseAsync(UserMessage());

        Assert.That(response.Text, Is.EqualTo("Here you go."));
        Assert.That(response.Messages.Single().Role, Is.EqualTo(ChatRole.Assistant));
        Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(response.ResponseId, Is.EqualTo("chatcmpl-42"));
        Assert.That(response.ModelId, Is.EqualTo("served-model"));
        Assert.That(response.CreatedAt, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)));
        Assert.That(response.Usage?.InputTokenCount, Is.EqualTo(12));
        Assert.That(response.Usage?.OutputTokenCount, Is.EqualTo(5));
        Assert.That(response.Usage?.TotalTokenCount, Is.EqualTo(17));
    }

    [Test]
    public async Task Response_ContentAsArrayOfParts_TextPartsJoined()
    {
        object[] parts = [new { type = "text", text = "Hello, " }, new { type = "image_url", image_url = new { url = "http://x" } }, new { type = "text", text = "world" }];
        using var server = Replying(new FakeReply(200, FakeOpenAIServer.Completion(parts)));
        using OpenAICompatibleChatClient client = Client(server);

        ChatResponse response = await client.GetResponseAsync(UserMessage());

        Assert.That(response.Text, Is.EqualTo("Hello, world"));
    }

    [Test]
    public void Http500_HttpRequestExceptionWithStatusAndBoundedExcerpt_PromptNotEchoed()
    {
        string body = JsonSerializer.Serialize(new { error = new { message = "model crashed while reading '" + Prompt + "' " + new string('x', 5000) } });
        using var server = Replying(new FakeReply(500, body));
        using OpenAICompatibleChatClient client = Client(server);

        HttpRequestException? ex = Assert.ThrowsAsync<HttpRequestException>(() => client.GetResponseAsync(UserMessage()));

        Assert.That(ex!.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
        Assert.That(ex.Message, Does.Contain("500").And.Contain("model crashed while reading"));
        Assert.That(ex.Message, Does.Not.Contain(Prompt).And.Not.Contain("7f3a"));
        Assert.That(ex.Message, Has.Length.LessThanOrEqualTo(OpenAICompatibleChatClient.ErrorExcerptChars + 100));
        Assert.That(server.Requests, Is.EqualTo(1));
    }

    [Test]
    public async Task Http503ThenOk_Retried()
    {
        int calls = 0;
        using var server = new FakeOpenAIServer(_ => Interlocked.Increment(ref calls) == 1
            ? new FakeReply(503, "busy", RetryAfter: "0")
            : new FakeReply(200, FakeOpenAIServer.Completion("after retry")));
        using OpenAICompatibleChatClient client = Client(server, maxRetries: 2);

        ChatResponse response = await client.GetResponseAsync(UserMessage());

        Assert.That(response.Text, Is.EqualTo("after retry"));
        Assert.That(server.Requests, Is.EqualTo(2));
    }

    [Test]
    public void Http401_NotRetried_StatusInMessage()
    {
        using var server = Replying(new FakeReply(401, """{"error":{"message":"Incorrect API key provided"}}"""));
        using OpenAICompatibleChatClient client = Client(server, key: "wrong", maxRetries: 2);

        HttpRequestException? ex = Assert.ThrowsAsync<HttpRequestException>(() => client.GetResponseAsync(UserMessage()));

        Assert.That(ex!.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(ex.Message, Does.Contain("401").And.Contain("Incorrect API key provided"));
        Assert.That(server.Requests, Is.EqualTo(1));
    }

    [TestCase("{\"choices\": [", "not valid JSON")]
    [TestCase("<html>Bad gateway</html>", "not valid JSON")]
    [TestCase("""{"id":"x","choices":[]}""", "no choices[0].message")]
    [TestCase("""{"id":"x","choices":[{"index":0,"finish_reason":"stop"}]}""", "no choices[0].message")]
    [TestCase("""[1,2,3]""", "no choices[0].message")]
    public void MalformedAnswer_InvalidDataException(string body, string expected)
    {
        using var server = Replying(new FakeReply(200, body));
        using OpenAICompatibleChatClient client = Client(server);

        InvalidDataException? ex = Assert.ThrowsAsync<InvalidDataException>(() => client.GetResponseAsync(UserMessage()));

        Assert.That(ex!.Message, Does.Contain(expected));
        Assert.That(ex.Message, Does.Not.Contain(Prompt));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void OversizedAnswer_InvalidDataException(bool chunked)
    {
        // A well-formed completion, only too large: without the limit it would be accepted.
        string body = FakeOpenAIServer.Completion(new string('a', OpenAICompatibleChatClient.DefaultMaxResponseBytes + 1000));
        using var server = Replying(new FakeReply(200, body, Chunked: chunked));
        using OpenAICompatibleChatClient client = Client(server);

        InvalidDataException? ex = Assert.ThrowsAsync<InvalidDataException>(() => client.GetResponseAsync(UserMessage()));

        Assert.That(ex!.Message, Does.Contain("larger than the limit"));
    }

    [Test]
    public void Cancellation_AbortsAWaitingRequestPromptly()
    {
        using var cts = new CancellationTokenSource();
        // The server cancels the caller's token when the request arrives, then holds its answer for 30 s: the test
        // controls when the cancellation happens, with the request in flight, instead of racing a timer.
        using var server = new FakeOpenAIServer(_ =>
        {
            cts.Cancel();
            return new FakeReply(200, FakeOpenAIServer.Completion("too late"), Delay: TimeSpan.FromSeconds(30));
        });
        using OpenAICompatibleChatClient client = Client(server);
        var clock = Stopwatch.StartNew();

        Assert.CatchAsync<OperationCanceledException>(() => client.GetResponseAsync(UserMessage(), cancellationToken: cts.Token));

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public void Timeout_TimeoutExceptionNotCancellation()
    {
        using var server = Replying(new FakeReply(200, FakeOpenAIServer.Completion("too late"), Delay: TimeSpan.FromSeconds(30)));
        using var client = new OpenAICompatibleChatClient(new Uri(server.BaseUrl), "test-model") { Timeout = TimeSpan.FromMilliseconds(300), MaxRetries = 0 };
        var clock = Stopwatch.StartNew();

        TimeoutException? ex = Assert.ThrowsAsync<TimeoutException>(() => client.GetResponseAsync(UserMessage()));

        Assert.That(ex!.Message, Does.Contain("did not answer within"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public async Task Streaming_OneRequest_WholeAnswerAsUpdates()
    {
        using var server = Replying(new FakeReply(200, FakeOpenAIServer.Completion("streamed answer")));
        using OpenAICompatibleChatClient client = Client(server);

        List<ChatResponseUpdate> updates = [];
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(UserMessage()))
        {
            updates.Add(update);
        }

        Assert.That(updates.ToChatResponse().Text, Is.EqualTo("streamed answer"));
        Assert.That(updates.Select(u => u.FinishReason).Last(r => r is not null), Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(server.Requests, Is.EqualTo(1));
    }

    [Test]
    public void GetService_SelfAndMetadata_OtherwiseNull()
    {
        using var client = new OpenAICompatibleChatClient(new Uri("http://localhost:8000/v1"), "m1");

        var metadata = client.GetService<ChatClientMetadata>();
        Assert.That(metadata?.ProviderName, Is.EqualTo("openai-compatible"));
        Assert.That(metadata?.ProviderUri, Is.EqualTo(new Uri("http://localhost:8000/v1")));
        Assert.That(metadata?.DefaultModelId, Is.EqualTo("m1"));
        Assert.That(client.GetService<OpenAICompatibleChatClient>(), Is.SameAs(client));
        Assert.That(client.GetService<IChatClient>(), Is.SameAs(client));
        Assert.That(client.GetService(typeof(IChatClient), serviceKey: "key"), Is.Null);
        Assert.That(client.GetService<HttpClient>(), Is.Null);
    }

    [TestCase("ftp://example.com/v1")]
    [TestCase("file:///tmp/v1")]
    public void Constructor_NonHttpEndpoint_ArgumentException(string endpoint) =>
        Assert.Throws<ArgumentException>(() => new OpenAICompatibleChatClient(new Uri(endpoint), "m").Dispose());

    [Test]
    public async Task Dispose_OwnedHttpClientDisposed_CallersHttpClientNot()
    {
        using var server = Replying(new FakeReply(200, FakeOpenAIServer.Completion("ok")));
        var owned = new OpenAICompatibleChatClient(new Uri(server.BaseUrl), "m");
        owned.Dispose();
        Assert.ThrowsAsync<ObjectDisposedException>(() => owned.GetResponseAsync(UserMessage()));

        using var http = new HttpClient();
        var borrowing = new OpenAICompatibleChatClient(new Uri(server.BaseUrl), "m", null, http);
        borrowing.Dispose();
        using HttpResponseMessage response = await http.PostAsync(new Uri(server.BaseUrl + "/chat/completions"), new StringContent("{}"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}
