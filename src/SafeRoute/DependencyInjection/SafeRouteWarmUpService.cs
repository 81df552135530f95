using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace SafeRoute.DependencyInjection;

/// <summary>Loads both guards and runs each once when the host starts, so the first request pays no model load.</summary>
internal sealed class SafeRouteWarmUpService(IServiceProvider services, IOptions<SafeRouteOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.WarmUp)
        {
            return;
        }

        // Resolving the routed guard loads both models and the router (and fails startup if they are broken).
        var routed = services.GetRequiredService<RoutedSafetyGuard>();
        await routed.WarmUpAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
