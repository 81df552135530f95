using SafeRoute.Text;

namespace SafeRoute.Tests.Text;

[TestFixture]
public sealed class PythonTextTests
{
    /// <summary>Python 3.12's str.isspace() set, checked with python3 over all code points.</summary>
    private static readonly int[] PythonSpaces =
    [
        0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
        0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    ];

    [Test]
    public void WhiteSpaceSet_MatchesPython()
    {
        int[] ours = [.. Enumerable.Range(0, 0x10000).Where(c => PythonText.IsWhiteSpace((char)c))];
        Assert.That(ours, Is.EqualTo(PythonSpaces));
    }

    [TestCase("\u200Bzero-width stays\u200B", "\u200Bzero-width stays\u200B")]
    [TestCase(" \t\n ", "")]
    [TestCase("", "")]
    [TestCase("a", "a")]
    public void Strip(string input, string expected) => Assert.That(PythonText.Strip(input), Is.EqualTo(expected));

    // Control characters in [TestCase] arguments make the test adapter drop the case (it never ran), so it is named in code.
    [Test]
    public void Strip_InformationSeparatorsAndUnicodeSpaces() => Assert.That(PythonText.Strip("\u001F\u001C hi there \u0085\u3000"), Is.EqualTo("hi there"));

    // Lone surrogates cannot live in attribute arguments (metadata is UTF-8), so the cases come from code.
    private static IEnumerable<TestCaseData> SurrogateCases() =>
    [
        new TestCaseData("ok \U0001F642", "ok \U0001F642").SetName("PairKept"),
        new TestCaseData("\uD800", "\uFFFD").SetName("LoneHigh"),
        new TestCaseData("\uDC00x\uD83D", "\uFFFDx\uFFFD").SetName("LoneLowThenTrailingHigh"),
        new TestCaseData("\uDE42\uD83D", "\uFFFD\uFFFD").SetName("ReversedPair"),
        new TestCaseData("a\uD83D\uDE42\uD83D", "a\U0001F642\uFFFD").SetName("PairThenLoneHigh"),
    ];

    [TestCaseSource(nameof(SurrogateCases))]
    public void ReplaceLoneSurrogates(string input, string expected) => Assert.That(PythonText.ReplaceLoneSurrogates(input), Is.EqualTo(expected));
}
