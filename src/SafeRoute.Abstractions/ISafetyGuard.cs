namespace SafeRoute;

/// <summary>
/// A safety guard: maps a prompt, and optionally the assistant's response to it, to a <see cref="SafetyVerdict"/>.
/// </summary>
/// <remarks>
/// Implementations shipped with SafeRoute are safe for concurrent use by any number of callers. Do not dispose a
/// guard while calls are in flight unless the implementation says it is safe (SafeRoute's are). Cancellation is reported by throwing <see cref="OperationCanceledException"/>;
/// it is never turned into a verdict.
/// </remarks>
public interface ISafetyGuard
{
    /// <summary>Evaluates one request.</summary>
    /// <param name="request">The prompt and optional response to check.</param>
    /// <param name="cancellationToken">A token that cancels the evaluation, including a model run in flight.</param>
    /// <returns>The verdict.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The guard has been disposed.</exception>
    /// <exception cref="SafeRouteException">The model failed to run.</exception>
    ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default);

    /// <summary>Evaluates several requests, as few model runs as the implementation can manage.</summary>
    /// <param name="requests">The requests; the verdicts come back in the same order.</param>
    /// <param name="cancellationToken">A token that cancels the evaluation, including a model run in flight.</param>
    /// <returns>One verdict per request, in request order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="requests"/> or one of its items is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The guard has been disposed.</exception>
    /// <exception cref="SafeRouteException">The model failed to run.</exception>
    ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default);
}
