using System.Diagnostics.CodeAnalysis;

namespace SafeRoute;

/// <summary>
/// How a guard reports harm categories (<see cref="SafetyVerdict.Categories"/>): per-category thresholds and categories to
/// ignore (an allow-list).
/// </summary>
/// <remarks>
/// <para><b>Thresholds</b> decide which categories a verdict flags (<see cref="CategoryScore.IsFlagged"/>), which is what
/// the chat middleware and telemetry report. They do not move the unsafe decision, which stays p(unsafe) &gt;
/// <see cref="SafetyVerdict.DecisionThreshold"/>, so every verdict's <see cref="SafetyVerdict.IsUnsafe"/> agrees with its
/// probability.</para>
/// <para><b>Ignored categories</b> are allowed content: their share is taken out of p(unsafe). For a guard whose
/// categories are a distribution given "unsafe" (Llama Guard 3: q over S1–S14), p(unsafe) becomes p · (1 − Σ q of the
/// ignored categories); for a multi-label classifier, p(unsafe) is the largest probability among the unsafe labels that
/// are not ignored; for a per-policy guard (ShieldGemma, Granite Guardian: one category per policy), p(unsafe) is the largest
/// p(violation) among the policies that are not ignored. Ignored categories are reported, never flagged.</para>
/// </remarks>
[Experimental(DiagnosticIds.Scoring)]
public sealed class CategoryOptions
{
    /// <summary>Gets the thresholds by category code (for example <c>S1</c>, or a classifier label); a category not
    /// listed uses <see cref="DefaultThreshold"/>. Codes are compared ordinally, ignoring case.</summary>
    public IDictionary<string, float> Thresholds { get; } = new Dictionary<string, float>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets the threshold of a category not in <see cref="Thresholds"/>.</summary>
    /// <value>The default is 0.5.</value>
    public float DefaultThreshold { get; set; } = 0.5f;

    /// <summary>Gets the categories to ignore (allowed content), by code; compared ordinally, ignoring case.</summary>
    public ISet<string> Ignore { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets a value indicating whether a decoder guard with category rows (Llama Guard 3) runs its extra
    /// category pass on unsafe verdicts. A per-policy guard reports its policies whatever this says (they cost no extra
    /// pass).</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    internal List<string> Problems()
    {
        var problems = new List<string>();
        if (!(DefaultThreshold >= 0f && DefaultThreshold <= 1f))
        {
            problems.Add($"DefaultThreshold is {DefaultThreshold}; it must be in [0, 1].");
        }

        foreach (KeyValuePair<string, float> entry in Thresholds)
        {
            if (string.IsNullOrWhiteSpace(entry.Key) || !(entry.Value >= 0f && entry.Value <= 1f))
            {
                problems.Add($"Thresholds['{entry.Key}'] is {entry.Value}; each threshold must be in [0, 1] with a non-empty category code.");
            }
        }

        return problems;
    }

    internal float ThresholdOf(string code) => Thresholds.TryGetValue(code, out float t) ? t : DefaultThreshold;
}
