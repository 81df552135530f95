using System.Buffers.Binary;
using SafeRoute.Cli;
using SafeRoute.Training;

namespace SafeRoute.Tests.Cli;

[TestFixture]
public sealed class PngTests
{
    /// <summary>Checks the PNG signature and the IHDR chunk, and reads the image size.</summary>
    internal static bool IsPng(string path, out int width, out int height)
    {
        width = height = 0;
        byte[] bytes = File.ReadAllBytes(path);
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (bytes.Length < 33 || !bytes.AsSpan(0, 8).SequenceEqual(signature) || !bytes.AsSpan(12, 4).SequenceEqual("IHDR"u8))
        {
            return false;
        }

        width = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16));
        height = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20));
        return bytes.AsSpan(bytes.Length - 8, 4).SequenceEqual("IEND"u8);
    }

    [Test]
    public void TradeoffPlot_Save_WritesValidPngOfTheStatedSize_WithAndWithoutLatency()
    {
        FeatureSet data = FeatureSet.Create(0, [], [0, 0, 0, 0], [-2, 2, -0.1f, 0.1f], [0, 0, 0, 0], [-3, 3, 3, -3], [0, 1, 1, 0]);
        string directory = Path.Combine(Path.GetTempPath(), "saferoute-plot-" + Guid.NewGuid().ToString("N"));
        try
        {
            foreach (bool latency in (bool[])[true, false])
            {
                var options = new RoutingEvaluationOptions();
                if (latency)
                {
                    options.SmallLatencyMs = 1;
                    options.LargeLatencyMs = 8;
                }

                RoutingEvaluationReport report = RoutingEvaluator.Evaluate(data, [0.1f, 0.9f, 0.8f, 0.2f], options);
                string path = Path.Combine(directory, latency ? "with.png" : "without.png");
                TradeoffPlot.Save(report, path, "test");

                Assert.That(IsPng(path, out int w, out int h), Is.True, path);
                Assert.That((w, h), Is.EqualTo((TradeoffPlot.Width, TradeoffPlot.Height)));
                Assert.That(new FileInfo(path).Length, Is.GreaterThan(5000), "a drawn plot, not an empty image");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
