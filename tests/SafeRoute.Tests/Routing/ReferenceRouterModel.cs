using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using SafeRoute.Routing;

namespace SafeRoute.Tests.Routing;

/// <summary>
/// A router's parameters as plain arrays, with the reference checkpoint's tensor names, a writer for F32 (through
/// the library's Safetensors writer) and for hand-encoded F16/BF16 files, and an independent naive double-precision
/// forward pass to compare <see cref="MlpRouter"/> against.
/// </summary>
internal sealed class ReferenceRouterModel
{
    public ReferenceRouterModel(int inputSize, int hidden1, int hidden2)
    {
        H = inputSize;
        A = hidden1;
        B = hidden2;
        W1 = new float[A * H];
        B1 = new float[A];
        G1 = new float[A];
        Be1 = new float[A];
        W2 = new float[B * A];
        B2 = new float[B];
        G2 = new float[B];
        Be2 = new float[B];
        W3 = new float[B];
        B3 = new float[1];
    }

    public int H { get; }

    public int A { get; }

    public int B { get; }

    public float[] W1 { get; }

    public float[] B1 { get; }

    public float[] G1 { get; }

    public float[] Be1 { get; }

    public float[] W2 { get; }

    public float[] B2 { get; }

    public float[] G2 { get; }

    public float[] Be2 { get; }

    public float[] W3 { get; }

    public float[] B3 { get; }

    /// <summary>Kaiming-normal weights, uniform ±1/√fan_in biases, LayerNorm γ ≈ 1 and β ≈ 0 with some noise.</summary>
    public static ReferenceRouterModel CreateRandom(int inputSize, int hidden1, int hidden2, int seed)
    {
        var model = new ReferenceRouterModel(inputSize, hidden1, hidden2);
        var random = new Random(seed);
        FillNormal(random, model.W1, Math.Sqrt(2.0 / inputSize));
        FillUniform(random, model.B1, 1 / Math.Sqrt(inputSize));
        FillNormal(random, model.G1, 0.1, 1.0);
        FillNormal(random, model.Be1, 0.1);
        FillNormal(random, model.W2, Math.Sqrt(2.0 / hidden1));
        FillUniform(random, model.B2, 1 / Math.Sqrt(hidden1));
        FillNormal(random, model.G2, 0.1, 1.0);
        FillNormal(random, model.Be2, 0.1);
        FillNormal(random, model.W3, Math.Sqrt(2.0 / hidden2));
        FillUniform(random, model.B3, 1 / Math.Sqrt(hidden2));
        return model;
    }

    public static float[] RandomFeatures(int length, int seed, double scale = 1.0)
    {
        float[] x = new float[length];
        FillNormal(new Random(seed), x, scale);
        return x;
    }

    /// <summary>Returns a copy with every parameter passed through <paramref name="round"/> (to model fp16/bf16 storage).</summary>
    public ReferenceRouterModel Map(Func<float, float> round)
    {
        var copy = new ReferenceRouterModel(H, A, B);
        (float[] From, float[] To)[] pairs =
        [
            (W1, copy.W1), (B1, copy.B1), (G1, copy.G1), (Be1, copy.Be1), (W2, copy.W2), (B2, copy.B2),
            (G2, copy.G2), (Be2, copy.Be2), (W3, copy.W3), (B3, copy.B3),
        ];
        foreach ((float[] from, float[] to) in pairs)
        {
            for (int i = 0; i < from.Length; i++)
            {
                to[i] = round(from[i]);
            }
        }

        return copy;
    }

    /// <summary>The tensors under the reference checkpoint's names (log σ filled with log 0.1, as the reference initialises it).</summary>
    public List<(string Name, int[] Shape, float[] Data)> Tensors(bool includeLogSigma = true)
    {
        var list = new List<(string Name, int[] Shape, float[] Data)>();
        AddLinear("cls.0", A, H, W1, B1);
        list.Add(("cls.1.weight", [A], G1));
        list.Add(("cls.1.bias", [A], Be1));
        AddLinear("cls.3", B, A, W2, B2);
        list.Add(("cls.4.weight", [B], G2));
        list.Add(("cls.4.bias", [B], Be2));
        AddLinear("cls.6", 1, B, W3, B3);
        return list;

        void AddLinear(string prefix, int outputs, int inputs, float[] w, float[] b)
        {
            list.Add(($"{prefix}.weight_mu", [outputs, inputs], w));
            if (includeLogSigma)
            {
                list.Add(($"{prefix}.weight_log_sigma", [outputs, inputs], Enumerable.Repeat(MathF.Log(0.1f), w.Length).ToArray()));
            }

            list.Add(($"{prefix}.bias_mu", [outputs], b));
            if (includeLogSigma)
            {
                list.Add(($"{prefix}.bias_log_sigma", [outputs], Enumerable.Repeat(MathF.Log(0.1f), b.Length).ToArray()));
            }
        }
    }

    public void WriteF32(string path, IReadOnlyDictionary<string, string>? metadata = null) => Safetensors.Write(path, Tensors(), metadata);

    /// <summary>Writes a safetensors file by hand (8-byte length, JSON header, raw little-endian data) in F16 or BF16.</summary>
    public static void WriteHalfPrecision(string path, IEnumerable<(string Name, int[] Shape, float[] Data)> tensors, string dtype)
    {
        var data = new MemoryStream();
        var header = new StringBuilder("{");
        bool first = true;
        foreach ((string name, int[] shape, float[] values) in tensors)
        {
            long begin = data.Length;
            byte[] two = new byte[2];
            foreach (float v in values)
            {
                ushort bits = dtype == "F16" ? BitConverter.HalfToUInt16Bits((Half)v) : ToBf16Bits(v);
                BinaryPrimitives.WriteUInt16LittleEndian(two, bits);
                data.Write(two);
            }

            header.Append(first ? "" : ",")
                  .Append(JsonSerializer.Serialize(name))
                  .Append(":{\"dtype\":\"").Append(dtype).Append("\",\"shape\":[").Append(string.Join(",", shape))
                  .Append("],\"data_offsets\":[").Append(begin).Append(',').Append(data.Length).Append("]}");
            first = false;
        }

        header.Append('}');
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToString());
        using FileStream file = File.Create(path);
        byte[] length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)headerBytes.Length);
        file.Write(length);
        file.Write(headerBytes);
        data.Position = 0;
        data.CopyTo(file);
    }

    /// <summary>fp32 → bf16 bits with round-to-nearest-even (finite inputs).</summary>
    public static ushort ToBf16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint rounding = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float RoundBf16(float value) => BitConverter.Int32BitsToSingle(ToBf16Bits(value) << 16);

    public static float RoundF16(float value) => (float)(Half)value;

    /// <summary>A plain double-precision forward pass written from the PyTorch definitions, independent of the library.</summary>
    public double NaiveScore(float[] x, double eps = 1e-5)
    {
        double[] h1 = new double[A];
        for (int i = 0; i < A; i++)
        {
            double sum = B1[i];
            for (int j = 0; j < H; j++)
            {
                sum += (double)W1[(i * H) + j] * x[j];
            }

            h1[i] = sum;
        }

        NormRelu(h1, G1, Be1, eps);
        double[] h2 = new double[B];
        for (int i = 0; i < B; i++)
        {
            double sum = B2[i];
            for (int j = 0; j < A; j++)
            {
                sum += (double)W2[(i * A) + j] * h1[j];
            }

            h2[i] = sum;
        }

        NormRelu(h2, G2, Be2, eps);
        double logit = B3[0];
        for (int j = 0; j < B; j++)
        {
            logit += W3[j] * h2[j];
        }

        return 1 / (1 + Math.Exp(-logit));

        static void NormRelu(double[] v, float[] gamma, float[] beta, double eps)
        {
            double mean = v.Average();
            double variance = v.Select(a => (a - mean) * (a - mean)).Average();
            for (int i = 0; i < v.Length; i++)
            {
                v[i] = Math.Max(0, ((v[i] - mean) / Math.Sqrt(variance + eps) * gamma[i]) + beta[i]);
            }
        }
    }

    private static void FillNormal(Random random, float[] target, double std, double mean = 0)
    {
        for (int i = 0; i < target.Length; i++)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            target[i] = (float)(mean + (std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2)));
        }
    }

    private static void FillUniform(Random random, float[] target, double bound)
    {
        for (int i = 0; i < target.Length; i++)
        {
            target[i] = (float)(((2 * random.NextDouble()) - 1) * bound);
        }
    }
}
