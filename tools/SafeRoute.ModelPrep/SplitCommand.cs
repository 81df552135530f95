using System.Globalization;
using SafeRoute.Training;

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
            {
                foreach ((DataRow row, string s) in rows)
                {
                    if (s == split)
                    {
                        SafetyDataset.Write(stream, new SafetyExample(row.Id, row.Prompt, row.Response, row.Label) { Source = row.Source });
                        count++;
                    }
                }
            }

            Console.WriteLine($"{split}: {count} rows -> {path}");
        }

        return 0;
    }
}
