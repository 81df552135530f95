namespace SafeRoute;

/// <summary>The outcome of a safety check.</summary>
public sealed record SafetyVerdict
{
    /// <summary>The decision threshold δ of the method: p(unsafe) above it is unsafe.</summary>
    public const float DecisionThreshold = 0.5f;

    /// <summary>Gets a value indicating whether the content was judged unsafe.</summary>
    /// <value><see langword="true"/> when <see cref="UnsafeProbability"/> is above the decision threshold (0.5), or when
    /// a failure was handled by failing closed.</value>
    public required bool IsUnsafe { get; init; }

    /// <summary>Gets p(unsafe) from the deciding guard: the softmax over its two verdict logits.</summary>
    /// <value>A value in [0, 1]; 1 for a fail-closed verdict.</value>
    public required float UnsafeProbability { get; init; }

    /// <summary>Gets which guard decided.</summary>
    public required GuardTier DecidedBy { get; init; }

    /// <summary>Gets the router's score for this input, when a routed guard evaluated it.</summary>
    /// <value><see langword="null"/> when no router was involved.</value>
    public float? RouterScore { get; init; }

    /// <summary>Gets a value indicating whether the router sent this input to the large guard.</summary>
    public bool Routed { get; init; }

    /// <summary>Gets a value indicating whether the user text was shortened to fit the model's context
    /// (head and tail kept; the template is never cut).</summary>
    public bool WasTruncated { get; init; }

    /// <summary>Gets a value indicating whether this verdict was produced by a failure policy instead of the guard
    /// that should have decided (see <see cref="LargeGuardFailurePolicy"/>).</summary>
    public bool IsDegraded { get; init; }

    /// <summary>Gets the name of the model that produced the verdict, for logs and metrics.</summary>
    public string? ModelName { get; init; }

    /// <summary>Gets the deciding guard's category scores, when its family has categories (Llama Guard 3's S1–S14 for an
    /// unsafe verdict, a multi-label classifier's labels); <see langword="null"/> otherwise. Never contains user text.</summary>
    [System.Diagnostics.CodeAnalysis.Experimental(DiagnosticIds.Scoring)]
    public IReadOnlyList<CategoryScore>? Categories { get; init; }

    /// <summary>Gets the verdict of the small guard when the large guard decided (or failed), for diagnostics.</summary>
    public SafetyVerdict? SmallVerdict { get; init; }
}
