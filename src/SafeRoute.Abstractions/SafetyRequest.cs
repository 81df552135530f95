namespace SafeRoute;

/// <summary>An input to a safety guard: a user prompt and, optionally, the assistant's response to it.</summary>
/// <remarks>
/// With a response, the verdict is about the response (Llama Guard's <c>Agent</c> role); without one, it is about
/// the prompt (<c>User</c> role). A response that is empty or only white space is treated as absent.
/// <para>
/// White space is Python's <c>str.isspace()</c> set, the one Llama Guard's chat template strips with <c>str.strip()</c>
/// (the set .NET's <see cref="char.IsWhiteSpace(char)"/> uses plus the separators U+001C–U+001F), so the prompt a guard
/// sees is never empty and every guard (local templates and the remote prompt) judges the same turns.
/// </para>
/// </remarks>
public sealed class SafetyRequest : IEquatable<SafetyRequest>
{
    /// <summary>Creates a request.</summary>
    /// <param name="prompt">The user's message. Must contain at least one non-white-space character.</param>
    /// <param name="response">The assistant's reply, or <see langword="null"/> to check the prompt alone.</param>
    /// <exception cref="ArgumentNullException"><paramref name="prompt"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="prompt"/> is empty or only white space (Python's <c>str.isspace()</c> set, U+001C–U+001F included).</exception>
    public SafetyRequest(string prompt, string? response = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (SafetyText.IsBlank(prompt))
        {
            throw new ArgumentException("The prompt is empty or consists only of white-space characters.", nameof(prompt));
        }

        Prompt = prompt;
        Response = response is null || SafetyText.IsBlank(response) ? null : response;
    }

    /// <summary>Gets the user's message, as given.</summary>
    public string Prompt { get; }

    /// <summary>Gets the assistant's reply, or <see langword="null"/> when the prompt alone is checked (a response that was only white space is stored as <see langword="null"/>).</summary>
    public string? Response { get; }

    /// <summary>Gets a value indicating whether the request carries a response (and the verdict is about it).</summary>
    public bool HasResponse => Response is not null;

    /// <summary>Creates a prompt-only request.</summary>
    /// <param name="prompt">The user's message.</param>
    /// <returns>The request.</returns>
    public static SafetyRequest FromPrompt(string prompt) => new(prompt);

    /// <inheritdoc/>
    public bool Equals(SafetyRequest? other) =>
        other is not null && string.Equals(Prompt, other.Prompt, StringComparison.Ordinal) && string.Equals(Response, other.Response, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as SafetyRequest);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(StringComparer.Ordinal.GetHashCode(Prompt), Response is null ? 0 : StringComparer.Ordinal.GetHashCode(Response));

    /// <summary>Returns a description that does not contain the user's text (safe to log).</summary>
    /// <returns>The lengths of the prompt and response.</returns>
    public override string ToString() => $"SafetyRequest {{ PromptLength = {Prompt.Length}, ResponseLength = {Response?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} }}";
}
