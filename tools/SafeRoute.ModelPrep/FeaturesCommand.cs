using System.Globalization;
using System.Text;
using SafeRoute.Onnx;
using SafeRoute.Text;

namespace SafeRoute.ModelPrep;

/// <summary>Small-guard features and logits and large-guard p(unsafe) for the router and dev splits, through the library.</summary>
internal static class FeaturesCommand
{
    public static int Run(Dictionary<string, string> options)
    {
        string data = Program.Required(options, "data");
        string work = Program.Required(options, "work");
        string[] splits = Program.Optional(options, "splits", "router,dev").Split(',', StringSplitOptions.RemoveEmptyEntries);
        using OnnxSafetyGuard small = Guards.Load(Program.Required(options, "small"), GuardTier.Small);
        using OnnxSafetyGuard large = Guards.Load(Program.Required(options, "large"), GuardTier.Large);
        string outDir = Path.Combine(work, "features");
        Directory.CreateDirectory(outDir);
        foreach (string split in splits)
        {
            var rows = WorkFiles.Load(data, work, split);
            SafetyRequest[] requests = [.. rows.Select(r => r.Request)];
            var watch = System.Diagnostics.Stopwatch.StartNew();
            GuardOutput[] s = Guards.Run(small, requests, rows.Select(r => r.Index.Length).ToArray(), wantFeatures: true);
            double smallSeconds = watch.Elapsed.TotalSeconds;
            watch.Restart();
            GuardOutput[] l = Guards.Run(large, requests, rows.Select(r => r.Index.Length).ToArray(), wantFeatures: false);
            double largeSeconds = watch.Elapsed.TotalSeconds;

            int h = s[0].Features!.Length;
            using (var features = new BinaryWriter(File.Create(Path.Combine(outDir, split + ".f32"))))
            {
                foreach (GuardOutput o in s)
                {
                    foreach (float f in o.Features!)
                    {
                        features.Write(f);
                    }
                }
            }

            // large_tokens: the tokens the large guard runs for the row (every window), the router's cost;
            // chars: the length length-aware routing reads (RoutedSafetyGuard.RoutingLength), for its calibration.
            var tsv = new StringBuilder("id\tsource\tlabel\tresp\tsmall_safe\tsmall_unsafe\tsmall_p\tlarge_p\tlarge_tokens\tchars\n");
            for (int i = 0; i < rows.Count; i++)
            {
                IndexRow r = rows[i].Index;
                EncodedPrompt e = large.Encoder.Encode(requests[i]);
                int largeTokens = e.TokenIds.Length + (e.MoreWindows ?? []).Sum(w => w.TokenIds.Length);
                tsv.Append(CultureInfo.InvariantCulture, $"{r.Id}\t{r.Source}\t{r.Label}\t{(r.HasResponse ? 1 : 0)}\t{s[i].SafeLogit:R}\t{s[i].UnsafeLogit:R}\t{s[i].UnsafeProbability:R}\t{l[i].UnsafeProbability:R}\t{largeTokens}\t{RoutedSafetyGuard.RoutingLength(requests[i])}\n");
            }

            File.WriteAllText(Path.Combine(outDir, split + ".tsv"), tsv.ToString());
            Console.WriteLine(FormattableString.Invariant($"{split}: {rows.Count} rows, H={h}, small {smallSeconds:F1}s, large {largeSeconds:F1}s"));
        }

        return 0;
    }
}

internal static class Guards
{
    /// <summary>Loads a guard; a relative <paramref name="directory"/> is relative to the current directory.</summary>
    public static OnnxSafetyGuard Load(string directory, GuardTier tier, int threads = 2) =>
        OnnxSafetyGuard.Create(Path.GetFullPath(directory), new GuardModelOptions { IntraOpNumThreads = threads, MaxBatchSize = 32 }, tier);

    /// <summary>Runs a guard over many requests in length-sorted chunks (less padding), results in input order.</summary>
    public static GuardOutput[] Run(OnnxSafetyGuard guard, SafetyRequest[] requests, int[] lengths, bool wantFeatures)
    {
        int[] order = [.. Enumerable.Range(0, requests.Length).OrderBy(i => lengths[i]).ThenBy(i => i)];
        var results = new GuardOutput[requests.Length];
        const int Chunk = 32;
        for (int start = 0; start < order.Length; start += Chunk)
        {
            int[] idx = order[start..Math.Min(order.Length, start + Chunk)];
            GuardOutput[] outputs = guard.ForwardBatch([.. idx.Select(i => requests[i])], wantFeatures, CancellationToken.None);
            for (int j = 0; j < idx.Length; j++)
            {
                results[idx[j]] = outputs[j];
            }
        }

        return results;
    }
}
