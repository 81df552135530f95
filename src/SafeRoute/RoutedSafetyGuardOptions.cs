using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace SafeRoute;

/// <summary>Settings of a <see cref="RoutedSafetyGuard"/>.</summary>
public sealed class RoutedSafetyGuardOptions
{
    /// <summary>Gets or sets the routing threshold ε: an input goes to the large guard when the router's score is above it.</summary>
    /// <value>The default is <see langword="null"/>: the router's own default (a trained router's calibrated threshold
    /// from its file, else 0.5).</value>
    public float? Threshold { get; set; }

    /// <summary>Gets or sets what happens when the large guard fails.</summary>
    /// <value>The default is <see cref="LargeGuardFailurePolicy.FailClosed"/>.</value>
    public LargeGuardFailurePolicy FailurePolicy { get; set; } = LargeGuardFailurePolicy.FailClosed;

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
}
