namespace SafeRoute.Cli.Plotting;

/// <summary>
/// An RGB raster (8 bits per channel, row-major, top row first) with the few drawing operations a chart needs:
/// rectangles, anti-aliased lines, circles and diamonds (4×4 supersampled coverage) and <see cref="BitmapFont"/> text.
/// Coordinates are in pixels; pixel (x, y) covers [x, x + 1) × [y, y + 1), so a 1-pixel line through x + 0.5 is crisp.
/// </summary>
internal sealed class RgbCanvas
{
    private const int Samples = 4;
    private readonly byte[] _pixels;

    public RgbCanvas(int width, int height, Rgb background)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Width = width;
        Height = height;
        _pixels = new byte[checked(width * height * 3)];
        FillRectangle(0, 0, width, height, background);
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Gets the pixels: R, G, B per pixel, row by row from the top.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    public Rgb GetPixel(int x, int y)
    {
        int i = ((y * Width) + x) * 3;
        return new Rgb(_pixels[i], _pixels[i + 1], _pixels[i + 2]);
    }

    /// <summary>Sets one pixel; outside the canvas nothing happens.</summary>
    public void SetPixel(int x, int y, Rgb color)
    {
        if ((uint)x < (uint)Width && (uint)y < (uint)Height)
        {
            int i = ((y * Width) + x) * 3;
            _pixels[i] = color.R;
            _pixels[i + 1] = color.G;
            _pixels[i + 2] = color.B;
        }
    }

    /// <summary>Blends a colour over one pixel with the given coverage (0 to 1).</summary>
    public void Blend(int x, int y, Rgb color, double coverage)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || !(coverage > 0))
        {
            return;
        }

        if (coverage >= 1)
        {
            SetPixel(x, y, color);
            return;
        }

        int i = ((y * Width) + x) * 3;
        _pixels[i] = Mix(_pixels[i], color.R, coverage);
        _pixels[i + 1] = Mix(_pixels[i + 1], color.G, coverage);
        _pixels[i + 2] = Mix(_pixels[i + 2], color.B, coverage);
    }

    public void FillRectangle(int x, int y, int width, int height, Rgb color)
    {
        int x0 = Math.Max(x, 0), y0 = Math.Max(y, 0);
        int x1 = Math.Min(x + width, Width), y1 = Math.Min(y + height, Height);
        for (int py = y0; py < y1; py++)
        {
            for (int px = x0; px < x1; px++)
            {
                SetPixel(px, py, color);
            }
        }
    }

    /// <summary>Draws a 1-pixel outline whose outer edge is the given rectangle.</summary>
    public void DrawRectangle(int x, int y, int width, int height, Rgb color)
    {
        FillRectangle(x, y, width, 1, color);
        FillRectangle(x, y + height - 1, width, 1, color);
        FillRectangle(x, y, 1, height, color);
        FillRectangle(x + width - 1, y, 1, height, color);
    }

    /// <summary>Draws an anti-aliased line segment of the given thickness with flat ends.</summary>
    public void DrawLine(double x0, double y0, double x1, double y1, double thickness, Rgb color)
    {
        double dx = x1 - x0, dy = y1 - y0;
        double length = Math.Sqrt((dx * dx) + (dy * dy));
        double half = thickness / 2;
        if (length == 0)
        {
            return;
        }

        double ux = dx / length, uy = dy / length;
        FillCoverage(
            Math.Min(x0, x1) - half, Math.Min(y0, y1) - half, Math.Max(x0, x1) + half, Math.Max(y0, y1) + half, color,
            (x, y) =>
            {
                double along = ((x - x0) * ux) + ((y - y0) * uy);
                double across = Math.Abs(((x - x0) * uy) - ((y - y0) * ux));
                return along >= 0 && along <= length && across <= half;
            });
    }

    /// <summary>Fills an anti-aliased circle.</summary>
    public void FillCircle(double cx, double cy, double radius, Rgb color) =>
        FillCoverage(cx - radius, cy - radius, cx + radius, cy + radius, color,
            (x, y) => ((x - cx) * (x - cx)) + ((y - cy) * (y - cy)) <= radius * radius);

    /// <summary>Fills an anti-aliased diamond (a square on its corner) whose corners are <paramref name="radius"/> from the centre.</summary>
    public void FillDiamond(double cx, double cy, double radius, Rgb color) =>
        FillCoverage(cx - radius, cy - radius, cx + radius, cy + radius, color,
            (x, y) => Math.Abs(x - cx) + Math.Abs(y - cy) <= radius);

    /// <summary>Draws one line of text; (x, y) is the top-left corner of the first glyph's cap box.</summary>
    /// <param name="bold">Strikes every glyph twice, one device pixel apart.</param>
    public void DrawText(string text, int x, int y, int scale, Rgb color, bool bold = false) =>
        DrawGlyphs(text, scale, bold, (gx, gy) => FillRectangle(x + gx, y + gy, scale, scale, color));

    /// <summary>
    /// Draws one line of text turned 90° anticlockwise (read from bottom to top); (x, y) is where the text starts: the
    /// bottom-left corner of the first glyph's cap box, which lies left of the baseline.
    /// </summary>
    public void DrawTextRotated(string text, int x, int y, int scale, Rgb color, bool bold = false) =>
        DrawGlyphs(text, scale, bold, (gx, gy) => FillRectangle(x + gy, y - gx - scale, scale, scale, color));

    private static byte Mix(byte under, byte over, double coverage) =>
        (byte)Math.Round(under + ((over - under) * coverage));

    private static void DrawGlyphs(string text, int scale, bool bold, Action<int, int> fillCell)
    {
        for (int i = 0; i < text.Length; i++)
        {
            ReadOnlySpan<byte> rows = BitmapFont.GetRows(text[i]);
            int left = i * BitmapFont.Advance * scale;
            for (int r = 0; r < rows.Length; r++)
            {
                for (int c = 0; c < BitmapFont.GlyphWidth; c++)
                {
                    if ((rows[r] & (1 << (BitmapFont.GlyphWidth - 1 - c))) != 0)
                    {
                        fillCell(left + (c * scale), r * scale);
                        if (bold)
                        {
                            fillCell(left + (c * scale) + 1, r * scale);
                        }
                    }
                }
            }
        }
    }

    private void FillCoverage(double minX, double minY, double maxX, double maxY, Rgb color, Func<double, double, bool> inside)
    {
        int x0 = Math.Max((int)Math.Floor(minX), 0), y0 = Math.Max((int)Math.Floor(minY), 0);
        int x1 = Math.Min((int)Math.Ceiling(maxX), Width - 1), y1 = Math.Min((int)Math.Ceiling(maxY), Height - 1);
        for (int py = y0; py <= y1; py++)
        {
            for (int px = x0; px <= x1; px++)
            {
                int hits = 0;
                for (int sy = 0; sy < Samples; sy++)
                {
                    for (int sx = 0; sx < Samples; sx++)
                    {
                        if (inside(px + ((sx + 0.5) / Samples), py + ((sy + 0.5) / Samples)))
                        {
                            hits++;
                        }
                    }
                }

                Blend(px, py, color, hits / (double)(Samples * Samples));
            }
        }
    }
}
