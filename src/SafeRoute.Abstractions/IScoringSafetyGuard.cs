using System.Diagnostics.CodeAnalysis;

namespace SafeRoute;

/// <summary>
/// A guard that can be the small tier of a routed guard: for a batch of requests it returns its verdict scores and
/// the feature vectors a router reads, from one pass.
/// </summary>
/// <remarks>
/// SafeRoute's ONNX guards implement it; so can an app's own in-process model. Implementations must be safe for
/// concurrent use, must return exactly one score per request in request order, and must report cancellation by
/// throwing <see cref="OperationCanceledException"/>.
/// </remarks>
[Experimental(DiagnosticIds.Scoring)]
public interface IScoringSafetyGuard : ISafetyGuard
{
    /// <summary>Gets the guard's name, for logs, metrics and <see cref="SafetyVerdict.ModelName"/>.</summary>
    string Name { get; }

    /// <summary>Gets the length of the feature vector this guard returns when asked, or <see langword="null"/> when it
    /// returns none (a router that reads features cannot be used with it) or the length is not known before the first run.</summary>
    int? FeatureSize { get; }

    /// <summary>Scores several requests.</summary>
    /// <param name="requests">The requests.</param>
    /// <param name="includeFeatures">Whether the caller needs <see cref="GuardScore.Features"/> (a feature router does; the others read only the logits).</param>
    /// <param name="cancellationToken">Cancels the evaluation.</param>
    /// <returns>One score per request, in request order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="requests"/> or one of its items is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="includeFeatures"/> is <see langword="true"/> but the guard exposes no features.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The guard has been disposed.</exception>
    ValueTask<IReadOnlyList<GuardScore>> ScoreBatchAsync(IReadOnlyList<SafetyRequest> requests, bool includeFeatures, CancellationToken cancellationToken = default);
}
