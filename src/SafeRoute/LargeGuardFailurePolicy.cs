namespace SafeRoute;

/// <summary>What a routed guard returns when the large guard fails (throws anything but a cancellation).</summary>
/// <remarks>No policy ever yields a silent "safe": every policy except <see cref="Throw"/> marks the verdict
/// <see cref="SafetyVerdict.IsDegraded"/>.</remarks>
public enum LargeGuardFailurePolicy
{
    /// <summary>Return an unsafe verdict (p = 1) decided by the large tier and marked degraded. The default.</summary>
    FailClosed = 0,

    /// <summary>Return the small guard's verdict, marked degraded.</summary>
    FallBackToSmall = 1,

    /// <summary>Rethrow the large guard's exception to the caller.</summary>
    Throw = 2,
}
