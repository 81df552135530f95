using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace SafeRoute.Tests.Cli;

/// <summary>
/// A minimal OpenAI-compatible chat-completions server on 127.0.0.1 (real HTTP, in-process): every
/// <c>POST /v1/chat/completions</c> is answered with <see cref="Answer"/> applied to the user message.
/// </summary>
internal sealed class FakeOpenAIServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private int _requests;

    public FakeOpenAIServer(Func<string, string> answer)
    {
        Answer = answer;
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

    public Func<string, string> Answer { get; }

    public int Requests => Volatile.Read(ref _requests);

    public List<string> Models { get; } = [];

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            using JsonDocument request = JsonDocument.Parse(await reader.ReadToEndAsync());
            string user = request.RootElement.GetProperty("messages")[0].GetProperty("content").ValueKind == JsonValueKind.String
                ? request.RootElement.GetProperty("messages")[0].GetProperty("content").GetString()!
                : request.RootElement.GetProperty("messages")[0].GetProperty("content")[0].GetProperty("text").GetString()!;
            lock (Models)
            {
                Models.Add(request.RootElement.GetProperty("model").GetString()!);
            }

            Interlocked.Increment(ref _requests);
            string body = JsonSerializer.Serialize(new
            {
                id = "chatcmpl-test",
                @object = "chat.completion",
                created = 1_700_000_000,
                model = request.RootElement.GetProperty("model").GetString(),
                choices = new[] { new { index = 0, message = new { role = "assistant", content = Answer(user) }, finish_reason = "stop" } },
                usage = new { prompt_tokens = 1, completion_tokens = 1, total_tokens = 2 },
            });
            byte[] bytes = Encoding.UTF8.GetBytes(body);
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
