using System.Globalization;
using System.Text.Json;

namespace SafeRoute.ModelPrep;

/// <summary>
/// Writes the guard, router and development splits as JSONL in the dataset schema (the exact rows and split that
/// <c>tokenize</c> and the default models use), for the <c>saferoute</c> CLI. Prints counts only, never text.
/// </summary>
internal static class SplitCommand
{
    public static int Run(Dictionary<string, string> options)
    {
        string data = Program.Required(options, "data");
        string outDir = Program.Required(options, "out");
        int alpaca = int.Parse(Program.Optional(options, "alpaca", "4000"), CultureInfo.InvariantCulture);
        int seed = int.Parse(Program.Optional(options, "seed", "1234"), CultureInfo.InvariantCulture);
        Directory.CreateDirectory(outDir);

        (List<(DataRow Row, string Split)> rows, _, _) = Dataset.Split(Dataset.ReadAll(data), alpaca, seed);
        foreach (string split in (string[])[Dataset.Guard, Dataset.Router, Dataset.Dev])
        {
            string path = Path.Combine(outDir, split + ".jsonl");
            int count = 0;
            using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write))
            using (var writer = new Utf8JsonWriter(stream))
            {
                foreach ((DataRow row, string s) in rows)
                {
                    if (s != split)
                    {
                        continue;
                    }

                    writer.WriteStartObject();
                    writer.WriteString("id", row.Id);
                    writer.WriteString("source", row.Source);
                    writer.WriteString("prompt", row.Prompt);
                    if (row.Response is null)
                    {
                        writer.WriteNull("response");
                    }
                    else
                    {
                        writer.WriteString("response", row.Response);
                    }

                    writer.WriteNumber("label", row.Label);
                    writer.WriteEndObject();
                    writer.Flush();
                    stream.WriteByte((byte)'\n');
                    writer.Reset();
                    count++;
                }
            }

            Console.WriteLine($"{split}: {count} rows -> {path}");
        }

        return 0;
    }
}
