namespace SafeRoute;

/// <summary>Settings for <c>services.AddSafeRoute(...)</c>: the two guard models, the router and the routing policy.</summary>
public sealed class SafeRouteOptions
{
    /// <summary>The configuration section name used in the README's examples.</summary>
    public const string SectionName = "SafeRoute";

    /// <summary>Gets or sets the small guard, which sees every input.</summary>
    public GuardModelOptions SmallModel { get; set; } = new();

    /// <summary>Gets or sets the large guard, which sees only routed inputs. Ignored when a custom large guard is
    /// registered with <c>AddSafeRoute(..., largeGuardFactory)</c>.</summary>
    public GuardModelOptions LargeModel { get; set; } = new();

    /// <summary>Gets or sets the router.</summary>
    public RouterOptions Router { get; set; } = new();

    /// <summary>Gets or sets the routing threshold ε.</summary>
    /// <value>The default is <see langword="null"/>: the router's default (a trained router's calibrated threshold, else 0.5).</value>
    public float? Threshold { get; set; }

    /// <summary>Gets or sets whether the routing threshold depends on the input's length (see
    /// <see cref="RoutedSafetyGuardOptions.LengthAwareRouting"/>).</summary>
    /// <value>The default is <see langword="null"/>: on when the router carries a calibrated reference length (the default
    /// models' router does), off otherwise.</value>
    public bool? LengthAwareRouting { get; set; }

    /// <summary>Gets or sets what happens when the large guard fails.</summary>
    /// <value>The default is <see cref="LargeGuardFailurePolicy.FailClosed"/>.</value>
    public LargeGuardFailurePolicy FailurePolicy { get; set; } = LargeGuardFailurePolicy.FailClosed;

    /// <summary>Gets or sets how long one call to the large guard may take before it counts as a large-guard failure that
    /// <see cref="FailurePolicy"/> handles (see <see cref="RoutedSafetyGuardOptions.LargeGuardTimeout"/>). In configuration
    /// a <see cref="TimeSpan"/> string: <c>"SafeRoute:LargeGuardTimeout": "00:00:02"</c>.</summary>
    /// <value>The default is <see langword="null"/>: none. When set it must be greater than zero and at most one hour.</value>
    public TimeSpan? LargeGuardTimeout { get; set; }

    /// <summary>Gets or sets a value indicating whether a hosted service loads both models and runs each once when the host starts.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool WarmUp { get; set; } = true;
}
