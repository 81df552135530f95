using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SafeRoute.Training;

/// <summary>The result of <see cref="RoutingEvaluator.Evaluate"/>: one row per method, as JSON or a Markdown table.</summary>
public sealed class RoutingEvaluationReport
{
    internal RoutingEvaluationReport(int rows, int unsafeRows, int hardRows, IReadOnlyList<RoutingMethodResult> methods)
    {
        Rows = rows;
        UnsafeRows = unsafeRows;
        HardRows = hardRows;
        Methods = methods;
    }

    /// <summary>Gets the number of rows evaluated.</summary>
    public int Rows { get; }

    /// <summary>Gets the number of rows labelled unsafe.</summary>
    public int UnsafeRows { get; }

    /// <summary>Gets the number of hard rows (large guard right, small guard wrong).</summary>
    public int HardRows { get; }

    /// <summary>Gets one result per evaluated method, in <see cref="RoutingMethod"/> order.</summary>
    public IReadOnlyList<RoutingMethodResult> Methods { get; }

    /// <summary>Gets the result of one method.</summary>
    /// <param name="method">The method.</param>
    /// <returns>Its result.</returns>
    /// <exception cref="KeyNotFoundException">The method was not evaluated (its parameter was not given).</exception>
    public RoutingMethodResult this[RoutingMethod method] =>
        Methods.FirstOrDefault(m => m.Method == method) ?? throw new KeyNotFoundException($"The report has no row for {method}.");

    /// <summary>Writes the report as JSON (camelCase names; absent optional values are null).</summary>
    /// <param name="indented">Whether to indent.</param>
    /// <returns>The JSON text.</returns>
    public string ToJson(bool indented = true)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            w.WriteStartObject();
            w.WriteNumber("rows", Rows);
            w.WriteNumber("unsafeRows", UnsafeRows);
            w.WriteNumber("hardRows", HardRows);
            w.WriteStartArray("methods");
            foreach (RoutingMethodResult m in Methods)
            {
                w.WriteStartObject();
                w.WriteString("method", m.Name);
                Number(w, "threshold", m.Threshold);
                Number(w, "safetyF1", m.SafetyF1);
                Number(w, "safetyPrecision", m.SafetyPrecision);
                Number(w, "safetyRecall", m.SafetyRecall);
                Number(w, "safetyAuprc", m.SafetyAuprc);
                Number(w, "routingF1", m.RoutingF1);
                Number(w, "routingPrecision", m.RoutingPrecision);
                Number(w, "routingRecall", m.RoutingRecall);
                Number(w, "largeShare", m.LargeShare);
                Number(w, "latencyMs", m.LatencyMs);
                Number(w, "relativeLatency", m.RelativeLatency);
                Number(w, "flops", m.Flops);
                Number(w, "relativeFlops", m.RelativeFlops);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());

        static void Number(Utf8JsonWriter w, string name, double? value)
        {
            if (value is double v && double.IsFinite(v))
            {
                w.WriteNumber(name, v);
            }
            else
            {
                w.WriteNull(name);
            }
        }
    }

    /// <summary>Writes the report as a GitHub Markdown table (values to 4 decimals, shares as percentages).</summary>
    /// <returns>The table, with a one-line summary above it.</returns>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        CultureInfo c = CultureInfo.InvariantCulture;
        sb.Append(c, $"{Rows} rows, {UnsafeRows} unsafe, {HardRows} hard ({Percent(Rows == 0 ? 0 : (double)HardRows / Rows)}).").AppendLine().AppendLine();
        bool latency = Methods.Any(m => m.RelativeLatency is not null);
        bool flops = Methods.Any(m => m.RelativeFlops is not null);
        sb.Append("| Method | ε | Safety F1 | Precision | Recall | AUPRC | Routing F1 | Routing P | Routing R | Large share |");
        sb.Append(latency ? " Latency (ms) | × Small |" : "").Append(flops ? " FLOPs × Small |" : "").AppendLine();
        sb.Append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|").Append(latency ? "---:|---:|" : "").Append(flops ? "---:|" : "").AppendLine();
        foreach (RoutingMethodResult m in Methods)
        {
            sb.Append(c, $"| {m.Name} | {(m.Threshold is float t ? t.ToString("0.####", c) : "–")} | {F(m.SafetyF1)} | {F(m.SafetyPrecision)} | {F(m.SafetyRecall)} | {F(m.SafetyAuprc)} | ");
            sb.Append(c, $"{F(m.RoutingF1)} | {F(m.RoutingPrecision)} | {F(m.RoutingRecall)} | {Percent(m.LargeShare)} |");
            if (latency)
            {
                sb.Append(c, $" {m.LatencyMs?.ToString("0.###", c) ?? "–"} | {m.RelativeLatency?.ToString("0.###", c) ?? "–"} |");
            }

            if (flops)
            {
                sb.Append(c, $" {m.RelativeFlops?.ToString("0.###", c) ?? "–"} |");
            }

            sb.AppendLine();
        }

        return sb.ToString();

        static string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);

        static string Percent(double v) => (100 * v).ToString("0.00", CultureInfo.InvariantCulture) + "%";
    }
}
