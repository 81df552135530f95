using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SafeRoute.ModelPrep;

/// <summary>One labelled row of ../shared/datasets/train (text is never printed).</summary>
internal sealed record DataRow(string Id, string Source, string Prompt, string? Response, int Label);

/// <summary>Reads, de-duplicates, cuts and splits the training data deterministically.</summary>
internal static class Dataset
{
    public const string Guard = "guard";
    public const string Router = "router";
    public const string Dev = "dev";
    public const string AlpacaSource = "alpaca-benign";

    /// <summary>Reads every *.jsonl file (sorted by name), in file order.</summary>
    public static List<DataRow> ReadAll(string directory)
    {
        var rows = new List<DataRow>();
        foreach (string file in Directory.GetFiles(directory, "*.jsonl").Order(StringComparer.Ordinal))
        {
            foreach (string line in File.ReadLines(file))
            {
                if (line.Length == 0)
                {
                    continue;
                }

                using JsonDocument doc = JsonDocument.Parse(line);
                JsonElement root = doc.RootElement;
                string? response = root.GetProperty("response").ValueKind == JsonValueKind.String ? root.GetProperty("response").GetString() : null;
                rows.Add(new DataRow(
                    root.GetProperty("id").GetString()!,
                    root.GetProperty("source").GetString()!,
                    root.GetProperty("prompt").GetString()!,
                    string.IsNullOrWhiteSpace(response) ? null : response,
                    root.GetProperty("label").GetInt32()));
            }
        }

        return rows;
    }

    /// <summary>A stable pseudo-random key for ordering: the first 8 bytes of SHA-256("seed:id").</summary>
    public static ulong HashKey(int seed, string id)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(seed.ToString(CultureInfo.InvariantCulture) + ":" + id));
        return BitConverter.ToUInt64(hash, 0);
    }

    /// <summary>
    /// Cuts Alpaca to <paramref name="alpacaRows"/> (lowest hash keys), drops rows whose normalised prompt+response
    /// already occurred (first occurrence kept, files in name order) or with a white-space prompt, and assigns each
    /// row a split: within every (source, label) group, rows ordered by hash key, the first round(70%) to guard,
    /// the next round(20%) to router, the rest to dev.
    /// </summary>
    public static (List<(DataRow Row, string Split)> Rows, int Duplicates, int AlpacaDropped) Split(List<DataRow> all, int alpacaRows, int seed)
    {
        var alpacaKeep = new HashSet<string>(
            all.Where(r => r.Source == AlpacaSource).OrderBy(r => HashKey(seed, r.Id)).ThenBy(r => r.Id, StringComparer.Ordinal).Take(alpacaRows).Select(r => r.Id),
            StringComparer.Ordinal);
        int alpacaDropped = all.Count(r => r.Source == AlpacaSource) - alpacaKeep.Count;

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var kept = new List<DataRow>();
        int duplicates = 0;
        foreach (DataRow row in all)
        {
            if (row.Source == AlpacaSource && !alpacaKeep.Contains(row.Id))
            {
                continue;
            }

            if (string.IsNullOrWhiteSpace(row.Prompt) || !seen.Add(Normalise(row.Prompt) + "\u241E" + Normalise(row.Response ?? "")))
            {
                duplicates++;
                continue;
            }

            kept.Add(row);
        }

        var result = new List<(DataRow, string)>();
        foreach (IGrouping<(string Source, int Label), DataRow> group in kept.GroupBy(r => (r.Source, r.Label)).OrderBy(g => g.Key.Source, StringComparer.Ordinal).ThenBy(g => g.Key.Label))
        {
            DataRow[] ordered = [.. group.OrderBy(r => HashKey(seed, r.Id)).ThenBy(r => r.Id, StringComparer.Ordinal)];
            int guard = (int)Math.Round(ordered.Length * 0.7, MidpointRounding.AwayFromZero);
            int router = (int)Math.Round(ordered.Length * 0.2, MidpointRounding.AwayFromZero);
            for (int i = 0; i < ordered.Length; i++)
            {
                result.Add((ordered[i], i < guard ? Guard : i < guard + router ? Router : Dev));
            }
        }

        return (result, duplicates, alpacaDropped);
    }

    /// <summary>
    /// The Alpaca instructions <see cref="Split"/> cut from the labelled data (all benign), in hash order, minus any whose
    /// prompt is blank or whose normalised text equals a kept row's (or an earlier cut row's). Lazily enumerated.
    /// </summary>
    public static IEnumerable<DataRow> CutAlpacaRows(List<DataRow> all, List<(DataRow Row, string Split)> kept, int seed)
    {
        var keptText = new HashSet<string>(kept.Select(r => Normalise(r.Row.Prompt)), StringComparer.Ordinal);
        var keptIds = new HashSet<string>(kept.Select(r => r.Row.Id), StringComparer.Ordinal);
        return all.Where(r => r.Source == AlpacaSource && !keptIds.Contains(r.Id))
            .OrderBy(r => HashKey(seed, r.Id)).ThenBy(r => r.Id, StringComparer.Ordinal)
            .Where(r => !string.IsNullOrWhiteSpace(r.Prompt) && keptText.Add(Normalise(r.Prompt)));
    }

    internal static string Normalise(string text)
    {
        var builder = new StringBuilder(text.Length);
        bool space = false;
        foreach (char c in text.Trim())
        {
            if (char.IsWhiteSpace(c))
            {
                space = true;
                continue;
            }

            if (space && builder.Length > 0)
            {
                builder.Append(' ');
            }

            space = false;
            builder.Append(char.ToLowerInvariant(c));
        }

        return builder.ToString();
    }
}

/// <summary>The rows.jsonl index written by tokenize: id, split and label per row (no text).</summary>
internal sealed record IndexRow(string Id, string Source, int Label, string Split, bool HasResponse, int Length);

internal static class WorkFiles
{
    public static string RowsPath(string work) => Path.Combine(work, "rows.jsonl");

    /// <summary>One line of a rows file (what <see cref="ReadIndex"/> reads): id, source, label, split, whether the row
    /// has a response, whether it was truncated, and its token ids. No text.</summary>
    public static JsonObject RowNode(DataRow row, string split, bool truncated, IEnumerable<int> ids) => new()
    {
        ["id"] = row.Id,
        ["source"] = row.Source,
        ["label"] = row.Label,
        ["split"] = split,
        ["resp"] = row.Response is not null,
        ["trunc"] = truncated,
        ["ids"] = new JsonArray([.. ids.Select(id => (JsonNode)id)]),
    };

    public static string TemplateDirectory(string work) => Path.Combine(work, "template");

    public static List<IndexRow> ReadIndex(string work)
    {
        var rows = new List<IndexRow>();
        foreach (string line in File.ReadLines(RowsPath(work)))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement r = doc.RootElement;
            rows.Add(new IndexRow(r.GetProperty("id").GetString()!, r.GetProperty("source").GetString()!, r.GetProperty("label").GetInt32(),
                r.GetProperty("split").GetString()!, r.GetProperty("resp").GetBoolean(), r.GetProperty("ids").GetArrayLength()));
        }

        return rows;
    }

    /// <summary>The rows of one split with their requests, in rows.jsonl order.</summary>
    public static List<(IndexRow Index, SafetyRequest Request)> Load(string data, string work, string split)
    {
        Dictionary<string, DataRow> byId = Dataset.ReadAll(data).ToDictionary(r => r.Id, StringComparer.Ordinal);
        return [.. ReadIndex(work).Where(r => r.Split == split).Select(r => (r, new SafetyRequest(byId[r.Id].Prompt, byId[r.Id].Response)))];
    }
}
