namespace SafeRoute.Tests.Guards;

/// <summary>A large tier that always fails (a user-supplied ISafetyGuard, as a remote guard would be).</summary>
internal sealed class FailingGuard(Exception error) : ISafetyGuard
{
    public int Calls;

    public ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Calls);
        throw error;
    }

    public ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Calls);
        throw error;
    }
}

/// <summary>A large tier that waits until the caller's token is cancelled.</summary>
internal sealed class HangingGuard : ISafetyGuard
{
    private readonly TaskCompletionSource _called = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a call has reached this tier (and waits there for its token).</summary>
    public Task Called => _called.Task;

    public async ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        _called.TrySetResult();
        await Task.Delay(Timeout.Infinite, cancellationToken);
        throw new InvalidOperationException("unreachable");
    }

    public async ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default)
    {
        _called.TrySetResult();
        await Task.Delay(Timeout.Infinite, cancellationToken);
        throw new InvalidOperationException("unreachable");
    }
}

/// <summary>A broken large tier that answers with null verdicts (a user-supplied ISafetyGuard with a bug).</summary>
internal sealed class NullVerdictGuard : ISafetyGuard
{
    public ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<SafetyVerdict>(null!);

    public ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyList<SafetyVerdict>>(new SafetyVerdict[requests.Count]);
}
