using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SafeRoute.Tests.Integrations;

/// <summary>How a <see cref="RawReply"/> ends after its head and body bytes.</summary>
internal enum RawReplyEnd
{
    /// <summary>Close the connection.</summary>
    Close,

    /// <summary>Hold the connection open on a gate released only when the server is disposed (a stalled body).</summary>
    Stall,

    /// <summary>Keep writing white space until the client goes away (a body that never ends).</summary>
    Endless,
}

/// <summary>A request the raw server read: its method, path and body (UTF-8).</summary>
internal sealed record RawRequest(string Method, string Path, string Body);

/// <summary>A scripted HTTP/1.1 answer.</summary>
internal sealed record RawReply(byte[] Head, byte[] Body, RawReplyEnd End)
{
    public static RawReply Json(string json)
    {
        byte[] body = Encoding.UTF8.GetBytes(json);
        return new(MakeHead(body.Length.ToString(CultureInfo.InvariantCulture)), body, RawReplyEnd.Close);
    }

    /// <summary>200 OK that declares the whole body's length but sends only its first half, then closes the connection.</summary>
    public static RawReply Truncated(string json)
    {
        byte[] body = Encoding.UTF8.GetBytes(json);
        return new(MakeHead(body.Length.ToString(CultureInfo.InvariantCulture)), body[..(body.Length / 2)], RawReplyEnd.Close);
    }

    /// <summary>200 OK with Content-Length 1000, ten bytes of body, then nothing until the server is disposed.</summary>
    public static RawReply StalledBody() => new(MakeHead("1000"), Encoding.UTF8.GetBytes("{\"choices\""), RawReplyEnd.Stall);

    /// <summary>200 OK with a Content-Length far above any limit, then nothing until the server is disposed.</summary>
    public static RawReply HugeDeclaredBody() => new(MakeHead("100000000"), Encoding.UTF8.GetBytes("{"), RawReplyEnd.Stall);

    /// <summary>200 OK without Content-Length (the body runs to the end of the connection), streaming forever.</summary>
    public static RawReply EndlessBody() => new(MakeHead(null), Encoding.UTF8.GetBytes("{\"choices\":["), RawReplyEnd.Endless);

    private static byte[] MakeHead(string? contentLength) => Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + (contentLength is null ? "" : $"Content-Length: {contentLength}\r\n")
        + "Connection: close\r\n\r\n");
}

/// <summary>
/// A raw HTTP/1.1 server on 127.0.0.1 (port 0) over <see cref="TcpListener"/> that answers every request with a scripted
/// reply: it can send the headers and then hold the body on a gate that only <see cref="DisposeAsync"/> releases, which
/// Kestrel or HttpListener cannot do byte-exactly.
/// </summary>
internal sealed class RawHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<RawRequest, RawReply> _reply;
    private readonly List<RawRequest> _received = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stalling = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;
    private int _requests;

    private RawHttpServer(Func<RawRequest, RawReply> reply)
    {
        _reply = reply;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture)}/");
        _accepting = AcceptAsync();
    }

    public Uri Address { get; }

    /// <summary>Gets how many requests were read completely.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Gets a task that completes when a stalling reply has sent its head and the start of its body.</summary>
    public Task Stalling => _stalling.Task;

    /// <summary>Gets the requests read so far, in order.</summary>
    public IReadOnlyList<RawRequest> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    public static RawHttpServer Start(Func<RawReply> reply) => new(_ => reply());

    /// <summary>Starts a server whose reply depends on the request (a fake inference server).</summary>
    public static RawHttpServer Start(Func<RawRequest, RawReply> reply) => new(reply);

    /// <summary>Lets every stalled reply end now (its connection closes with the body incomplete): the test, not a timer,
    /// decides when a stall ends.</summary>
    public void ReleaseStalls() => _gate.TrySetResult();

    public static RawHttpServer Start(string json) => new(_ => RawReply.Json(json));

    public async ValueTask DisposeAsync()
    {
        _gate.TrySetResult();
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections);
        _stop.Dispose();
    }

    private static async Task<RawRequest> ReadRequestAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var head = new List<byte>();
        byte[] one = new byte[1];
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
            {
                throw new IOException("The client closed the connection before the request head ended.");
            }

            head.Add(one[0]);
        }

        int length = 0;
        string[] lines = Encoding.ASCII.GetString([.. head]).Split("\r\n");
        string[] requestLine = lines[0].Split(' ');
        foreach (string line in lines)
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(line["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        byte[] body = new byte[length];
        await stream.ReadExactlyAsync(body, cancellationToken);
        return new RawRequest(requestLine[0], requestLine.Length > 1 ? requestLine[1] : "", Encoding.UTF8.GetString(body));
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_connections)
            {
                _connections.Add(HandleAsync(client));
            }
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                RawRequest request = await ReadRequestAsync(stream, _stop.Token);
                lock (_received)
                {
                    _received.Add(request);
                }

                Interlocked.Increment(ref _requests);
                RawReply reply = _reply(request);
                await stream.WriteAsync(reply.Head, _stop.Token);
                await stream.WriteAsync(reply.Body, _stop.Token);
                await stream.FlushAsync(_stop.Token);
                if (reply.End == RawReplyEnd.Stall)
                {
                    _stalling.TrySetResult();
                    await _gate.Task.WaitAsync(_stop.Token);
                }
                else if (reply.End == RawReplyEnd.Endless)
                {
                    byte[] spaces = Encoding.ASCII.GetBytes(new string(' ', 16 * 1024));
                    while (true)
                    {
                        await stream.WriteAsync(spaces, _stop.Token);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away (a timeout or a size limit) or the server stops.
            }
        }
    }
}
