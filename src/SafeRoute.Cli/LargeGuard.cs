using Microsoft.Extensions.DependencyInjection;
using SafeRoute.Remote;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary>
/// The large guard of a command: a local model folder (<see cref="OnnxSafetyGuard"/>) or a model served over the
/// OpenAI-compatible completions API (<see cref="RemoteSafetyGuard"/>, with the resilience pipeline of
/// <c>AddSafeRouteRemoteGuard</c>), with the identity a feature cache records for it. Disposing it disposes the guard
/// (and the remote guard's service provider).
/// </summary>
internal sealed class LargeGuard : IDisposable
{
    private readonly IDisposable _owner;

    private LargeGuard(ISafetyGuard guard, IDisposable owner, GuardModelIdentity identity, string name, string? folder)
    {
        Guard = guard;
        _owner = owner;
        Identity = identity;
        Name = name;
        Folder = folder;
    }

    public ISafetyGuard Guard { get; }

    /// <summary>Gets what a feature cache records for this guard.</summary>
    public GuardModelIdentity Identity { get; }

    /// <summary>Gets a name for messages (the folder's model name or the served model's name).</summary>
    public string Name { get; }

    /// <summary>Gets the model folder, or null for a served model.</summary>
    public string? Folder { get; }

    public static LargeGuard Local(string folder)
    {
        OnnxSafetyGuard guard = OnnxSafetyGuard.Create(folder, tier: GuardTier.Large);
        try
        {
            return new LargeGuard(guard, guard, GuardModelIdentity.FromModelDirectory(folder), guard.Name, folder);
        }
        catch
        {
            guard.Dispose();
            throw;
        }
    }

    /// <summary>A served model. The identity describes everything that changes its answers: the completions address, the
    /// served model name and the prompt family (never the API key).</summary>
    public static LargeGuard Remote(Action<RemoteSafetyGuardOptions> configure, string familyDescription)
    {
        var services = new ServiceCollection();
        services.AddSafeRouteRemoteGuard(configure);
        ServiceProvider provider = services.BuildServiceProvider();
        try
        {
            RemoteSafetyGuard guard;
            try
            {
                guard = provider.GetRequiredService<RemoteSafetyGuard>();
            }
            catch (ArgumentException ex)
            {
                // The remote guard's option checks: the command line set them.
                throw new UsageException(ex.Message);
            }

            string description = $"remote completions\nuri={guard.CompletionsUri.AbsoluteUri}\nmodel={guard.Model}\n{familyDescription}";
            return new LargeGuard(guard, provider, GuardModelIdentity.FromDescription(guard.Model, description), guard.Model, folder: null);
        }
        catch
        {
            provider.Dispose();
            throw;
        }
    }

    public FeatureCache OpenCache(string path, OnnxSafetyGuard small) => FeatureCache.Open(path, small, Guard, Identity);

    public Task WarmUpAsync(CancellationToken cancellationToken) =>
        Guard is OnnxSafetyGuard onnx ? onnx.WarmUpAsync(cancellationToken).AsTask() : Task.CompletedTask;

    public void Dispose() => _owner.Dispose();
}
