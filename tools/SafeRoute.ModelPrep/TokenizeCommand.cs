using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;
using SafeRoute.Models;
using SafeRoute.Text;

namespace SafeRoute.ModelPrep;

/// <summary>Split the data and tokenize every row with the library's PromptEncoder.</summary>
internal static class TokenizeCommand
{
    public const string PromptOnlyTemplate = "Task: is the user message safe or unsafe?\nUser: {prompt}\nAnswer:";
    public const string PromptAndResponseTemplate = "Task: is the agent reply safe or unsafe?\nUser: {prompt}\nAgent: {response}\nAnswer:";
    public const int PadTokenId = 50256; // GPT-2 <|endoftext|>; padded positions are masked in the graph

    public static int Run(Dictionary<string, string> options)
    {
        string data = Program.Required(options, "data");
        string work = Program.Required(options, "work");
        int alpaca = int.Parse(Program.Optional(options, "alpaca", "4000"), CultureInfo.InvariantCulture);
        int seed = int.Parse(Program.Optional(options, "seed", "1234"), CultureInfo.InvariantCulture);
        int maxSeq = int.Parse(Program.Optional(options, "max-seq", "256"), CultureInfo.InvariantCulture);

        (int safeId, int unsafeId) = VerdictTokenIds();
        string templateDir = WorkFiles.TemplateDirectory(work);
        Directory.CreateDirectory(templateDir);
        JsonObject manifest = BuildManifest(safeId, unsafeId, maxSeq);
        File.WriteAllText(Path.Combine(templateDir, GuardManifest.FileName), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        PromptEncoder encoder = PromptEncoder.Create(GuardManifest.Load(Path.GetFullPath(templateDir)));

        List<DataRow> all = Dataset.ReadAll(data);
        (List<(DataRow Row, string Split)> rows, int duplicates, int alpacaDropped) = Dataset.Split(all, alpaca, seed);

        int truncated = 0;
        var lengths = new List<int>(rows.Count);
        using (var writer = new StreamWriter(WorkFiles.RowsPath(work)))
        {
            foreach ((DataRow row, string split) in rows)
            {
                EncodedPrompt encoded = encoder.Encode(new SafetyRequest(row.Prompt, row.Response));
                truncated += encoded.Truncated ? 1 : 0;
                lengths.Add(encoded.TokenIds.Length);
                writer.WriteLine(WorkFiles.RowNode(row, split, encoded.Truncated, encoded.TokenIds).ToJsonString());
            }
        }

        // Unlabelled text for the large guard's language-model pre-training: the Alpaca rows cut from the labelled data
        // (all benign instructions), minus any whose normalised text equals a kept row. Ids only, never text, never labels.
        int lmRows = 0;
        using (var writer = new StreamWriter(Path.Combine(work, "lm_rows.jsonl")))
        {
            foreach (DataRow row in Dataset.CutAlpacaRows(all, rows, seed))
            {
                EncodedPrompt encoded = encoder.Encode(new SafetyRequest(row.Prompt, row.Response));
                writer.WriteLine(new JsonObject { ["ids"] = new JsonArray([.. encoded.TokenIds.Select(id => (JsonNode)id)]) }.ToJsonString());
                lmRows++;
            }
        }

        // Summary: counts only, never text.
        var summary = new JsonObject
        {
            ["seed"] = seed,
            ["alpacaRows"] = alpaca,
            ["alpacaDropped"] = alpacaDropped,
            ["inputRows"] = all.Count,
            ["duplicatesDropped"] = duplicates,
            ["rows"] = rows.Count,
            ["lmRows"] = lmRows,
            ["truncated"] = truncated,
            ["maxSequenceLength"] = maxSeq,
            ["safeTokenId"] = safeId,
            ["unsafeTokenId"] = unsafeId,
            ["lengthP50"] = Percentile(lengths, 0.5),
            ["lengthP90"] = Percentile(lengths, 0.9),
            ["lengthP99"] = Percentile(lengths, 0.99),
        };
        var splits = new JsonObject();
        foreach (IGrouping<string, (DataRow Row, string Split)> g in rows.GroupBy(r => r.Split).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var bySource = new JsonObject();
            foreach (IGrouping<string, (DataRow Row, string Split)> s in g.GroupBy(r => r.Row.Source).OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                bySource[s.Key] = new JsonArray(s.Count(r => r.Row.Label == 0), s.Count(r => r.Row.Label == 1));
            }

            splits[g.Key] = new JsonObject
            {
                ["rows"] = g.Count(),
                ["unsafe"] = g.Count(r => r.Row.Label == 1),
                ["withResponse"] = g.Count(r => r.Row.Response is not null),
                ["safeUnsafeBySource"] = bySource,
            };
        }

        summary["splits"] = splits;
        string text = summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(Path.Combine(work, "split.json"), text + "\n");
        Console.WriteLine(text);
        return 0;
    }

    /// <summary>The GPT-2 ids of " safe" and " unsafe" (each must be one token).</summary>
    public static (int Safe, int Unsafe) VerdictTokenIds()
    {
        TiktokenTokenizer gpt2 = TiktokenTokenizer.CreateForModel("gpt2");
        IReadOnlyList<int> safe = gpt2.EncodeToIds(" safe");
        IReadOnlyList<int> @unsafe = gpt2.EncodeToIds(" unsafe");
        if (safe.Count != 1 || @unsafe.Count != 1)
        {
            throw new InvalidOperationException("' safe' and ' unsafe' must each be a single GPT-2 token.");
        }

        return (safe[0], @unsafe[0]);
    }

    public static JsonObject BuildManifest(int safeId, int unsafeId, int maxSeq) => new()
    {
        ["formatVersion"] = 1,
        ["name"] = "template",
        ["onnx"] = "model.onnx",
        ["tokenizer"] = new JsonObject { ["kind"] = "tiktoken", ["preset"] = "gpt2", ["builtin"] = "gpt2" },
        ["template"] = new JsonObject
        {
            ["kind"] = "custom",
            ["promptOnly"] = PromptOnlyTemplate,
            ["promptAndResponse"] = PromptAndResponseTemplate,
            ["stripUserText"] = true,
        },
        ["verdict"] = new JsonObject { ["safeTokenId"] = safeId, ["unsafeTokenId"] = unsafeId, ["source"] = "lmHeadRows", ["lmHeadRows"] = "verdict_rows.safetensors" },
        ["inputs"] = new JsonObject { ["inputIds"] = "input_ids", ["attentionMask"] = "attention_mask", ["positionIds"] = "position_ids" },
        ["hiddenStateOutput"] = "last_hidden_state",
        ["maxSequenceLength"] = maxSeq,
        ["padTokenId"] = PadTokenId,
    };

    private static int Percentile(List<int> values, double q)
    {
        int[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
    }
}
