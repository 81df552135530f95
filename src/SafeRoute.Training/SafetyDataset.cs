using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SafeRoute.Training;

/// <summary>
/// Reads labelled safety data in the project's JSONL schema: one JSON object a line with <c>id</c> (string),
/// <c>source</c> (string, optional), <c>prompt</c> (string), <c>response</c> (string or null, optional),
/// <c>label</c> (0 or 1; 1 = unsafe) and <c>category</c> (string or null, optional). Other fields are ignored.
/// </summary>
/// <remarks>
/// Rows are streamed: <see cref="Read(string)"/> holds one line at a time plus the set of ids seen so far (duplicate ids
/// are rejected with both line numbers). Blank lines are skipped. A malformed row stops the read with a
/// <see cref="DatasetFormatException"/> that names the file, the 1-based line and the field; messages never contain
/// the row's text (safety data is harmful by nature and must not reach logs).
/// </remarks>
public static class SafetyDataset
{
    /// <summary>Streams the rows of a JSONL file.</summary>
    /// <param name="path">The file, UTF-8 (a byte-order mark is allowed).</param>
    /// <returns>The rows, in file order, read lazily.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="DatasetFormatException">A row is malformed (thrown when enumeration reaches it).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IEnumerable<SafetyExample> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ReadFile(path);

        static IEnumerable<SafetyExample> ReadFile(string path)
        {
            using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            foreach (SafetyExample example in ReadCore(reader, path))
            {
                yield return example;
            }
        }
    }

    /// <summary>Streams JSONL rows from a reader (which is not disposed).</summary>
    /// <param name="reader">The text to read.</param>
    /// <param name="sourceName">The name used in error messages (for example a file name).</param>
    /// <returns>The rows, in order, read lazily.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="reader"/> or <paramref name="sourceName"/> is null.</exception>
    /// <exception cref="DatasetFormatException">A row is malformed (thrown when enumeration reaches it).</exception>
    public static IEnumerable<SafetyExample> Read(TextReader reader, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(sourceName);
        return ReadCore(reader, sourceName);
    }

    /// <summary>Reads every row of a JSONL file into a list.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The rows, in file order.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="DatasetFormatException">A row is malformed.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IReadOnlyList<SafetyExample> Load(string path) => [.. Read(path)];

    /// <summary>
    /// Writes one row as a line of JSONL in the schema <see cref="Read(string)"/> reads (<c>id</c>, <c>source</c>,
    /// <c>prompt</c>, <c>response</c> as a string or null, <c>label</c>, and <c>category</c> when set), UTF-8, ending
    /// in <c>\n</c>. The stream is neither flushed nor disposed.
    /// </summary>
    /// <param name="stream">The stream to append the line to.</param>
    /// <param name="example">The row.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> or <paramref name="example"/> is null.</exception>
    public static void Write(Stream stream, SafetyExample example)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(example);
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("id", example.Id);
            writer.WriteString("source", example.Source);
            writer.WriteString("prompt", example.Prompt);
            if (example.Response is null)
            {
                writer.WriteNull("response");
            }
            else
            {
                writer.WriteString("response", example.Response);
            }

            writer.WriteNumber("label", example.Label);
            if (example.Category is not null)
            {
                writer.WriteString("category", example.Category);
            }

            writer.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
    }

    private static IEnumerable<SafetyExample> ReadCore(TextReader reader, string source)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNumber = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            SafetyExample example = ParseLine(line, source, lineNumber);
            if (!seen.TryAdd(example.Id, lineNumber))
            {
                throw new DatasetFormatException(source, lineNumber, "id", string.Create(CultureInfo.InvariantCulture, $"duplicate id '{example.Id}' (first seen on line {seen[example.Id]})"));
            }

            yield return example;
        }
    }

    private static SafetyExample ParseLine(string line, string source, int lineNumber)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            // The JSON reader's message can quote the offending text; report only its position.
            throw new DatasetFormatException(source, lineNumber, null, string.Create(CultureInfo.InvariantCulture, $"not valid JSON (at byte {ex.BytePositionInLine ?? 0})"), ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new DatasetFormatException(source, lineNumber, null, $"expected a JSON object, found {Kind(root.ValueKind)}");
            }

            string id = RequiredString(root, "id", source, lineNumber);
            string prompt = RequiredString(root, "prompt", source, lineNumber);
            string? response = OptionalString(root, "response", source, lineNumber);
            string? rowSource = OptionalString(root, "source", source, lineNumber);
            string? category = OptionalString(root, "category", source, lineNumber);
            int label = Label(root, source, lineNumber);
            return new SafetyExample(id, prompt, response, label)
            {
                Source = rowSource ?? "",
                Category = category,
                LineNumber = lineNumber,
            };
        }
    }

    private static string RequiredString(JsonElement root, string field, string source, int lineNumber)
    {
        if (!root.TryGetProperty(field, out JsonElement value) || value.ValueKind is JsonValueKind.Null)
        {
            throw new DatasetFormatException(source, lineNumber, field, "missing (a non-empty string is required)");
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw new DatasetFormatException(source, lineNumber, field, $"expected a string, found {Kind(value.ValueKind)}");
        }

        string text = value.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new DatasetFormatException(source, lineNumber, field, "empty (a non-empty string is required)");
        }

        return text;
    }

    private static string? OptionalString(JsonElement root, string field, string source, int lineNumber)
    {
        if (!root.TryGetProperty(field, out JsonElement value) || value.ValueKind is JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new DatasetFormatException(source, lineNumber, field, $"expected a string or null, found {Kind(value.ValueKind)}");
    }

    private static int Label(JsonElement root, string source, int lineNumber)
    {
        if (!root.TryGetProperty("label", out JsonElement value) || value.ValueKind is JsonValueKind.Null)
        {
            throw new DatasetFormatException(source, lineNumber, "label", "missing (0 or 1 is required)");
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            throw new DatasetFormatException(source, lineNumber, "label", $"expected the number 0 or 1, found {Kind(value.ValueKind)}");
        }

        if (!value.TryGetInt32(out int label) || label is not (0 or 1))
        {
            throw new DatasetFormatException(source, lineNumber, "label", $"expected 0 or 1, found {value.GetRawText()}");
        }

        return label;
    }

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
