namespace SafeRoute;

/// <summary>Which guard model produced a verdict.</summary>
public enum GuardTier
{
    /// <summary>The small, cheap guard that sees every input.</summary>
    Small = 0,

    /// <summary>The large, accurate guard that sees only the inputs the router calls hard.</summary>
    Large = 1,
}
