using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace SafeRoute;

/// <summary>Settings of a <see cref="RoutedSafetyGuard"/>.</summary>
public sealed class RoutedSafetyGuardOptions
{
    /// <summary>Gets or sets the routing threshold ε: an input goes to the large guard when the router's score is above it.</summary>
    /// <value>The default is <see langword="null"/>: the router's own default (a trained router's calibrated threshold
    /// from its file, else 0.5; see <see cref="LengthAwareRouting"/> for a router calibrated for length-aware routing).</value>
    public float? Threshold { get; set; }

    /// <summary>Gets or sets whether the routing threshold depends on the input's length (length-aware routing, with the
    /// router's calibrated reference length L, <see cref="Routing.MlpRouter.LengthReference"/>). An input of n characters
    /// (prompt plus response, UTF-16 code units) then goes to the large guard when its router score is above
    /// min(ε · √((n + L) / (2L)), max(ε, 0.9)): ε at the reference length, lower for shorter inputs (cheap for the large
    /// guard to read), higher for longer ones (costly: the large guard reads every window), and a score above 0.9 (or ε,
    /// when ε is higher) always goes. A NaN score always goes, as without it.</summary>
    /// <value>The default is <see langword="null"/>: on when the router carries a reference length (the default models'
    /// router does), off otherwise. <see langword="true"/> requires one; <see langword="false"/> is the paper's rule, one
    /// threshold ε for every input; with no <see cref="Threshold"/> set, ε is then the router file's <c>uniform_threshold</c>
    /// (the paper's rule calibrated the same way) when it has one, else its <c>threshold</c>.</value>
    /// <remarks>Length-aware routing spends the large guard where it is cheap: on the default pair it reaches a routed F1 within
    /// 0.004 of the paper's rule's with 56% of the large guard's tokens (see the model card). The price is that long
    /// inputs rarely get the large guard's second opinion unless the router is sure; the small guard still reads every
    /// window of them, and its verdict stands. Turn it off when long inputs (pasted documents, long jailbreaks) matter
    /// more to you than the large guard's cost.</remarks>
    public bool? LengthAwareRouting { get; set; }

    /// <summary>Gets or sets what happens when the large guard fails.</summary>
    /// <value>The default is <see cref="LargeGuardFailurePolicy.FailClosed"/>.</value>
    public LargeGuardFailurePolicy FailurePolicy { get; set; } = LargeGuardFailurePolicy.FailClosed;

    /// <summary>Gets or sets how long one call to the large guard may take. When it expires before the large guard answers
    /// (and the caller's token is not cancelled), the call counts as a large-guard failure that <see cref="FailurePolicy"/>
    /// handles: <see cref="LargeGuardFailurePolicy.Throw"/> throws a <see cref="TimeoutException"/>. A cancelled caller's
    /// token still throws <see cref="OperationCanceledException"/>, never a policy verdict.</summary>
    /// <value>The default is <see langword="null"/>: no timeout of the routed guard's own (a remote large guard still has its
    /// HTTP timeouts). When set it must be greater than zero and at most one hour. A large guard that ignores its
    /// cancellation token is abandoned when the timeout expires.</value>
    public TimeSpan? LargeGuardTimeout { get; set; }

    /// <summary>Gets or sets the time provider that runs <see cref="LargeGuardTimeout"/>.</summary>
    /// <value>The default is <see langword="null"/>: <see cref="TimeProvider.System"/>. <c>AddSafeRoute</c> passes the
    /// container's <see cref="System.TimeProvider"/> when one is registered.</value>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>Gets or sets a value indicating whether disposing the routed guard disposes the small and large guards
    /// (and the router, when it is disposable).</summary>
    /// <value>The default is <see langword="false"/>: the caller keeps ownership.</value>
    public bool OwnsGuards { get; set; }

    /// <summary>Gets or sets the meter factory that creates the "SafeRoute" meter.</summary>
    /// <value>The default is <see langword="null"/>: a process-wide "SafeRoute" meter. <c>AddSafeRoute</c> passes the
    /// container's <see cref="IMeterFactory"/> when one is registered.</value>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>Gets or sets the logger factory for the routed guard's source-generated log messages (which never contain user text).</summary>
    /// <value>The default is <see langword="null"/>: no logging.</value>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The largest <see cref="LargeGuardTimeout"/> accepted.</summary>
    internal static TimeSpan MaxLargeGuardTimeout { get; } = TimeSpan.FromHours(1);

    internal static bool IsValidLargeGuardTimeout(TimeSpan timeout) => timeout > TimeSpan.Zero && timeout <= MaxLargeGuardTimeout;
}
