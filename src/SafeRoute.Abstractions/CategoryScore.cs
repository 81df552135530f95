using System.Diagnostics.CodeAnalysis;

namespace SafeRoute;

/// <summary>One harm category a guard scored, such as Llama Guard 3's <c>S1</c> ("Violent Crimes").</summary>
/// <param name="Name">The category's code as the guard names it (for example <c>S1</c>, or a classifier's label).</param>
/// <param name="Probability">The guard's probability for the category, in [0, 1].</param>
/// <param name="IsFlagged">Whether the category passed its threshold and is not ignored (see the guard's category options).</param>
[Experimental(DiagnosticIds.Scoring)]
public sealed record CategoryScore(string Name, float Probability, bool IsFlagged);
