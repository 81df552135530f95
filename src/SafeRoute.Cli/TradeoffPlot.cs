using ScottPlot;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary>The paper's Figure 2 style trade-off plot: one point per method, cost relative to Small on x, safety F1 on y.</summary>
internal static class TradeoffPlot
{
    public const int Width = 900;
    public const int Height = 600;

    /// <summary>Writes the plot as PNG. x is latency × Small when measured, else FLOPs × Small, else the large-guard share.</summary>
    public static void Save(RoutingEvaluationReport report, string path, string title)
    {
        ArgumentNullException.ThrowIfNull(report);
        bool latency = report.Methods.All(m => m.RelativeLatency is not null);
        bool flops = !latency && report.Methods.All(m => m.RelativeFlops is not null);
        string xLabel = latency ? "Latency × Small" : flops ? "FLOPs × Small (estimate)" : "Share of inputs sent to the large guard";

        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int k = 0;
        foreach (RoutingMethodResult m in report.Methods)
        {
            double x = latency ? m.RelativeLatency!.Value : flops ? m.RelativeFlops!.Value : m.LargeShare;
            bool highlight = m.Method == RoutingMethod.SafeRoute;
            var marker = plot.Add.Marker(x, m.SafetyF1, highlight ? MarkerShape.FilledDiamond : MarkerShape.FilledCircle, highlight ? 16 : 11, palette.GetColor(k++));
            marker.LegendText = m.Method == RoutingMethod.Oracle ? "Oracle (upper bound)" : m.Name;
            var label = plot.Add.Text(m.Name, x, m.SafetyF1);
            label.LabelFontSize = 12;
            label.LabelOffsetX = 8;
            label.LabelOffsetY = k % 2 == 0 ? -16 : 2; // alternate above/below so neighbours' names do not collide
        }

        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel("Safety F1 (unsafe = positive)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Margins(0.12, 0.15);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        plot.SavePng(path, Width, Height);
    }
}
