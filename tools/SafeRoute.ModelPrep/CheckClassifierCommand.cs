using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SafeRoute.ModelPrep;

/// <summary>
/// check-classifier --model DIR --rows wp_rows.jsonl --expected torch_dev_p.tsv [--split dev] [--threads 1]:
/// runs a v2 classifier model folder's model.onnx directly in ONNX Runtime (right-padded batches of up to 32, pad id 0,
/// token ids from tokenize-wordpiece) and compares p(unsafe) = softmax(logits)[1] with PyTorch's (id TAB p) — the
/// float16-rounded model's, which is what the shipped graph computes — failing above --tolerance (default 1e-4); with
/// --float32 FILE it also reports the deviation from the float32 model and fails on any verdict flip; then the median
/// latency of one 128-token input on --threads intra-op threads (numbers only).
/// </summary>
internal static class CheckClassifierCommand
{
    public static int Run(Dictionary<string, string> options)
    {
        string model = Program.Required(options, "model");
        string rowsPath = Program.Required(options, "rows");
        string split = Program.Optional(options, "split", "dev");
        int threads = int.Parse(Program.Optional(options, "threads", "1"), CultureInfo.InvariantCulture);
        double tolerance = double.Parse(Program.Optional(options, "tolerance", "1e-4"), CultureInfo.InvariantCulture);
        Dictionary<string, double> expected = ReadP(Program.Required(options, "expected"));
        Dictionary<string, double>? float32 = options.TryGetValue("float32", out string? f32) ? ReadP(f32) : null;

        var rows = new List<(string Id, long[] Ids, long[] Types)>();
        foreach (string line in File.ReadLines(rowsPath))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement r = doc.RootElement;
            if (r.GetProperty("split").GetString() != split)
            {
                continue;
            }

            rows.Add((r.GetProperty("id").GetString()!, [.. r.GetProperty("ids").EnumerateArray().Select(e => e.GetInt64())],
                [.. r.GetProperty("tt").EnumerateArray().Select(e => e.GetInt64())]));
        }

        using var sessionOptions = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var session = new InferenceSession(Path.Combine(model, "model.onnx"), sessionOptions);
        double maxDiff = 0, maxDiff32 = 0;
        int flips = 0, flips32 = 0, hidden = 0;
        var sorted = rows.OrderBy(r => r.Ids.Length).ToList();
        for (int s = 0; s < sorted.Count; s += 32)
        {
            var batch = sorted.Skip(s).Take(32).ToList();
            (float[] logits, float[] pooled, int h) = Run(session, batch.Select(b => (b.Ids, b.Types)).ToList());
            hidden = h;
            for (int i = 0; i < batch.Count; i++)
            {
                double z0 = logits[2 * i], z1 = logits[2 * i + 1];
                double p = 1.0 / (1.0 + Math.Exp(z0 - z1));
                double e = expected[batch[i].Id];
                maxDiff = Math.Max(maxDiff, Math.Abs(p - e));
                flips += (p > 0.5) != (e > 0.5) ? 1 : 0;
                if (float32 is not null)
                {
                    double e32 = float32[batch[i].Id];
                    maxDiff32 = Math.Max(maxDiff32, Math.Abs(p - e32));
                    flips32 += (p > 0.5) != (e32 > 0.5) ? 1 : 0;
                }
            }
        }

        // Latency: one 128-token prompt-only input ([CLS] + 126 ids + [SEP]), batch 1.
        long[] ids = [101, .. Enumerable.Range(0, 126).Select(i => 2000L + (i * 37 % 5000)), 102];
        var one = new List<(long[], long[])> { (ids, new long[ids.Length]) };
        for (int i = 0; i < 20; i++)
        {
            Run(session, one);
        }

        var times = new List<double>();
        for (int i = 0; i < 200; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Run(session, one);
            times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }

        times.Sort();
        Console.WriteLine(FormattableString.Invariant(
            $"{model}: {rows.Count} {split} rows, max |p_onnx - p_torch| {maxDiff:E2}, verdict flips {flips}, H {hidden}; latency 128 tokens, {threads} thread(s): median {times[100]:F3} ms, p10 {times[20]:F3} ms"));
        if (float32 is not null)
        {
            Console.WriteLine(FormattableString.Invariant(
                $"{model}: vs the float32 model (float16 weight storage): max |p_onnx - p_torch32| {maxDiff32:E2}, verdict flips {flips32} of {rows.Count}"));
        }

        return maxDiff <= tolerance && flips32 == 0 ? 0 : 1;
    }

    private static Dictionary<string, double> ReadP(string path) =>
        File.ReadLines(path).Select(l => l.Split('\t'))
            .ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);

    private static (float[] Logits, float[] Pooled, int H) Run(InferenceSession session, List<(long[] Ids, long[] Types)> batch)
    {
        int t = batch.Max(b => b.Ids.Length), n = batch.Count;
        var ids = new DenseTensor<long>([n, t]);
        var mask = new DenseTensor<long>([n, t]);
        var types = new DenseTensor<long>([n, t]);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < batch[i].Ids.Length; j++)
            {
                ids[i, j] = batch[i].Ids[j];
                mask[i, j] = 1;
                types[i, j] = batch[i].Types[j];
            }
        }

        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("input_ids", ids),
            NamedOnnxValue.CreateFromTensor("attention_mask", mask),
            NamedOnnxValue.CreateFromTensor("token_type_ids", types),
        ]);
        Tensor<float> pooled = results.First(r => r.Name == "pooled_output").AsTensor<float>();
        return (results.First(r => r.Name == "logits").AsTensor<float>().ToArray(), pooled.ToArray(), pooled.Dimensions[1]);
    }
}
