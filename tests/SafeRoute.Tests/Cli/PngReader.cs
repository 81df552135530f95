using System.Buffers.Binary;
using System.IO.Compression;

namespace SafeRoute.Tests.Cli;

/// <summary>
/// A small PNG reader written independently of the encoder under test (bitwise CRC, no shared code): checks the
/// signature and every chunk's CRC, reads IHDR, inflates the IDAT data and undoes filter type 0 (the only one the
/// encoder writes; any other filter byte fails the read). 8-bit RGB only.
/// </summary>
internal sealed class PngReader
{
    private PngReader(int width, int height, byte[] rgb, IReadOnlyList<string> chunkTypes)
    {
        Width = width;
        Height = height;
        Rgb = rgb;
        ChunkTypes = chunkTypes;
    }

    public int Width { get; }

    public int Height { get; }

    public byte[] Rgb { get; }

    public IReadOnlyList<string> ChunkTypes { get; }

    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            int i = ((y * Width) + x) * 3;
            return (Rgb[i], Rgb[i + 1], Rgb[i + 2]);
        }
    }

    /// <summary>CRC-32 bit by bit (reflected polynomial 0xEDB88320), as in the PNG specification's annex.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc >> 1) ^ (0xEDB88320 & (0u - (crc & 1)));
            }
        }

        return ~crc;
    }

    public static PngReader Read(byte[] bytes)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (!bytes.AsSpan(0, 8).SequenceEqual(signature))
        {
            throw new InvalidDataException("No PNG signature.");
        }

        var types = new List<string>();
        using var idat = new MemoryStream();
        int width = 0, height = 0, offset = 8;
        while (offset < bytes.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset));
            ReadOnlySpan<byte> typeAndData = bytes.AsSpan(offset + 4, 4 + length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset + 8 + length));
            string type = System.Text.Encoding.ASCII.GetString(typeAndData[..4]);
            if (Crc32(typeAndData) != stored)
            {
                throw new InvalidDataException($"Bad CRC in chunk {type}.");
            }

            ReadOnlySpan<byte> data = typeAndData[4..];
            types.Add(type);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    if (data.Length != 13 || data[8] != 8 || data[9] != 2 || data[10] != 0 || data[11] != 0 || data[12] != 0)
                    {
                        throw new InvalidDataException("Not an 8-bit, non-interlaced RGB PNG.");
                    }

                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
            }

            offset += 12 + length;
        }

        if (offset != bytes.Length || types.Count < 3 || types[0] != "IHDR" || types[^1] != "IEND")
        {
            throw new InvalidDataException("Bad chunk layout.");
        }

        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionMode.Decompress))
        {
            zlib.CopyTo(inflated);
        }

        byte[] raw = inflated.ToArray();
        int stride = width * 3;
        if (raw.Length != height * (stride + 1))
        {
            throw new InvalidDataException($"Inflated {raw.Length} bytes, expected {height * (stride + 1)}.");
        }

        var rgb = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            int row = y * (stride + 1);
            if (raw[row] != 0)
            {
                throw new InvalidDataException($"Row {y} has filter type {raw[row]}; this reader undoes only type 0.");
            }

            Array.Copy(raw, row + 1, rgb, y * stride, stride); // filter type 0 (None): the bytes are the pixels
        }

        return new PngReader(width, height, rgb, types);
    }
}
