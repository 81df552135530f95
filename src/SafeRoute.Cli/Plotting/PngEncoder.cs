using System.Buffers.Binary;
using System.IO.Compression;

namespace SafeRoute.Cli.Plotting;

/// <summary>
/// Writes an <see cref="RgbCanvas"/> as a PNG: signature, IHDR (8-bit RGB, no interlace), one IDAT (zlib stream of
/// rows, each with filter byte 0), IEND; every chunk with its CRC-32.
/// </summary>
internal static class PngEncoder
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    public static void Save(RgbCanvas canvas, string path)
    {
        using FileStream file = File.Create(path);
        Write(canvas, file);
    }

    public static void Write(RgbCanvas canvas, Stream output)
    {
        ArgumentNullException.ThrowIfNull(canvas);
        ArgumentNullException.ThrowIfNull(output);
        output.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, canvas.Width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], canvas.Height);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type: RGB
        header[10] = 0; // compression: deflate
        header[11] = 0; // filter method 0
        header[12] = 0; // no interlace
        WriteChunk(output, "IHDR"u8, header);

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            int stride = canvas.Width * 3;
            ReadOnlySpan<byte> pixels = canvas.Pixels;
            for (int y = 0; y < canvas.Height; y++)
            {
                zlib.WriteByte(0); // filter type None
                zlib.Write(pixels.Slice(y * stride, stride));
            }
        }

        WriteChunk(output, "IDAT"u8, compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        WriteChunk(output, "IEND"u8, []);
    }

    /// <summary>The CRC-32 of PNG (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data) => ~UpdateCrc(0xFFFFFFFFu, data);

    private static uint UpdateCrc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        output.Write(type);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, ~UpdateCrc(UpdateCrc(0xFFFFFFFFu, type), data));
        output.Write(word);
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
