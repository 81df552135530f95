namespace SafeRoute.Training;

/// <summary>One labelled row of a safety data set (the JSONL schema of <see cref="SafetyDataset"/>).</summary>
/// <remarks><see cref="ToString"/> does not include the prompt or response text, so an example is safe to log.</remarks>
public sealed record SafetyExample
{
    /// <summary>Initializes a new instance of the <see cref="SafetyExample"/> class.</summary>
    /// <param name="id">The stable row id.</param>
    /// <param name="prompt">The user's message.</param>
    /// <param name="response">The assistant's reply, or <see langword="null"/> for a prompt-only row.</param>
    /// <param name="label">1 for unsafe, 0 for safe.</param>
    /// <exception cref="ArgumentException"><paramref name="id"/> or <paramref name="prompt"/> is null, empty or white space.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="label"/> is neither 0 nor 1.</exception>
    public SafetyExample(string id, string prompt, string? response, int label)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentException.ThrowIfNullOrWhiteSpace(prompt);
        if (label is not (0 or 1))
        {
            throw new ArgumentOutOfRangeException(nameof(label), label, "The label must be 0 (safe) or 1 (unsafe).");
        }

        Id = id;
        Prompt = prompt;
        Response = response;
        Label = label;
    }

    /// <summary>Gets the stable row id (unique within a data set).</summary>
    public string Id { get; }

    /// <summary>Gets the set the row came from.</summary>
    /// <value>The row's <c>source</c>; empty when the row has none.</value>
    public string Source { get; init; } = "";

    /// <summary>Gets the user's message.</summary>
    public string Prompt { get; }

    /// <summary>Gets the assistant's reply, or <see langword="null"/> for a prompt-only row.</summary>
    public string? Response { get; }

    /// <summary>Gets the label: 1 = unsafe (for a pair, the response is unsafe), 0 = safe.</summary>
    public int Label { get; }

    /// <summary>Gets a value indicating whether the row is labelled unsafe.</summary>
    public bool IsUnsafe => Label == 1;

    /// <summary>Gets the source's own category, if any.</summary>
    /// <value><see langword="null"/> when the row has none.</value>
    public string? Category { get; init; }

    /// <summary>Gets the 1-based line of the file the row was read from (0 for rows built in code).</summary>
    public int LineNumber { get; init; }

    /// <summary>Creates the guard input for this row.</summary>
    /// <returns>A request with the prompt and, when present, the response.</returns>
    public SafetyRequest ToRequest() => new(Prompt, Response);

    /// <summary>Returns a description without the row's text (safe to log).</summary>
    /// <returns>The id, source, label and text lengths.</returns>
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"SafetyExample {{ Id = {Id}, Source = {Source}, Label = {Label}, PromptLength = {Prompt.Length}, ResponseLength = {Response?.Length ?? -1} }}");
}
