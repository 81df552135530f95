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

/// <summary>A large tier that answers every request with the same scripted verdict (which may break the verdict
/// contract, or be null), except the one at <see cref="BadIndex"/> when that is set: then only that row gets the scripted
/// verdict and the others a good one.</summary>
internal sealed class ScriptedVerdictGuard(SafetyVerdict? verdict) : ISafetyGuard
{
    public static readonly SafetyVerdict Good = new() { IsUnsafe = false, UnsafeProbability = 0.2f, DecidedBy = GuardTier.Large, ModelName = "good" };

    public int? BadIndex { get; init; }

    public int SingleCalls;

    public int BatchCalls;

    public ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref SingleCalls);
        return ValueTask.FromResult(BadIndex is null or 0 ? verdict! : Good);
    }

    public ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref BatchCalls);
        var verdicts = new SafetyVerdict[requests.Count];
        for (int i = 0; i < verdicts.Length; i++)
        {
            verdicts[i] = BadIndex is null || BadIndex == i ? verdict! : Good;
        }

        return ValueTask.FromResult<IReadOnlyList<SafetyVerdict>>(verdicts);
    }
}

/// <summary>A large tier that answers only when the test says so: each call signals <see cref="Entered"/>, then waits for
/// <see cref="Answer"/> (with the call's token unless <see cref="IgnoresCancellation"/>). Nothing here depends on the clock.</summary>
internal sealed class ControlledGuard : ISafetyGuard
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _sawCancellation = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IgnoresCancellation { get; init; }

    /// <summary>Completes when the routed guard has called the large guard.</summary>
    public Task Entered => _entered.Task;

    /// <summary>Completes when the token of a call was cancelled.</summary>
    public Task SawCancellation => _sawCancellation.Task;

    /// <summary>The answer; never completed unless the test completes it.</summary>
    public TaskCompletionSource<SafetyVerdict> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default) =>
        await WaitAsync(cancellationToken);

    public async ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default)
    {
        SafetyVerdict verdict = await WaitAsync(cancellationToken);
        return [.. requests.Select(_ => verdict)];
    }

    private async Task<SafetyVerdict> WaitAsync(CancellationToken cancellationToken)
    {
        // Not disposed: disposing it when WaitAsync's own callback resumes this method would drop it before it runs.
        _ = cancellationToken.Register(() => _sawCancellation.TrySetResult());
        _entered.TrySetResult();
        return IgnoresCancellation ? await Answer.Task : await Answer.Task.WaitAsync(cancellationToken);
    }
}
