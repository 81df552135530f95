namespace SafeRoute.Training;

/// <summary>A row of a JSONL safety data set is malformed. The message names the file, the line and the field, never the row's text.</summary>
public sealed class DatasetFormatException : FormatException
{
    /// <summary>Initializes a new instance of the <see cref="DatasetFormatException"/> class.</summary>
    public DatasetFormatException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DatasetFormatException"/> class.</summary>
    /// <param name="message">The message.</param>
    public DatasetFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DatasetFormatException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public DatasetFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DatasetFormatException"/> class for a problem at a known place.</summary>
    /// <param name="path">The file (or source name).</param>
    /// <param name="lineNumber">The 1-based line.</param>
    /// <param name="field">The field, or <see langword="null"/> when the whole line is at fault.</param>
    /// <param name="problem">What is wrong.</param>
    /// <param name="innerException">The cause, if any.</param>
    public DatasetFormatException(string path, int lineNumber, string? field, string problem, Exception? innerException = null)
        : base(Format(path, lineNumber, field, problem), innerException)
    {
        Path = path;
        LineNumber = lineNumber;
        Field = field;
    }

    /// <summary>Gets the file (or source name) the row came from.</summary>
    public string? Path { get; }

    /// <summary>Gets the 1-based line of the malformed row (0 when unknown).</summary>
    public int LineNumber { get; }

    /// <summary>Gets the field at fault, or <see langword="null"/> when the whole line is.</summary>
    public string? Field { get; }

    private static string Format(string path, int lineNumber, string? field, string problem) =>
        field is null
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path}:{lineNumber}: {problem}")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path}:{lineNumber}: field '{field}': {problem}");
}
