using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

#if SAFEROUTE_TRAINING
namespace SafeRoute.Training.Shared; // compiled into SafeRoute.Training too (internal there), under its own namespace
#else
namespace SafeRoute.Routing;
#endif

/// <summary>One tensor read from a safetensors file, converted to fp32.</summary>
internal sealed class SafetensorsTensor(string name, string dtype, int[] shape, float[] data)
{
    public string Name { get; } = name;

    /// <summary>The dtype stored in the file (F32, F16, BF16 or F64).</summary>
    public string DType { get; } = dtype;

    public int[] Shape { get; } = shape;

    public float[] Data { get; } = data;
}

/// <summary>
/// Reads and writes the safetensors format (8-byte little-endian header length, JSON header, raw little-endian
/// data). Floating-point tensors (F32, F16, BF16, F64) are converted to fp32 on read.
/// </summary>
internal static class Safetensors
{
    private const long MaxHeaderBytes = 100_000_000;

    public static (Dictionary<string, SafetensorsTensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SafeRouteException($"The safetensors file '{path}' could not be read: {ex.Message}", ex);
        }

        return Parse(bytes, path);
    }

    public static (Dictionary<string, SafetensorsTensor> Tensors, Dictionary<string, string> Metadata) Parse(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length < 8)
        {
            throw Corrupt(name, "it is shorter than the 8-byte header length");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > bytes.Length - 8)
        {
            throw Corrupt(name, $"its header length {headerLength} does not fit the file ({bytes.Length} bytes)");
        }

        ReadOnlySpan<byte> data = bytes[(8 + (int)headerLength)..];
        var tensors = new Dictionary<string, SafetensorsTensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using JsonDocument header = JsonDocument.Parse(bytes.Slice(8, (int)headerLength).ToArray());
            foreach (JsonProperty entry in header.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    foreach (JsonProperty m in entry.Value.EnumerateObject())
                    {
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    }

                    continue;
                }

                if (tensors.ContainsKey(entry.Name))
                {
                    throw Corrupt(name, $"tensor '{entry.Name}' appears twice in its header");
                }

                string dtype = entry.Value.GetProperty("dtype").GetString() ?? "";
                int elementSize = dtype switch
                {
                    "F32" => 4,
                    "F16" or "BF16" => 2,
                    "F64" => 8,
                    _ => throw Corrupt(name, $"tensor '{entry.Name}' has dtype {dtype}; only F32, F16, BF16 and F64 are supported"),
                };

                // Dimensions are unsigned 64-bit in the format; the element count and byte size are computed with
                // overflow-checked arithmetic, so a shape whose product wraps around cannot match a small data range.
                JsonElement shapeElement = entry.Value.GetProperty("shape");
                var shape = new int[shapeElement.GetArrayLength()];
                long count = 1;
                int axis = 0;
                foreach (JsonElement e in shapeElement.EnumerateArray())
                {
                    if (!e.TryGetInt64(out long d) || d < 0)
                    {
                        throw Corrupt(name, $"tensor '{entry.Name}' has dimension {e.GetRawText()}, which is not a non-negative integer");
                    }

                    if (d > int.MaxValue)
                    {
                        throw Corrupt(name, $"tensor '{entry.Name}' has dimension {d}, larger than SafeRoute can hold ({int.MaxValue})");
                    }

                    shape[axis++] = (int)d;
                    if (!TryMultiply(count, d, out count))
                    {
                        throw Corrupt(name, $"tensor '{entry.Name}' has shape [{shapeElement.GetRawText().Trim('[', ']')}], whose element count overflows 64 bits");
                    }
                }

                if (!TryMultiply(count, elementSize, out long byteCount) || count > Array.MaxLength)
                {
                    throw Corrupt(name, $"tensor '{entry.Name}' has {count} elements, more than SafeRoute can hold ({Array.MaxLength})");
                }

                JsonElement offsets = entry.Value.GetProperty("data_offsets");
                if (offsets.GetArrayLength() != 2)
                {
                    throw Corrupt(name, $"tensor '{entry.Name}' has {offsets.GetArrayLength()} data offsets; expected 2");
                }

                long begin = offsets[0].GetInt64();
                long end = offsets[1].GetInt64();
                if (begin < 0 || end < begin || end > data.Length || end - begin != byteCount)
                {
                    throw Corrupt(name, $"tensor '{entry.Name}' has data offsets [{begin}, {end}) that do not match its shape and dtype or the file size");
                }

                tensors[entry.Name] = new SafetensorsTensor(entry.Name, dtype, shape, Convert(data.Slice((int)begin, (int)(end - begin)), dtype, (int)count));
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or IndexOutOfRangeException)
        {
            throw Corrupt(name, $"its header is not valid safetensors JSON ({ex.Message})", ex);
        }

        return (tensors, metadata);
    }

    public static void Write(string path, IEnumerable<(string Name, int[] Shape, float[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using FileStream stream = File.Create(path);
        Write(stream, tensors, metadata);
    }

    public static void Write(Stream stream, IEnumerable<(string Name, int[] Shape, float[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        using var headerStream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(headerStream))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject("__metadata__");
                foreach (KeyValuePair<string, string> kv in metadata)
                {
                    writer.WriteString(kv.Key, kv.Value);
                }

                writer.WriteEndObject();
            }

            long offset = 0;
            foreach ((string name, int[] shape, float[] data) in list)
            {
                long expected = shape.Aggregate(1L, (a, d) => a * d);
                if (expected != data.Length)
                {
                    throw new ArgumentException($"Tensor '{name}' has {data.Length} values but its shape holds {expected}.", nameof(tensors));
                }

                writer.WriteStartObject(name);
                writer.WriteString("dtype", "F32");
                writer.WriteStartArray("shape");
                foreach (int d in shape)
                {
                    writer.WriteNumberValue(d);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(offset + (data.Length * 4L));
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset += data.Length * 4L;
            }

            writer.WriteEndObject();
        }

        // Pad the header with spaces to a multiple of 8 bytes, as the reference writer does.
        int padded = (int)((headerStream.Length + 7) / 8 * 8);
        while (headerStream.Length < padded)
        {
            headerStream.WriteByte((byte)' ');
        }

        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)headerStream.Length);
        stream.Write(length);
        headerStream.Position = 0;
        headerStream.CopyTo(stream);
        foreach ((_, _, float[] data) in list)
        {
            byte[] buffer = new byte[data.Length * 4];
            for (int i = 0; i < data.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4), data[i]);
            }

            stream.Write(buffer);
        }
    }

    private static float[] Convert(ReadOnlySpan<byte> raw, string dtype, int count)
    {
        float[] result = new float[count];
        for (int i = 0; i < count; i++)
        {
            result[i] = dtype switch
            {
                "F32" => BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]),
                "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(raw[(i * 2)..]),
                "BF16" => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw[(i * 2)..]) << 16),
                _ => (float)BinaryPrimitives.ReadDoubleLittleEndian(raw[(i * 8)..]),
            };
        }

        return result;
    }

    /// <summary>a × b for non-negative operands; false when the product overflows a signed 64-bit integer.</summary>
    private static bool TryMultiply(long a, long b, out long product)
    {
        Int128 wide = (Int128)a * b;
        if (wide > long.MaxValue)
        {
            product = 0;
            return false;
        }

        product = (long)wide;
        return true;
    }

    private static SafeRouteException Corrupt(string name, string problem, Exception? inner = null)
    {
        string message = $"The safetensors file '{name}' is corrupt: {problem}.";
        return inner is null ? new SafeRouteException(message) : new SafeRouteException(message, inner);
    }
}
