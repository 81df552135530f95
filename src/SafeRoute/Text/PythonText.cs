namespace SafeRoute.Text;

/// <summary>Text clean-up with the semantics of the Python reference (Hugging Face chat templates).</summary>
internal static class PythonText
{
    /// <summary>Whether <paramref name="c"/> is white space by Python's <c>str.isspace()</c> (see <see cref="SafetyText"/>).</summary>
    /// <param name="c">The character.</param>
    /// <returns><see langword="true"/> when Python would strip it.</returns>
    public static bool IsWhiteSpace(char c) => SafetyText.IsWhiteSpace(c);

    /// <summary>Whether every character of <paramref name="text"/> is Python white space (true for the empty string).</summary>
    /// <param name="text">The text.</param>
    /// <returns><see langword="true"/> when <c>text.strip()</c> would be empty in Python.</returns>
    public static bool IsAllWhiteSpace(string text) => SafetyText.IsBlank(text);

    /// <summary>Python's <c>str.strip()</c> with no argument.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The text without leading and trailing Python white space.</returns>
    public static string Strip(string text) => SafetyText.Strip(text);

    /// <summary>Replaces every lone (unpaired) UTF-16 surrogate with U+FFFD (see <see cref="SafetyText.ReplaceLoneSurrogates"/>).</summary>
    /// <param name="text">The text.</param>
    /// <returns>The text, or a copy with lone surrogates replaced.</returns>
    public static string ReplaceLoneSurrogates(string text) => SafetyText.ReplaceLoneSurrogates(text);
}
