using SafeRoute.Cli.Plotting;

namespace SafeRoute.Cli;

/// <summary>A metric against the large-guard share, one line per routing method (the budget curves of <c>saferoute eval</c>).</summary>
internal static class CurvePlot
{
    public const int Width = 1100;
    public const int Height = 600;
    private const int Scale = TradeoffPlot.TextScale;
    private const int CapHeight = BitmapFont.CapHeight * Scale;
    private const int LineHeight = BitmapFont.FullHeight * Scale;
    private static readonly Rgb Ink = Rgb.FromHex(0x222222);
    private static readonly Rgb Frame = Rgb.FromHex(0x444444);
    private static readonly Rgb Grid = Rgb.FromHex(0xE5E5E5);

    /// <summary>Writes the plot of safety F1 (<paramref name="safety"/>) or routing F1 against the achieved share as PNG.</summary>
    public static void Save(BudgetCurves curves, bool safety, string path, string title) => PngEncoder.Save(Render(curves, safety, title).Canvas, path);

    internal static RenderedPlot Render(BudgetCurves curves, bool safety, string title)
    {
        string yLabel = safety ? "Safety F1 (unsafe = positive)" : "Routing F1 (against hard labels)";
        const string xLabel = "Share of inputs sent to the large guard (%)";
        var lines = new List<(string Name, bool Trained, (double X, double Y)[] Points)>();
        for (int m = 0; m < curves.Methods.Count; m++)
        {
            (double X, double Y)[] pts = [.. curves.Points[m].Select(p => (100 * p.Share, safety ? p.SafetyF1 : p.RoutingF1))];
            // A curve that lies exactly on an earlier one (TS routes the rows Entropy routes at every share) hides it: say so.
            string name = curves.Methods[m].Name;
            if (lines.FirstOrDefault(l => l.Points.SequenceEqual(pts)) is { Name: not null } same)
            {
                name += " (= " + same.Name + ")";
            }

            lines.Add((name, curves.Methods[m].Role == MethodRole.Trained, pts));
        }

        double[] xs = [.. lines.SelectMany(l => l.Points.Select(p => p.X)).Append(0)];
        (double xMin, double xMax) = (0, Math.Max(1, xs.Max() * 1.05));
        (double yMin, double yMax) = TradeoffPlot.F1Limits(lines.SelectMany(l => l.Points.Select(p => p.Y)), 0.1);

        int plotTop = TradeoffPlot.TitleBandHeight + 8;
        int plotBottom = Height - (5 + 6 + LineHeight + 8 + LineHeight + 4);
        double yStep = NiceTicks.Step(yMax - yMin, Math.Max(2, (plotBottom - plotTop) / 60));
        IReadOnlyList<double> yTicks = NiceTicks.Ticks(yMin, yMax, yStep);
        int yTickWidth = yTicks.Select(t => BitmapFont.Measure(NiceTicks.Format(t, yStep), Scale)).DefaultIfEmpty(0).Max();
        int plotLeft = 12 + CapHeight + 14 + yTickWidth + 6 + 5;
        const int padding = 10, rowHeight = 24, markerColumn = 28;
        int width = padding + markerColumn + lines.Select(l => BitmapFont.Measure(l.Name, Scale)).DefaultIfEmpty(0).Max() + padding;
        int plotRight = Width - 16 - width - 16; // the legend sits right of the frame, never over a curve
        var frame = new PlotFrame(plotLeft, plotTop, plotRight, plotBottom, xMin, xMax, yMin, yMax);
        double xStep = NiceTicks.Step(xMax - xMin, Math.Max(2, (plotRight - plotLeft) / 80));
        var canvas = new RgbCanvas(Width, Height, Rgb.White);
        foreach (double t in NiceTicks.Ticks(xMin, xMax, xStep))
        {
            int px = (int)Math.Round(frame.ToPixelX(t));
            canvas.FillRectangle(px, plotTop + 1, 1, plotBottom - plotTop - 1, Grid);
            canvas.FillRectangle(px, plotBottom + 1, 1, 5, Frame);
            string label = NiceTicks.Format(t, xStep);
            canvas.DrawText(label, px - (BitmapFont.Measure(label, Scale) / 2), plotBottom + 5 + 6, Scale, Ink);
        }

        foreach (double t in yTicks)
        {
            int py = (int)Math.Round(frame.ToPixelY(t));
            canvas.FillRectangle(plotLeft + 1, py, plotRight - plotLeft - 1, 1, Grid);
            canvas.FillRectangle(plotLeft - 5, py, 5, 1, Frame);
            string label = NiceTicks.Format(t, yStep);
            canvas.DrawText(label, plotLeft - 5 - 6 - BitmapFont.Measure(label, Scale), py - (CapHeight / 2), Scale, Ink);
        }

        canvas.DrawRectangle(plotLeft, plotTop, plotRight - plotLeft + 1, plotBottom - plotTop + 1, Frame);
        if (!string.IsNullOrEmpty(title))
        {
            canvas.DrawText(title, (Width - BitmapFont.Measure(title, Scale)) / 2, (TradeoffPlot.TitleBandHeight - CapHeight) / 2, Scale, Ink, bold: true);
        }

        canvas.DrawText(xLabel, ((plotLeft + plotRight) / 2) - (BitmapFont.Measure(xLabel, Scale) / 2), Height - LineHeight - 4, Scale, Ink, bold: true);
        canvas.DrawTextRotated(yLabel, 12, ((plotTop + plotBottom) / 2) + (BitmapFont.Measure(yLabel, Scale) / 2), Scale, Ink, bold: true);

        for (int k = 0; k < lines.Count; k++)
        {
            Rgb color = TradeoffPlot.Category10[k % TradeoffPlot.Category10.Length];
            (double X, double Y)[] pts = lines[k].Points;
            double thickness = lines[k].Trained ? 3.5 : 2;
            for (int i = 1; i < pts.Length; i++)
            {
                canvas.DrawLine(frame.ToPixelX(pts[i - 1].X), frame.ToPixelY(pts[i - 1].Y), frame.ToPixelX(pts[i].X), frame.ToPixelY(pts[i].Y), thickness, color);
            }

            foreach ((double x, double y) in pts)
            {
                if (lines[k].Trained)
                {
                    canvas.FillDiamond(frame.ToPixelX(x), frame.ToPixelY(y), 7, color);
                }
                else
                {
                    canvas.FillCircle(frame.ToPixelX(x), frame.ToPixelY(y), 4, color);
                }
            }
        }

        // Legend, right of the frame.
        int height = (padding * 2) + (rowHeight * lines.Count) - (rowHeight - CapHeight);
        int left = plotRight + 16, top = plotTop;
        canvas.FillRectangle(left, top, width, height, Rgb.White);
        canvas.DrawRectangle(left, top, width, height, Frame);
        for (int k = 0; k < lines.Count; k++)
        {
            Rgb color = TradeoffPlot.Category10[k % TradeoffPlot.Category10.Length];
            int rowTop = top + padding + (k * rowHeight);
            canvas.DrawLine(left + padding, rowTop + (CapHeight / 2.0), left + padding + 20, rowTop + (CapHeight / 2.0), lines[k].Trained ? 3.5 : 2, color);
            canvas.DrawText(lines[k].Name, left + padding + markerColumn, rowTop, Scale, Ink);
        }

        return new RenderedPlot(canvas, frame);
    }
}
