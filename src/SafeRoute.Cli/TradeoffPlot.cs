using SafeRoute.Cli.Plotting;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary>The paper's Figure 2 style trade-off plot: one point per method, cost relative to Small on x, safety F1 on y.</summary>
internal static class TradeoffPlot
{
    public const int Width = 900;
    public const int Height = 600;

    /// <summary>Text scale: each font pixel is 2×2 device pixels (12-pixel advance, 14-pixel cap height).</summary>
    internal const int TextScale = 2;

    /// <summary>The bottom of the title band: the title is drawn above it, the plot frame starts below it.</summary>
    internal const int TitleBandHeight = 40;

    private const double XMargin = 0.12;
    private const double YMargin = 0.15;
    private const int TickLength = 5;
    private const int CapHeight = BitmapFont.CapHeight * TextScale;
    private const int LineHeight = BitmapFont.FullHeight * TextScale;

    private static readonly Rgb Ink = Rgb.FromHex(0x222222);
    private static readonly Rgb Frame = Rgb.FromHex(0x444444);
    private static readonly Rgb Grid = Rgb.FromHex(0xE5E5E5);

    /// <summary>matplotlib's Category10 (tab10) colours, one per method in report order.</summary>
    internal static readonly Rgb[] Category10 =
    [
        Rgb.FromHex(0x1F77B4), Rgb.FromHex(0xFF7F0E), Rgb.FromHex(0x2CA02C), Rgb.FromHex(0xD62728), Rgb.FromHex(0x9467BD),
        Rgb.FromHex(0x8C564B), Rgb.FromHex(0xE377C2), Rgb.FromHex(0x7F7F7F), Rgb.FromHex(0xBCBD22), Rgb.FromHex(0x17BECF),
    ];

    /// <summary>Writes the plot as PNG. x is latency × Small when measured, else FLOPs × Small, else the large-guard share.</summary>
    public static void Save(RoutingEvaluationReport report, string path, string title)
    {
        ArgumentNullException.ThrowIfNull(report);
        RenderedPlot plot = Render(report, title);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        PngEncoder.Save(plot.Canvas, path);
    }

    /// <summary>Draws the plot and returns the image with the mapping from data to pixel coordinates.</summary>
    internal static RenderedPlot Render(RoutingEvaluationReport report, string? title)
    {
        ArgumentNullException.ThrowIfNull(report);
        bool latency = report.Methods.All(m => m.RelativeLatency is not null);
        bool flops = !latency && report.Methods.All(m => m.RelativeFlops is not null);
        string xLabel = latency ? "Latency × Small" : flops ? "FLOPs × Small (estimate)" : "Share of inputs sent to the large guard";
        const string yLabel = "Safety F1 (unsafe = positive)";

        var points = new List<(RoutingMethodResult Method, double X, double Y, Rgb Color)>();
        for (int k = 0; k < report.Methods.Count; k++)
        {
            RoutingMethodResult m = report.Methods[k];
            double x = latency ? m.RelativeLatency!.Value : flops ? m.RelativeFlops!.Value : m.LargeShare;
            points.Add((m, x, m.SafetyF1, Category10[k % Category10.Length]));
        }

        (double xMin, double xMax) = Limits(points.Select(p => p.X), XMargin);
        (double yMin, double yMax) = F1Limits(points.Select(p => p.Y), YMargin);

        // Layout: the title band on top; the rotated y label, the y tick labels and the ticks on the left; ticks, tick
        // labels and the x label below.
        int plotTop = TitleBandHeight + 8;
        int plotBottom = Height - (TickLength + 6 + LineHeight + 8 + LineHeight + 4);
        double yStep = NiceTicks.Step(yMax - yMin, Math.Max(2, (plotBottom - plotTop) / 60));
        IReadOnlyList<double> yTicks = NiceTicks.Ticks(yMin, yMax, yStep);
        int yTickLabelWidth = yTicks.Select(t => BitmapFont.Measure(NiceTicks.Format(t, yStep), TextScale)).DefaultIfEmpty(0).Max();
        int plotLeft = 12 + CapHeight + 14 + yTickLabelWidth + 6 + TickLength;
        int plotRight = Width - 24;
        var frame = new PlotFrame(plotLeft, plotTop, plotRight, plotBottom, xMin, xMax, yMin, yMax);
        double xStep = NiceTicks.Step(xMax - xMin, Math.Max(2, (plotRight - plotLeft) / 80));
        IReadOnlyList<double> xTicks = NiceTicks.Ticks(xMin, xMax, xStep);

        var canvas = new RgbCanvas(Width, Height, Rgb.White);

        // Grid, frame, ticks and tick labels.
        foreach (double t in xTicks)
        {
            int px = (int)Math.Round(frame.ToPixelX(t));
            canvas.FillRectangle(px, plotTop + 1, 1, plotBottom - plotTop - 1, Grid);
            canvas.FillRectangle(px, plotBottom + 1, 1, TickLength, Frame);
            string label = NiceTicks.Format(t, xStep);
            canvas.DrawText(label, px - (BitmapFont.Measure(label, TextScale) / 2), plotBottom + TickLength + 6, TextScale, Ink);
        }

        foreach (double t in yTicks)
        {
            int py = (int)Math.Round(frame.ToPixelY(t));
            canvas.FillRectangle(plotLeft + 1, py, plotRight - plotLeft - 1, 1, Grid);
            canvas.FillRectangle(plotLeft - TickLength, py, TickLength, 1, Frame);
            string label = NiceTicks.Format(t, yStep);
            canvas.DrawText(label, plotLeft - TickLength - 6 - BitmapFont.Measure(label, TextScale), py - (CapHeight / 2), TextScale, Ink);
        }

        canvas.DrawRectangle(plotLeft, plotTop, plotRight - plotLeft + 1, plotBottom - plotTop + 1, Frame);

        // Title, axis labels.
        if (!string.IsNullOrEmpty(title))
        {
            canvas.DrawText(title, (Width - BitmapFont.Measure(title, TextScale)) / 2, (TitleBandHeight - CapHeight) / 2, TextScale, Ink, bold: true);
        }

        canvas.DrawText(xLabel, ((plotLeft + plotRight) / 2) - (BitmapFont.Measure(xLabel, TextScale) / 2), Height - LineHeight - 4, TextScale, Ink, bold: true);
        canvas.DrawTextRotated(yLabel, 12, ((plotTop + plotBottom) / 2) + (BitmapFont.Measure(yLabel, TextScale) / 2), TextScale, Ink, bold: true);

        // Markers, then their labels (alternately below and above, so neighbours' names do not collide), kept inside
        // the frame: a label that would cross the right edge goes left of its point.
        foreach ((RoutingMethodResult m, double x, double y, Rgb color) in points)
        {
            DrawMarker(canvas, frame.ToPixelX(x), frame.ToPixelY(y), m.Method == RoutingMethod.SafeRoute, color);
        }

        for (int k = 0; k < points.Count; k++)
        {
            (RoutingMethodResult m, double x, double y, _) = points[k];
            if (!double.IsFinite(x) || !double.IsFinite(y))
            {
                continue;
            }

            double px = frame.ToPixelX(x), py = frame.ToPixelY(y);
            int width = BitmapFont.Measure(m.Name, TextScale);
            int left = (int)Math.Round(px) + 10;
            if (left + width > plotRight - 4)
            {
                left = (int)Math.Round(px) - 10 - width;
            }

            int top = k % 2 == 0 ? (int)Math.Round(py) + 6 : (int)Math.Round(py) - 6 - CapHeight;
            top = Math.Clamp(top, plotTop + 4, plotBottom - 4 - LineHeight);
            left = Math.Clamp(left, plotLeft + 4, plotRight - 4 - width);
            canvas.DrawText(m.Name, left, top, TextScale, Ink);
        }

        DrawLegend(canvas, frame, points.Select(p => (p.Method, p.Color)).ToList());
        return new RenderedPlot(canvas, frame);
    }

    private static void DrawMarker(RgbCanvas canvas, double px, double py, bool highlight, Rgb color)
    {
        if (!double.IsFinite(px) || !double.IsFinite(py))
        {
            return;
        }

        if (highlight)
        {
            canvas.FillDiamond(px, py, 9, color);
        }
        else
        {
            canvas.FillCircle(px, py, 6, color);
        }
    }

    private static void DrawLegend(RgbCanvas canvas, PlotFrame frame, List<(RoutingMethodResult Method, Rgb Color)> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }

        const int padding = 10, rowHeight = 24, markerColumn = 28;
        List<string> labels = entries.Select(e => e.Method.Method == RoutingMethod.Oracle ? "Oracle (upper bound)" : e.Method.Name).ToList();
        int width = padding + markerColumn + labels.Max(l => BitmapFont.Measure(l, TextScale)) + padding;
        int height = (padding * 2) + (rowHeight * entries.Count) - (rowHeight - CapHeight);
        int left = frame.Right - 10 - width, top = frame.Top + 10;
        canvas.FillRectangle(left + 3, top + 3, width, height, Rgb.FromHex(0xBBBBBB)); // shadow
        canvas.FillRectangle(left, top, width, height, Rgb.White);
        canvas.DrawRectangle(left, top, width, height, Frame);
        for (int i = 0; i < entries.Count; i++)
        {
            int rowTop = top + padding + (i * rowHeight);
            double centreY = rowTop + (CapHeight / 2.0);
            DrawMarker(canvas, left + padding + 10, centreY, entries[i].Method.Method == RoutingMethod.SafeRoute, entries[i].Color);
            canvas.DrawText(labels[i], left + padding + markerColumn, rowTop, TextScale, Ink);
        }
    }

    /// <summary>Axis limits for an F1 (or any [0, 1]) axis: the data's range with a margin, never below 0 or above 1.</summary>
    internal static (double Min, double Max) F1Limits(IEnumerable<double> values, double margin)
    {
        (double min, double max) = Limits(values.Where(v => v is >= 0 and <= 1), margin);
        min = Math.Max(0, min);
        max = Math.Min(1, max);
        if (max - min < 0.02)
        {
            // A flat line (all values equal, or all at 0 or 1): show a small band inside [0, 1] around it.
            min = Math.Max(0, Math.Min(min, max - 0.05));
            max = Math.Min(1, Math.Max(max, min + 0.05));
            min = Math.Min(min, max - 0.05);
        }

        return (min, max);
    }

    internal static (double Min, double Max) Limits(IEnumerable<double> values, double margin)
    {
        double[] finite = values.Where(double.IsFinite).ToArray();
        if (finite.Length == 0)
        {
            return (0, 1);
        }

        double min = finite.Min(), max = finite.Max();
        double pad = max > min ? (max - min) * margin : Math.Max(Math.Abs(min), 1) * 0.1;
        return (min - pad, max + pad);
    }
}

/// <summary>The plot frame in pixels (inclusive edges) and the data range it shows.</summary>
internal sealed record PlotFrame(int Left, int Top, int Right, int Bottom, double XMin, double XMax, double YMin, double YMax)
{
    public double ToPixelX(double x) => Left + ((x - XMin) / (XMax - XMin) * (Right - Left));

    public double ToPixelY(double y) => Bottom - ((y - YMin) / (YMax - YMin) * (Bottom - Top));
}

/// <summary>A drawn plot and its frame.</summary>
internal sealed record RenderedPlot(RgbCanvas Canvas, PlotFrame Frame);
