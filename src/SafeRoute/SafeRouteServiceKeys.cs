namespace SafeRoute;

/// <summary>Service keys under which <c>AddSafeRoute</c> registers the two tiers as keyed <see cref="ISafetyGuard"/> services.</summary>
public static class SafeRouteServiceKeys
{
    /// <summary>The small guard: <c>[FromKeyedServices(SafeRouteServiceKeys.Small)] ISafetyGuard small</c>.</summary>
    public const string Small = "small";

    /// <summary>The large guard: <c>[FromKeyedServices(SafeRouteServiceKeys.Large)] ISafetyGuard large</c>.</summary>
    public const string Large = "large";
}
