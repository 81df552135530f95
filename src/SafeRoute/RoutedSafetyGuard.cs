using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SafeRoute.Diagnostics;
using SafeRoute.Onnx;
using SafeRoute.Routing;

namespace SafeRoute;

/// <summary>
/// SafeRoute's adaptive guard: the small guard sees every input; a router reads the small guard's output and sends
/// only the inputs it scores above the threshold to the large guard, whose verdict then decides.
/// </summary>
/// <remarks>
/// Safe for concurrent use when both guards are (the shipped ones are). Safe to dispose while calls are in flight: new
/// calls throw <see cref="ObjectDisposedException"/>, and when it owns its guards their disposal ends the runs in flight,
/// whose callers get <see cref="ObjectDisposedException"/> (never a degraded verdict); a call that already has its
/// verdicts returns them. An <see cref="ObjectDisposedException"/> of the large guard is never handled by the
/// <see cref="LargeGuardFailurePolicy"/>: a disposed guard is a shutdown, not a model failure.
/// Cancellation is never a routing signal: a cancelled token throws <see cref="OperationCanceledException"/>, it does not
/// escalate and it is not handled by the <see cref="LargeGuardFailurePolicy"/>.
/// <para>
/// The large guard's answer is checked before it decides: every verdict must be non-null, one per routed request, with a
/// finite <see cref="SafetyVerdict.UnsafeProbability"/> in [0, 1] and an <see cref="SafetyVerdict.IsUnsafe"/> that agrees
/// with it at the decision threshold 0.5 of <see cref="SafetyVerdict"/> (p &gt; 0.5 must be unsafe, p &lt; 0.5 must be
/// safe; at exactly 0.5 either is accepted, so a guard that counts 0.5 as unsafe passes). A verdict that breaks this,
/// and a large call that outlasts <see cref="LargeGuardTimeout"/>, is a large-guard failure that the
/// <see cref="FailurePolicy"/> handles exactly as an exception thrown by the large guard.
/// </para>
/// </remarks>
public sealed class RoutedSafetyGuard : ISafetyGuard, IDisposable, IAsyncDisposable
{
    private readonly IScoringSafetyGuard _small;
    private readonly ISafetyGuard _large;
    private readonly ISafetyRouter _router;
    private readonly bool _ownsGuards;
    private readonly SafeRouteTelemetry _telemetry;
    private readonly ILogger _logger;

    // Calls refused once disposal begins; the gate also counts the calls scoring with the router, so an owned router is
    // disposed only after they are done with it.
    private readonly InFlightGate _calls = new();
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a routed guard with an ONNX small guard.</summary>
    /// <param name="small">The small guard; it must expose a hidden state (<see cref="OnnxSafetyGuard.FeatureSize"/>) when the router reads features.</param>
    /// <param name="large">The large guard: an <see cref="OnnxSafetyGuard"/> or any other <see cref="ISafetyGuard"/>.</param>
    /// <param name="router">The router.</param>
    /// <param name="options">Threshold, failure policy and ownership; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The threshold is not a finite number, or
    /// <see cref="RoutedSafetyGuardOptions.LargeGuardTimeout"/> is not greater than zero and at most one hour.</exception>
    /// <exception cref="SafeRouteException">The router reads a feature vector whose size differs from the small guard's hidden size,
    /// or the small guard exposes no hidden state.</exception>
    public RoutedSafetyGuard(OnnxSafetyGuard small, ISafetyGuard large, ISafetyRouter router, RoutedSafetyGuardOptions? options = null)
        : this((IScoringSafetyGuard)small, large, router, options)
    {
    }

    /// <summary>Creates a routed guard whose small tier is any <see cref="IScoringSafetyGuard"/> (an app's own model, say).</summary>
    /// <param name="small">The small guard; it must expose features (<see cref="IScoringSafetyGuard.FeatureSize"/>) when the router reads them.</param>
    /// <param name="large">The large guard: an <see cref="OnnxSafetyGuard"/> or any other <see cref="ISafetyGuard"/>.</param>
    /// <param name="router">The router.</param>
    /// <param name="options">Threshold, failure policy and ownership; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The threshold is not a finite number, or
    /// <see cref="RoutedSafetyGuardOptions.LargeGuardTimeout"/> is not greater than zero and at most one hour.</exception>
    /// <exception cref="SafeRouteException">The router reads a feature vector whose size differs from the small guard's,
    /// or the small guard exposes no features.</exception>
    [System.Diagnostics.CodeAnalysis.Experimental(DiagnosticIds.Scoring)]
    public RoutedSafetyGuard(IScoringSafetyGuard small, ISafetyGuard large, ISafetyRouter router, RoutedSafetyGuardOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(small);
        ArgumentNullException.ThrowIfNull(large);
        ArgumentNullException.ThrowIfNull(router);
        options ??= new RoutedSafetyGuardOptions();
        // Length-aware routing turned off on a router calibrated for it: its file's ε for the paper's rule, when it has one.
        float threshold = options.Threshold
            ?? (options.LengthAwareRouting == false && router is MlpRouter { UniformThreshold: float uniform } ? uniform : router.DefaultThreshold);
        if (!float.IsFinite(threshold))
        {
            throw new ArgumentOutOfRangeException(nameof(options), threshold, "The routing threshold must be a finite number.");
        }

        if (options.LargeGuardTimeout is { } timeout && !RoutedSafetyGuardOptions.IsValidLargeGuardTimeout(timeout))
        {
            throw new ArgumentOutOfRangeException(nameof(options), timeout, $"The large guard timeout must be greater than zero and at most {RoutedSafetyGuardOptions.MaxLargeGuardTimeout}, or null for none.");
        }

        if (router.FeatureSize is { } featureSize)
        {
            if (small.FeatureSize is not { } hidden)
            {
                throw new SafeRouteException($"The router '{router.Name}' reads the small guard's features, but the small guard '{small.Name}' ({Describe(small)}) exposes none.");
            }

            if (hidden != featureSize)
            {
                throw new SafeRouteException($"The router '{router.Name}' expects {featureSize} input features, but the small guard '{small.Name}' ({Describe(small)}) has {hidden}. Train the router on this guard's features.");
            }
        }

        float? lengthReference = (router as MlpRouter)?.LengthReference;
        if (options.LengthAwareRouting == true && lengthReference is null)
        {
            throw new SafeRouteException($"Length-aware routing was asked for, but the router '{router.Name}' carries no calibrated reference length (an MLP router file with 'length_reference' metadata). Set LengthAwareRouting to null or false, or calibrate the router with it.");
        }

        _small = small;
        _large = large;
        _router = router;
        LengthReference = options.LengthAwareRouting == false ? null : lengthReference;
        _ownsGuards = options.OwnsGuards;
        Threshold = threshold;
        FailurePolicy = options.FailurePolicy;
        LargeGuardTimeout = options.LargeGuardTimeout;
        _timeProvider = options.TimeProvider ?? TimeProvider.System;
        _telemetry = SafeRouteTelemetry.Create(options.MeterFactory);
        _logger = options.LoggerFactory?.CreateLogger<RoutedSafetyGuard>() ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Loads both guards and the router that <paramref name="options"/> describe (the default demonstration
    /// models of the SafeRoute.Models.Default package when no model is configured at all) and returns a routed guard
    /// that owns them (disposing it disposes them). This is what <c>services.AddSafeRoute(...)</c> does without DI.
    /// Relative model and router paths are resolved against <see cref="AppContext.BaseDirectory"/>, not the current directory.</summary>
    /// <param name="options">The models, router and routing policy.</param>
    /// <returns>The routed guard.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid; the message names each bad setting.</exception>
    /// <exception cref="SafeRouteException">A model or the router could not be loaded.</exception>
    public static RoutedSafetyGuard Create(SafeRouteOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        DependencyInjection.DefaultModels.Apply(options);
        ValidateOptionsResult validation = new DependencyInjection.SafeRouteOptionsValidator("", customLargeGuard: false).Validate(null, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(SafeRouteOptions), validation.Failures);
        }

        OnnxSafetyGuard? small = null;
        OnnxSafetyGuard? large = null;
        try
        {
            small = OnnxSafetyGuard.Create(options.SmallModel.Path!, options.SmallModel, GuardTier.Small);
            large = OnnxSafetyGuard.Create(options.LargeModel.Path!, options.LargeModel, GuardTier.Large);
            ISafetyRouter router = RouterFactory.Create(options.Router, small);
            return new RoutedSafetyGuard(small, large, router, new RoutedSafetyGuardOptions { Threshold = options.Threshold, LengthAwareRouting = options.LengthAwareRouting, FailurePolicy = options.FailurePolicy, LargeGuardTimeout = options.LargeGuardTimeout, OwnsGuards = true });
        }
        catch
        {
            small?.Dispose();
            large?.Dispose();
            throw;
        }
    }

    /// <summary>Gets the routing threshold ε in use.</summary>
    public float Threshold { get; }

    /// <summary>Gets the reference length L of length-aware routing in use (see
    /// <see cref="RoutedSafetyGuardOptions.LengthAwareRouting"/>).</summary>
    /// <value>A positive number of characters, or <see langword="null"/> when every input is routed against ε alone.</value>
    public float? LengthReference { get; }

    /// <summary>The highest effective threshold of length-aware routing: a router score above it (or above ε, when ε is
    /// higher) always sends the input to the large guard, however long it is.</summary>
    internal const float LengthAwareCeiling = 0.9f;

    /// <summary>The length length-aware routing reads: the prompt's plus the response's UTF-16 code units. The training
    /// pipeline (ModelPrep features) writes the same number for calibration.</summary>
    internal static long RoutingLength(SafetyRequest request) => (long)request.Prompt.Length + (request.Response?.Length ?? 0);

    /// <summary>The effective threshold of length-aware routing for an input of <paramref name="length"/> characters:
    /// min(ε · √((n + L) / (2L)), max(ε, <see cref="LengthAwareCeiling"/>)); ε itself when <paramref name="reference"/> is null.
    /// The square root sits between the paper's rule (one ε for every input) and a threshold proportional to the large
    /// guard's cost (which grows with n): on the default pair, under the same caps, the proportional form reached a
    /// routed F1 0.003 higher but picked the hard inputs no better than entropy routing; the square root picks them better (see the model card).</summary>
    internal static float EffectiveThreshold(float threshold, float? reference, long length)
    {
        if (reference is not float l)
        {
            return threshold;
        }

        double scaled = threshold * Math.Sqrt((length + (double)l) / (2.0 * l));
        return (float)Math.Min(scaled, Math.Max(threshold, LengthAwareCeiling));
    }

    private float RoutingThreshold(SafetyRequest request) => EffectiveThreshold(Threshold, LengthReference, RoutingLength(request));

    /// <summary>Gets the policy applied when the large guard fails.</summary>
    public LargeGuardFailurePolicy FailurePolicy { get; }

    /// <summary>Gets how long one call to the large guard may take before it counts as a large-guard failure.</summary>
    /// <value><see langword="null"/> when the large tier has no timeout of its own.</value>
    public TimeSpan? LargeGuardTimeout { get; }

    /// <summary>Gets the small guard.</summary>
    [System.Diagnostics.CodeAnalysis.Experimental(DiagnosticIds.Scoring)]
    public IScoringSafetyGuard Small => _small;

    /// <summary>Gets the large guard.</summary>
    public ISafetyGuard Large => _large;

    /// <summary>Gets the router.</summary>
    public ISafetyRouter Router => _router;

    /// <summary>Runs each ONNX tier once on a fixed benign input (see <see cref="OnnxSafetyGuard.WarmUpAsync"/>), so that the
    /// first real request does not pay for ONNX Runtime's lazy initialisation. Other guards are left alone.</summary>
    /// <param name="cancellationToken">Cancels the warm-up runs.</param>
    /// <returns>A task that completes when the warm-up runs have.</returns>
    /// <exception cref="ObjectDisposedException">The guard has been disposed.</exception>
    /// <exception cref="SafeRouteException">A model failed to run.</exception>
    public async ValueTask WarmUpAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_calls.IsClosed, this);
        if (_small is OnnxSafetyGuard small)
        {
            await small.WarmUpAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_large is OnnxSafetyGuard large)
        {
            await large.WarmUpAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        IReadOnlyList<SafetyVerdict> verdicts = await EvaluateBatchAsync([request], cancellationToken).ConfigureAwait(false);
        return verdicts[0];
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ObjectDisposedException.ThrowIf(_calls.IsClosed, this);
        bool needsFeatures = _router.FeatureSize is not null;
        _telemetry.BatchSize.Record(requests.Count);
        IReadOnlyList<GuardScore> smallOutputs;
        long started = Stopwatch.GetTimestamp();
        using (Activity? activity = SafeRouteTelemetry.ActivitySource.StartActivity("SafeRoute small guard"))
        {
            activity?.SetTag(SafeRouteTelemetry.TierTag, "small");
            activity?.SetTag("saferoute.batch_size", requests.Count);
            smallOutputs = await _small.ScoreBatchAsync(requests, needsFeatures, cancellationToken).ConfigureAwait(false);
        }

        _telemetry.GuardDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>(SafeRouteTelemetry.TierTag, "small"));
        using Activity? routerActivity = SafeRouteTelemetry.ActivitySource.StartActivity("SafeRoute router");
        routerActivity?.SetTag("saferoute.router", _router.Name);
        routerActivity?.SetTag("saferoute.threshold", Threshold);
        if (LengthReference is float lengthReference)
        {
            routerActivity?.SetTag("saferoute.length_reference", lengthReference);
        }

        if (smallOutputs is null || smallOutputs.Count != requests.Count)
        {
            throw new SafeRouteException($"The small guard '{_small.Name}' returned {smallOutputs?.Count ?? 0} scores for {requests.Count} requests.");
        }

        var verdicts = new SafetyVerdict[requests.Count];
        List<int>? routed = null;
        if (!_calls.TryEnter())
        {
            throw new ObjectDisposedException(GetType().FullName, "The routed guard was disposed while this call was running.");
        }

        try
        {
            for (int i = 0; i < smallOutputs.Count; i++)
            {
                GuardScore output = smallOutputs[i];
                if (needsFeatures && output.Features.Length != _router.FeatureSize)
                {
                    throw new SafeRouteException($"The small guard '{_small.Name}' returned {output.Features.Length} features for request {i}; the router '{_router.Name}' reads {_router.FeatureSize}.");
                }

                float score = _router.Score(output.Features.Span, output.SafeLogit, output.UnsafeLogit);
                float p = output.UnsafeProbability;
                bool route = score > RoutingThreshold(requests[i]) || float.IsNaN(score);
                verdicts[i] = new SafetyVerdict
                {
                    IsUnsafe = p > VerdictMath.DecisionThreshold,
                    UnsafeProbability = p,
                    DecidedBy = GuardTier.Small,
                    RouterScore = score,
                    Routed = route,
                    WasTruncated = output.WasTruncated,
                    ModelName = _small.Name,
                    Categories = output.Categories,
                };
                if (route)
                {
                    (routed ??= []).Add(i);
                }
            }
        }
        finally
        {
            _calls.Exit();
        }

        routerActivity?.SetTag("saferoute.routed_count", routed?.Count ?? 0);
        routerActivity?.Stop(); // the using above also ends it when the router throws
        if (routed is null)
        {
            Record(verdicts, 0);
            return verdicts;
        }

        var largeRequests = new SafetyRequest[routed.Count];
        for (int k = 0; k < routed.Count; k++)
        {
            largeRequests[k] = requests[routed[k]];
        }

        IReadOnlyList<SafetyVerdict>? largeVerdicts;
        Exception? failure = null;
        long largeStarted = Stopwatch.GetTimestamp();
        using Activity? largeActivity = SafeRouteTelemetry.ActivitySource.StartActivity("SafeRoute large guard");
        largeActivity?.SetTag(SafeRouteTelemetry.TierTag, "large");
        largeActivity?.SetTag("saferoute.batch_size", largeRequests.Length);
        try
        {
            // A bad answer or an expired LargeGuardTimeout throws here, so the failure policy below handles it exactly
            // as it handles an exception thrown by the large guard itself.
            largeVerdicts = await EvaluateLargeAsync(largeRequests, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (ObjectDisposedException)
        {
            // The large guard (or this one, which disposed it) is shutting down: no policy turns that into a verdict.
            throw;
        }
        catch (Exception ex) when (FailurePolicy != LargeGuardFailurePolicy.Throw)
        {
            largeVerdicts = null;
            failure = ex;
        }
        catch (Exception ex)
        {
            RecordLargeFailure(ex, routed.Count, largeActivity);
            throw;
        }
        finally
        {
            _telemetry.GuardDuration.Record(Stopwatch.GetElapsedTime(largeStarted).TotalSeconds, new KeyValuePair<string, object?>(SafeRouteTelemetry.TierTag, "large"));
        }

        if (failure is not null)
        {
            RecordLargeFailure(failure, routed.Count, largeActivity);
        }

        for (int k = 0; k < routed.Count; k++)
        {
            int i = routed[k];
            SafetyVerdict small = verdicts[i];
            if (failure is null)
            {
                SafetyVerdict large = largeVerdicts![k];
                verdicts[i] = large with
                {
                    DecidedBy = GuardTier.Large,
                    RouterScore = small.RouterScore,
                    Routed = true,
                    WasTruncated = large.WasTruncated || small.WasTruncated,
                    SmallVerdict = small,
                };
            }
            else if (FailurePolicy == LargeGuardFailurePolicy.FallBackToSmall)
            {
                verdicts[i] = small with { IsDegraded = true, SmallVerdict = small };
            }
            else
            {
                verdicts[i] = small with
                {
                    IsUnsafe = true,
                    UnsafeProbability = 1f,
                    DecidedBy = GuardTier.Large,
                    IsDegraded = true,
                    ModelName = null,
                    SmallVerdict = small,
                };
            }
        }

        Record(verdicts, routed.Count);
        return verdicts;
    }

    /// <summary>Runs the large guard on the routed requests under <see cref="LargeGuardTimeout"/> and checks its answer.</summary>
    /// <exception cref="OperationCanceledException">The caller's token was cancelled.</exception>
    /// <exception cref="TimeoutException">The large guard did not answer within <see cref="LargeGuardTimeout"/>.</exception>
    /// <exception cref="SafeRouteException">The large guard's answer breaks the verdict contract.</exception>
    private async ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateLargeAsync(SafetyRequest[] largeRequests, CancellationToken cancellationToken)
    {
        IReadOnlyList<SafetyVerdict>? largeVerdicts;
        if (LargeGuardTimeout is not { } timeout)
        {
            largeVerdicts = await CallLargeAsync(largeRequests, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // Both sources are disposed when the call ends, whichever way, so no timer outlives it.
            using var timeoutSource = new CancellationTokenSource(timeout, _timeProvider);
            using var linkedSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
            Task<IReadOnlyList<SafetyVerdict>?> call = CallLargeAsync(largeRequests, linkedSource.Token).AsTask();
            try
            {
                // WaitAsync bounds the wait even for a large guard that ignores its token; such a call is abandoned.
                largeVerdicts = await call.WaitAsync(linkedSource.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested && timeoutSource.IsCancellationRequested)
            {
                Abandon(call);
                throw new TimeoutException($"The large guard did not answer within the large guard timeout of {timeout.ToString("c", CultureInfo.InvariantCulture)}.", ex);
            }
            catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested && ex.CancellationToken != cancellationToken)
            {
                // The caller cancelled: report it with the caller's own token, as without a timeout.
                Abandon(call);
                throw new OperationCanceledException(ex.Message, ex, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Abandon(call);
                throw;
            }
        }

        ValidateLargeVerdicts(largeVerdicts, largeRequests.Length);
        return largeVerdicts;

        static void Abandon(Task call)
        {
            if (!call.IsCompleted)
            {
                // Observe a late failure of a call that ignored its token, so it never surfaces as an unobserved exception.
                _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    private async ValueTask<IReadOnlyList<SafetyVerdict>?> CallLargeAsync(SafetyRequest[] largeRequests, CancellationToken cancellationToken) =>
        largeRequests.Length == 1
            ? [await _large.EvaluateAsync(largeRequests[0], cancellationToken).ConfigureAwait(false)]
            : await _large.EvaluateBatchAsync(largeRequests, cancellationToken).ConfigureAwait(false);

    /// <summary>Checks the large guard's answer: one non-null verdict per request, each with a finite p(unsafe) in [0, 1]
    /// and an <see cref="SafetyVerdict.IsUnsafe"/> that agrees with it at the decision threshold (see the class remarks).</summary>
    /// <exception cref="SafeRouteException">The answer breaks the contract; the message says how.</exception>
    private static void ValidateLargeVerdicts([NotNull] IReadOnlyList<SafetyVerdict>? largeVerdicts, int count)
    {
        if (largeVerdicts is null || largeVerdicts.Count != count)
        {
            throw new SafeRouteException($"The large guard returned {largeVerdicts?.Count ?? 0} verdicts for {count} requests.");
        }

        for (int k = 0; k < count; k++)
        {
            SafetyVerdict? verdict = largeVerdicts[k];
            if (verdict is null)
            {
                throw new SafeRouteException($"The large guard returned a null verdict for request {k} of {count}.");
            }

            float p = verdict.UnsafeProbability;
            if (!(p >= 0f && p <= 1f))
            {
                throw new SafeRouteException($"The large guard returned p(unsafe) = {Format(p)} for request {k} of {count}; expected a finite number in [0, 1].");
            }

            if (verdict.IsUnsafe ? p < VerdictMath.DecisionThreshold : p > VerdictMath.DecisionThreshold)
            {
                throw new SafeRouteException($"The large guard returned IsUnsafe = {(verdict.IsUnsafe ? "true" : "false")} with p(unsafe) = {Format(p)} for request {k} of {count}; IsUnsafe must agree with p(unsafe) at the decision threshold {Format(VerdictMath.DecisionThreshold)}.");
            }
        }

        static string Format(float value) => value.ToString(CultureInfo.InvariantCulture);
    }

    private void RecordLargeFailure(Exception exception, int count, Activity? largeActivity)
    {
        // Only SafeRoute's own large-guard span is marked: with no listener it is null, and the caller's span (an HTTP
        // request, say) must not turn into an error for a failure the policy handled.
        largeActivity?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
        _telemetry.LargeGuardFailures.Add(count, new KeyValuePair<string, object?>(SafeRouteTelemetry.PolicyTag, FailurePolicy.ToString()));
        SafeRouteLog.LargeGuardFailed(_logger, count, FailurePolicy, exception);
    }

    private void Record(SafetyVerdict[] verdicts, int routedCount)
    {
        int unsafeCount = 0;
        foreach (SafetyVerdict verdict in verdicts)
        {
            string outcome = verdict.IsDegraded ? "degraded" : verdict.IsUnsafe ? "unsafe" : "safe";
            unsafeCount += verdict.IsUnsafe ? 1 : 0;
            _telemetry.Verdicts.Add(
                1,
                new KeyValuePair<string, object?>(SafeRouteTelemetry.TierTag, SafeRouteTelemetry.TierName(verdict.DecidedBy)),
                new KeyValuePair<string, object?>(SafeRouteTelemetry.OutcomeTag, outcome),
                new KeyValuePair<string, object?>(SafeRouteTelemetry.CategoryTag, verdict.IsUnsafe ? FirstFlagged(verdict) : "none"));
        }

        _telemetry.Requests.Add(routedCount, new KeyValuePair<string, object?>(SafeRouteTelemetry.RoutedTag, true));
        _telemetry.Requests.Add(verdicts.Length - routedCount, new KeyValuePair<string, object?>(SafeRouteTelemetry.RoutedTag, false));
        SafeRouteLog.Checked(_logger, verdicts.Length, routedCount, unsafeCount);
    }

    /// <inheritdoc/>
    /// <remarks>Safe while calls are in flight: new calls fail with <see cref="ObjectDisposedException"/>; when this guard
    /// owns its guards, their disposal ends the runs in flight and waits for them (see <see cref="OnnxSafetyGuard.Dispose"/>),
    /// and the router is disposed once no call is scoring with it. A second or concurrent call waits for the first one.</remarks>
    public void Dispose()
    {
        if (!_calls.Close())
        {
            _released.Task.Wait();
            return;
        }

        try
        {
            if (_ownsGuards)
            {
                (_small as IDisposable)?.Dispose();
                (_large as IDisposable)?.Dispose();
                _calls.Drained.Wait();
                (_router as IDisposable)?.Dispose();
            }
        }
        finally
        {
            _released.TrySetResult();
        }
    }

    /// <inheritdoc/>
    /// <remarks>Like <see cref="Dispose"/>, but waits for the calls in flight without blocking a thread.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (!_calls.Close())
        {
            await _released.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            if (_ownsGuards)
            {
                await DisposeAsync(_small).ConfigureAwait(false);
                await DisposeAsync(_large).ConfigureAwait(false);
                await _calls.Drained.ConfigureAwait(false);
                (_router as IDisposable)?.Dispose();
            }
        }
        finally
        {
            _released.TrySetResult();
        }

        static async ValueTask DisposeAsync(object guard)
        {
            if (guard is IAsyncDisposable asyncGuard)
            {
                await asyncGuard.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                (guard as IDisposable)?.Dispose();
            }
        }
    }

    private static string FirstFlagged(SafetyVerdict verdict)
    {
        if (verdict.Categories is { } categories)
        {
            foreach (CategoryScore category in categories)
            {
                if (category.IsFlagged)
                {
                    return category.Name;
                }
            }
        }

        return "none";
    }

    private static string Describe(IScoringSafetyGuard guard) => guard is OnnxSafetyGuard onnx ? onnx.ModelDirectory : guard.GetType().Name;
}
