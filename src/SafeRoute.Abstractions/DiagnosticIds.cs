namespace SafeRoute;

/// <summary>The diagnostic ids of SafeRoute's experimental API (<see cref="System.Diagnostics.CodeAnalysis.ExperimentalAttribute"/>).</summary>
internal static class DiagnosticIds
{
    /// <summary>The scoring contract, category scores and classifier guards (issue 15); may change before 1.0.</summary>
    public const string Scoring = "SAFEROUTE001";
}
