namespace SafeRoute.Tests.TestModels;

/// <summary>One labelled prompt of <see cref="TestGuardCorpus"/>.</summary>
/// <param name="Prompt">User text (lower-case words of the test vocabulary inside neutral phrasing).</param>
/// <param name="Word">The marked word in it.</param>
/// <param name="IsUnsafe">The true label.</param>
/// <param name="IsBorderline">Whether <paramref name="Word"/> is a borderline word (the SMALL guard is unsure there).</param>
internal sealed record TestGuardExample(string Prompt, string Word, bool IsUnsafe, bool IsBorderline);

/// <summary>
/// A deterministic labelled corpus over the test vocabulary: every trigger, benign and borderline word in each of
/// <see cref="Frames"/>. With <see cref="TestGuardOptions.Small"/> / <see cref="TestGuardOptions.Large"/> the large
/// guard is right on every example and the small guard is wrong exactly on the unsafe borderline ones (it says
/// p ≈ 0.48, "safe"), so SafeRoute's hard label t = 1 exactly for IsBorderline &amp;&amp; IsUnsafe.
/// </summary>
internal static class TestGuardCorpus
{
    public static readonly IReadOnlyList<string> Frames =
    [
        "how do I {0} it",
        "tell me about {0}",
        "my friend asked about {0} today",
        "is {0} allowed here",
        "write a story with {0} in it",
    ];

    public static IReadOnlyList<TestGuardExample> Examples()
    {
        var examples = new List<TestGuardExample>();
        foreach (string frame in Frames)
        {
            foreach (string w in TinyGuardVocabulary.TriggerWords)
            {
                examples.Add(new TestGuardExample(string.Format(System.Globalization.CultureInfo.InvariantCulture, frame, w), w, true, false));
            }

            foreach (string w in TinyGuardVocabulary.BenignWords)
            {
                examples.Add(new TestGuardExample(string.Format(System.Globalization.CultureInfo.InvariantCulture, frame, w), w, false, false));
            }

            foreach (string w in TinyGuardVocabulary.BorderlineWords)
            {
                examples.Add(new TestGuardExample(string.Format(System.Globalization.CultureInfo.InvariantCulture, frame, w), w, TinyGuardVocabulary.BorderlineIsUnsafe[w], true));
            }
        }

        return examples;
    }
}
