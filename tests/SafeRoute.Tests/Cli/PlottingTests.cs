using System.Text;
using SafeRoute.Cli;
using SafeRoute.Cli.Plotting;
using SafeRoute.Training;

namespace SafeRoute.Tests.Cli;

[TestFixture]
public sealed class PlottingTests
{
    [Test]
    public void Crc32_OfKnownInputs_IsTheReferenceValue()
    {
        Assert.Multiple(() =>
        {
            Assert.That(PngEncoder.Crc32("IEND"u8), Is.EqualTo(0xAE426082u));
            Assert.That(PngEncoder.Crc32("123456789"u8), Is.EqualTo(0xCBF43926u), "the CRC-32 check value");
            Assert.That(PngEncoder.Crc32([]), Is.Zero);
            Assert.That(PngReader.Crc32("IEND"u8), Is.EqualTo(0xAE426082u), "the test's own reader agrees");
        });
    }

    [Test]
    public void PngEncoder_Write_RoundTripsThroughAnIndependentReader()
    {
        var canvas = new RgbCanvas(7, 5, Rgb.White);
        canvas.SetPixel(0, 0, new Rgb(1, 2, 3));
        canvas.SetPixel(6, 4, new Rgb(250, 128, 7));
        canvas.FillRectangle(2, 1, 3, 2, Rgb.Black);
        using var stream = new MemoryStream();
        PngEncoder.Write(canvas, stream);

        var png = PngReader.Read(stream.ToArray());
        Assert.Multiple(() =>
        {
            Assert.That((png.Width, png.Height), Is.EqualTo((7, 5)));
            Assert.That(png.ChunkTypes, Is.EqualTo(new[] { "IHDR", "IDAT", "IEND" }));
            Assert.That(png.Rgb, Is.EqualTo(canvas.Pixels.ToArray()));
            Assert.That(png[0, 0], Is.EqualTo(((byte)1, (byte)2, (byte)3)));
            Assert.That(png[6, 4], Is.EqualTo(((byte)250, (byte)128, (byte)7)));
            Assert.That(png[3, 2], Is.EqualTo(((byte)0, (byte)0, (byte)0)));
            Assert.That(png[5, 2], Is.EqualTo(((byte)255, (byte)255, (byte)255)));
        });
    }

    [TestCase(new[] { 0.8, 1.0 }, TestName = "F1Limits_NearOne_EndsAtOne")]
    [TestCase(new[] { 0.0, 1.0 }, TestName = "F1Limits_FullRange_IsZeroToOne")]
    [TestCase(new[] { 1.0, 1.0, 1.0 }, TestName = "F1Limits_AllOne_ABandBelowOne")]
    [TestCase(new[] { 0.0, 0.0 }, TestName = "F1Limits_AllZero_ABandAboveZero")]
    [TestCase(new[] { 0.2, 0.9, 1.9 }, TestName = "F1Limits_ValueAboveOneIgnored")]
    public void F1Limits_StayInsideZeroToOne(double[] values)
    {
        (double min, double max) = TradeoffPlot.F1Limits(values, 0.15);
        Assert.That(min, Is.GreaterThanOrEqualTo(0));
        Assert.That(max, Is.LessThanOrEqualTo(1.0));
        Assert.That(max - min, Is.GreaterThanOrEqualTo(0.05 - 1e-12));
        foreach (double v in values.Where(v => v <= 1))
        {
            Assert.That(v, Is.InRange(min, max));
        }
    }

    [Test]
    public void TradeoffPlot_Save_DecodesToAWhiteChartWithTheSafeRouteMarkerAndATitle()
    {
        RoutingEvaluationReport report = SampleReport();
        string directory = Path.Combine(Path.GetTempPath(), "saferoute-plot-" + Guid.NewGuid().ToString("N"));
        try
        {
            string titled = Path.Combine(directory, "titled.png"), untitled = Path.Combine(directory, "untitled.png");
            TradeoffPlot.Save(report, titled, "Trade-off: latency x Small");
            TradeoffPlot.Save(report, untitled, "");
            var png = PngReader.Read(File.ReadAllBytes(titled));
            var bare = PngReader.Read(File.ReadAllBytes(untitled));
            PlotFrame frame = TradeoffPlot.Render(report, "").Frame;

            RoutingMethodResult safeRoute = report[RoutingMethod.SafeRoute];
            int index = report.Methods.ToList().IndexOf(safeRoute);
            Rgb colour = TradeoffPlot.Category10[index];
            int px = (int)Math.Round(frame.ToPixelX(safeRoute.RelativeLatency!.Value));
            int py = (int)Math.Round(frame.ToPixelY(safeRoute.SafetyF1));

            Assert.Multiple(() =>
            {
                Assert.That((png.Width, png.Height), Is.EqualTo((TradeoffPlot.Width, TradeoffPlot.Height)));
                foreach ((int x, int y) in new[] { (0, 0), (png.Width - 1, 0), (0, png.Height - 1), (png.Width - 1, png.Height - 1) })
                {
                    Assert.That(png[x, y], Is.EqualTo(((byte)255, (byte)255, (byte)255)), $"background at ({x}, {y})");
                }

                Assert.That(CountNear(png, px, py, 3, colour), Is.GreaterThanOrEqualTo(9), "the SafeRoute diamond at its data point");
                int elsewhere = report.Methods.Where(m => m.Method != RoutingMethod.SafeRoute).Count(m =>
                    CountNear(png, (int)Math.Round(frame.ToPixelX(m.RelativeLatency!.Value)), (int)Math.Round(frame.ToPixelY(m.SafetyF1)), 0, colour) > 0);
                Assert.That(elsewhere, Is.Zero, "other methods' points are not in the SafeRoute colour");
                Assert.That(CountInk(png, 0, TradeoffPlot.TitleBandHeight), Is.GreaterThan(100), "title text in the title band");
                Assert.That(CountInk(bare, 0, TradeoffPlot.TitleBandHeight), Is.Zero, "nothing in the title band without a title");
                Assert.That(CountInk(png, TradeoffPlot.TitleBandHeight, png.Height), Is.EqualTo(CountInk(bare, TradeoffPlot.TitleBandHeight, png.Height)));
            });
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void BitmapFont_HasAGlyphForEveryPrintableAsciiCharacter()
    {
        Assert.Multiple(() =>
        {
            Assert.That(BitmapFont.GetRows(' ').Length, Is.Zero);
            for (char c = '!'; c <= '~'; c++)
            {
                byte[] rows = BitmapFont.GetRows(c).ToArray();
                Assert.That(rows, Has.Length.InRange(BitmapFont.CapHeight, BitmapFont.FullHeight), c.ToString());
                Assert.That(rows.Any(r => r != 0), Is.True, $"'{c}' draws something");
            }

            Assert.That(BitmapFont.ToAscii('×'), Is.EqualTo('x'));
            Assert.That(BitmapFont.ToAscii('\u2013'), Is.EqualTo('-'));
            Assert.That(BitmapFont.ToAscii('ε'), Is.EqualTo('?'));
            Assert.That(BitmapFont.GetRows('O').ToArray(), Is.EqualTo(new byte[] { 0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E }));
            Assert.That(BitmapFont.Measure("abc", 2), Is.EqualTo(((3 * 6) - 1) * 2));
        });
    }

    [Test]
    public void NiceTicks_UseOneTwoFiveStepsAndFormatWithTheStepsDecimals()
    {
        Assert.Multiple(() =>
        {
            Assert.That(NiceTicks.Step(0.1, 8), Is.EqualTo(0.02).Within(1e-12));
            Assert.That(NiceTicks.Step(3.9, 8), Is.EqualTo(0.5).Within(1e-12));
            Assert.That(NiceTicks.Step(45, 9), Is.EqualTo(5).Within(1e-12));
            Assert.That(NiceTicks.Step(1, 10), Is.EqualTo(0.1).Within(1e-12));
            Assert.That(NiceTicks.Ticks(0.715, 0.83, 0.02), Is.EqualTo(new[] { 0.72, 0.74, 0.76, 0.78, 0.8, 0.82 }).Within(1e-12));
            Assert.That(NiceTicks.Ticks(-0.3, 0.3, 0.2).Select(t => NiceTicks.Format(t, 0.2)), Is.EqualTo(new[] { "-0.2", "0.0", "0.2" }));
            Assert.That(NiceTicks.Format(0.7200000000001, 0.02), Is.EqualTo("0.72"));
            Assert.That(NiceTicks.Format(3, 0.5), Is.EqualTo("3.0"));
            Assert.That(NiceTicks.Format(1500, 500), Is.EqualTo("1500"));
        });
    }

    private static RoutingEvaluationReport SampleReport()
    {
        FeatureSet data = FeatureSet.Create(0, [], [0, 0, 0, 0], [-2, 2, -0.1f, 0.1f], [0, 0, 0, 0], [-3, 3, 3, -3], [0, 1, 1, 0]);
        var options = new RoutingEvaluationOptions { SmallLatencyMs = 1, LargeLatencyMs = 8 };
        return RoutingEvaluator.Evaluate(data, [0.1f, 0.9f, 0.8f, 0.2f], options);
    }

    private static int CountNear(PngReader png, int cx, int cy, int radius, Rgb colour)
    {
        int count = 0;
        for (int y = Math.Max(cy - radius, 0); y <= Math.Min(cy + radius, png.Height - 1); y++)
        {
            for (int x = Math.Max(cx - radius, 0); x <= Math.Min(cx + radius, png.Width - 1); x++)
            {
                count += png[x, y] == (colour.R, colour.G, colour.B) ? 1 : 0;
            }
        }

        return count;
    }

    // Dark pixels (text, frame) in rows [top, bottom).
    private static int CountInk(PngReader png, int top, int bottom)
    {
        int count = 0;
        for (int y = top; y < bottom; y++)
        {
            for (int x = 0; x < png.Width; x++)
            {
                (byte r, byte g, byte b) = png[x, y];
                count += r + g + b < 3 * 128 ? 1 : 0;
            }
        }

        return count;
    }
}
