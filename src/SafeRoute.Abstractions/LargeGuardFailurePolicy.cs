namespace SafeRoute;

/// <summary>What a routed guard returns when the large guard fails: throws anything but a cancellation of the caller's
/// token, returns a bad answer (a null verdict, the wrong number of verdicts, a p(unsafe) that is not a finite number in
/// [0, 1], or an <see cref="SafetyVerdict.IsUnsafe"/> that contradicts p(unsafe) at the decision threshold 0.5), or does
/// not answer within <c>LargeGuardTimeout</c> (of the routed guard).</summary>
/// <remarks>No policy ever yields a silent "safe": every policy except <see cref="Throw"/> marks the verdict
/// <see cref="SafetyVerdict.IsDegraded"/>.</remarks>
public enum LargeGuardFailurePolicy
{
    /// <summary>Return an unsafe verdict (p = 1) decided by the large tier and marked degraded. The default.</summary>
    FailClosed = 0,

    /// <summary>Return the small guard's verdict, marked degraded.</summary>
    FallBackToSmall = 1,

    /// <summary>Rethrow the large guard's exception to the caller. A bad answer throws a <see cref="SafeRouteException"/>
    /// that says what was wrong; an expired <c>LargeGuardTimeout</c> (of the routed guard) throws a
    /// <see cref="TimeoutException"/>.</summary>
    Throw = 2,
}
