using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace SafeRoute.Tests.Cli;

/// <summary>
/// A minimal OpenAI-compatible chat-completions server on 127.0.0.1 (real HTTP, in-process). By default every
/// <c>POST /v1/chat/completions</c> is answered with <see cref="Answer"/> applied to the first message; a reply function
/// can instead answer anything (status, body, chunked transfer, delay, Retry-After). Every request is recorded.
/// </summary>
internal sealed class FakeOpenAIServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly Func<FakeRequest, FakeReply> _reply;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _handlers = [];
    private int _requests;

    public FakeOpenAIServer(Func<string, string> answer)
        : this(request => AnswerCompletion(request, answer))
    {
    }

    public FakeOpenAIServer(Func<FakeRequest, FakeReply> reply)
    {
        _reply = reply;
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        BaseUrl = $"http://127.0.0.1:{port}/v1";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string BaseUrl { get; }

    public int Requests => Volatile.Read(ref _requests);

    public List<string> Models { get; } = [];

    /// <summary>Every request in arrival order.</summary>
    public ConcurrentQueue<FakeRequest> Received { get; } = new();

    /// <summary>A chat-completions answer body with the given message content (a string, or an array of parts).</summary>
    public static string Completion(object? content, string model = "served-model", string finishReason = "stop", string id = "chatcmpl-test") =>
        JsonSerializer.Serialize(new
        {
            id,
            @object = "chat.completion",
            created = 1_700_000_000,
            model,
            choices = new[] { new { index = 0, message = new { role = "assistant", content }, finish_reason = finishReason } },
            usage = new { prompt_tokens = 12, completion_tokens = 5, total_tokens = 17 },
        });

    private static FakeReply AnswerCompletion(FakeRequest request, Func<string, string> answer)
    {
        using JsonDocument json = JsonDocument.Parse(request.Body);
        JsonElement content = json.RootElement.GetProperty("messages")[0].GetProperty("content");
        string user = content.ValueKind == JsonValueKind.String ? content.GetString()! : content[0].GetProperty("text").GetString()!;
        return new FakeReply(200, Completion(answer(user), json.RootElement.GetProperty("model").GetString()!));
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _handlers.Add(Task.Run(() => HandleAsync(context)));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        try
        {
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var request = new FakeRequest(context.Request.HttpMethod, context.Request.Url!.AbsolutePath, context.Request.Headers["Authorization"],
                context.Request.ContentType, await reader.ReadToEndAsync());
            Received.Enqueue(request);
            try
            {
                using JsonDocument json = JsonDocument.Parse(request.Body);
                lock (Models)
                {
                    Models.Add(json.RootElement.GetProperty("model").GetString()!);
                }
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // Recorded as received; the reply function decides.
            }

            Interlocked.Increment(ref _requests);
            FakeReply reply = _reply(request);
            if (reply.Delay > TimeSpan.Zero)
            {
                await Task.Delay(reply.Delay, _stop.Token);
            }

            byte[] bytes = Encoding.UTF8.GetBytes(reply.Body);
            context.Response.StatusCode = reply.Status;
            context.Response.ContentType = "application/json";
            if (reply.RetryAfter is not null)
            {
                context.Response.Headers["Retry-After"] = reply.RetryAfter;
            }

            if (reply.Chunked)
            {
                context.Response.SendChunked = true;
                for (int i = 0; i < bytes.Length; i += 64 * 1024)
                {
                    await context.Response.OutputStream.WriteAsync(bytes.AsMemory(i, Math.Min(64 * 1024, bytes.Length - i)), _stop.Token);
                }
            }
            else
            {
                context.Response.ContentLength64 = bytes.Length;
                await context.Response.OutputStream.WriteAsync(bytes, _stop.Token);
            }

            context.Response.Close();
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The client went away (a cancelled or limited request) or the server is stopping.
            try
            {
                context.Response.Abort();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
        Task.WaitAll([.. _handlers], TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}

/// <summary>A request as the fake server saw it.</summary>
internal sealed record FakeRequest(string Method, string Path, string? Authorization, string? ContentType, string Body);

/// <summary>What the fake server answers: status and body, optionally chunked (no Content-Length), delayed, or with Retry-After.</summary>
internal sealed record FakeReply(int Status, string Body, bool Chunked = false, TimeSpan Delay = default, string? RetryAfter = null);
