using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SafeRoute.GuardServer;

namespace SafeRoute.Tests.Integrations;

/// <summary>The GuardServer sample's endpoints hosted in-process by Kestrel on 127.0.0.1, port 0, with an adjustable delay.</summary>
internal sealed class LoopbackGuardServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private LoopbackGuardServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>Gets or sets how long each request waits before it is answered: <see cref="Timeout.InfiniteTimeSpan"/>
    /// means until the client gives up (or the server stops).</summary>
    public TimeSpan Delay { get; set; }

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Gets or sets how many of the next requests are answered 503.</summary>
    public int FailuresToInject { get; set; }

    public static Task<LoopbackGuardServer> StartAsync(ISafetyGuard guard, string modelName) =>
        StartAsync(app => GuardServerEndpoints.Map(app, guard, modelName));

    /// <summary>Starts the server with the endpoints <paramref name="map"/> adds (for example <see cref="GuardServerEndpoints.MapClassifier"/>).</summary>
    public static async Task<LoopbackGuardServer> StartAsync(Action<WebApplication> map)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        WebApplication app = builder.Build();
        LoopbackGuardServer? server = null;
        app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref server!._requests);
            if (server.FailuresToInject > 0)
            {
                server.FailuresToInject--;
                context.Response.StatusCode = 503;
                return;
            }

            if (server.Delay != TimeSpan.Zero)
            {
                try
                {
                    using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, app.Lifetime.ApplicationStopping);
                    await Task.Delay(server.Delay, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            await next(context);
        });
        map(app);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server = new LoopbackGuardServer(app, new Uri(address + "/"));
        return server;
    }

    /// <summary>A loopback address where nothing listens (a port taken and released).</summary>
    public static Uri DeadAddress()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new Uri($"http://127.0.0.1:{port}/");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
