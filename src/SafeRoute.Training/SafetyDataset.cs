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
    public static IEnumerable<SafetyExample> Read(string path) => Read(path, DuplicateIdHandling.Error);

    /// <summary>Reads a JSONL data set, handling rows whose id was already seen as <paramref name="duplicates"/> says.</summary>
    /// <param name="path">The file.</param>
    /// <param name="duplicates">What to do with a row whose id an earlier row of the file has.</param>
    /// <returns>The rows, streamed.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="DatasetFormatException">A row is malformed, or (with <see cref="DuplicateIdHandling.Error"/>) ids repeat:
    /// thrown after the whole file has been read, naming the first repeat and the count of all of them.</exception>
    public static IEnumerable<SafetyExample> Read(string path, DuplicateIdHandling duplicates)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return ReadFile(path, duplicates);

        static IEnumerable<SafetyExample> ReadFile(string path, DuplicateIdHandling duplicates)
        {
            using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            foreach (SafetyExample example in ReadCore(reader, path, duplicates))
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
        return ReadCore(reader, sourceName, DuplicateIdHandling.Error);
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

    private static IEnumerable<SafetyExample> ReadCore(TextReader reader, string source, DuplicateIdHandling duplicates)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNumber = 0;
        int repeats = 0;
        (int Line, string Id, int FirstLine) first = default;
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
                switch (duplicates)
                {
                    case DuplicateIdHandling.Skip:
                        continue;
                    case DuplicateIdHandling.Rename:
                        example = Renamed(example, seen, lineNumber);
                        break;
                    default:
                        // Keep reading: the error reports every repeat, not only the first.
                        if (repeats++ == 0)
                        {
                            first = (lineNumber, example.Id, seen[example.Id]);
                        }

                        continue;
                }
            }

            yield return example;
        }

        if (repeats > 0)
        {
            throw new DatasetFormatException(source, first.Line, "id", string.Create(CultureInfo.InvariantCulture,
                $"duplicate id '{first.Id}' (first seen on line {first.FirstLine}); {repeats} row(s) in all repeat an earlier id (skip or rename them: DuplicateIdHandling, or --on-duplicate-id in the saferoute tool)"));
        }
    }

    /// <summary>Reads several JSONL data sets as one: ids must be unique across all of them, and a row whose id an
    /// earlier row (of the same or an earlier file) has is handled as <paramref name="duplicates"/> says.</summary>
    /// <param name="paths">The files, in order.</param>
    /// <param name="duplicates">What to do with a repeated id.</param>
    /// <returns>The rows, in file order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is null.</exception>
    /// <exception cref="DatasetFormatException">A row is malformed, or (with <see cref="DuplicateIdHandling.Error"/>) ids
    /// repeat: after everything has been read, naming the first repeat and counting all of them.</exception>
    public static IReadOnlyList<SafetyExample> ReadAll(IEnumerable<string> paths, DuplicateIdHandling duplicates)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var rows = new List<SafetyExample>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        (string Path, int Line, string Id)? first = null;
        int repeats = 0;
        foreach (string path in paths)
        {
            foreach (SafetyExample row in Read(path, duplicates))
            {
                SafetyExample kept = row;
                if (!seen.TryAdd(row.Id, row.LineNumber))
                {
                    if (duplicates == DuplicateIdHandling.Skip)
                    {
                        continue;
                    }

                    if (duplicates != DuplicateIdHandling.Rename)
                    {
                        first ??= (path, row.LineNumber, row.Id);
                        repeats++;
                        continue;
                    }

                    kept = Renamed(row, seen, row.LineNumber);
                }

                rows.Add(kept);
            }
        }

        if (first is { } f)
        {
            throw new DatasetFormatException(f.Path, f.Line, "id", string.Create(CultureInfo.InvariantCulture,
                $"duplicate id '{f.Id}' (already in an earlier data file); {repeats} row(s) in all repeat an id of an earlier file (skip or rename them: DuplicateIdHandling, or --on-duplicate-id in the saferoute tool)"));
        }

        return rows;
    }

    /// <summary>The row under the first free id of the form <c>id~2</c>, <c>id~3</c>, ….</summary>
    internal static SafetyExample Renamed(SafetyExample example, Dictionary<string, int> seen, int lineNumber)
    {
        for (int n = 2; ; n++)
        {
            string id = string.Create(CultureInfo.InvariantCulture, $"{example.Id}~{n}");
            if (seen.TryAdd(id, lineNumber))
            {
                return new SafetyExample(id, example.Prompt, example.Response, example.Label) { Source = example.Source, Category = example.Category, LineNumber = example.LineNumber };
            }
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
