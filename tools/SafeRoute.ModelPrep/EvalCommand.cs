using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SafeRoute.Onnx;
using SafeRoute.Routing;

namespace SafeRoute.ModelPrep;

/// <summary>
/// Development-split metrics through the library: small, large, routed (router at its calibrated ε), oracle, entropy
/// routing (ε = 0.5 and at the router's share); routing F1 against the hard labels; latency at 128 tokens; sizes.
/// </summary>
internal static class EvalCommand
{
    public static int Run(Dictionary<string, string> options)
    {
        string data = Program.Required(options, "data");
        string work = Program.Required(options, "work");
        string smallDir = Program.Required(options, "small");
        string largeDir = Program.Required(options, "large");
        string routerPath = Program.Required(options, "router");
        string outPath = Program.Required(options, "out");

        var rows = WorkFiles.Load(data, work, Dataset.Dev);
        SafetyRequest[] requests = [.. rows.Select(r => r.Request)];
        int[] lengths = [.. rows.Select(r => r.Index.Length)];
        bool[] label = [.. rows.Select(r => r.Index.Label == 1)];
        int n = rows.Count;

        GuardOutput[] s;
        GuardOutput[] l;
        using (OnnxSafetyGuard small = Guards.Load(smallDir, GuardTier.Small))
        using (OnnxSafetyGuard large = Guards.Load(largeDir, GuardTier.Large))
        {
            s = Guards.Run(small, requests, lengths, wantFeatures: true);
            l = Guards.Run(large, requests, lengths, wantFeatures: false);
        }

        MlpRouter router = MlpRouter.Load(Path.GetFullPath(routerPath));
        float eps = router.DefaultThreshold;
        var entropy = new EntropyRouter();
        bool[] smallPred = [.. s.Select(o => o.UnsafeProbability > VerdictMath.DecisionThreshold)];
        bool[] largePred = [.. l.Select(o => o.UnsafeProbability > VerdictMath.DecisionThreshold)];
        bool[] hard = [.. Enumerable.Range(0, n).Select(i => largePred[i] == label[i] && smallPred[i] != label[i])];
        float[] routerScore = [.. s.Select(o => router.Score(o.Features, o.SafeLogit, o.UnsafeLogit))];
        float[] entropyScore = [.. s.Select(o => entropy.Score(default, o.SafeLogit, o.UnsafeLogit))];

        // The routed guard's own rule (length-aware when the router file carries a reference length).
        bool[] routed = [.. Enumerable.Range(0, n).Select(i => routerScore[i] > RoutedSafetyGuard.EffectiveThreshold(eps, router.LengthReference, RoutedSafetyGuard.RoutingLength(requests[i])) || float.IsNaN(routerScore[i]))];
        bool[] entropyHalf = [.. entropyScore.Select(x => x > 0.5f)];
        int budget = routed.Count(x => x);
        bool[] entropyAtShare = TopK(entropyScore, budget);

        var result = new JsonObject
        {
            ["split"] = "dev",
            ["rows"] = n,
            ["unsafe"] = label.Count(x => x),
            ["withResponse"] = rows.Count(r => r.Index.HasResponse),
            ["majorityBaselineF1"] = 0.0,
            ["allUnsafeBaselineF1"] = Stats(Enumerable.Repeat(true, n).ToArray(), label)["f1"]!.DeepClone(),
            ["small"] = WithAuprc(Stats(smallPred, label), s, label),
            ["large"] = WithAuprc(Stats(largePred, label), l, label),
            ["routed"] = Routed(router.LengthReference is float lr ? FormattableString.Invariant($"mlp router at calibrated threshold, length-aware (L = {lr:R} characters)") : "mlp router at calibrated threshold", routed, smallPred, largePred, label, hard, eps),
            ["oracle"] = Routed("large guard exactly when t = 1 (upper bound)", hard, smallPred, largePred, label, hard, null),
            ["entropy"] = Routed("binary entropy > 0.5 bits", entropyHalf, smallPred, largePred, label, hard, 0.5f),
            ["entropyAtRouterShare"] = Routed("top-k entropy, same share as the router", entropyAtShare, smallPred, largePred, label, hard, null),
            ["hardLabels"] = hard.Count(x => x),
            ["bySource"] = BySource(rows, smallPred, largePred, routed, label),
        };

        (double smallMs, double largeMs, int tokens) = Latency(smallDir, largeDir);
        result["latency"] = new JsonObject
        {
            ["tokens"] = tokens,
            ["runs"] = 50,
            ["threads"] = 1,
            ["smallMedianMs"] = Math.Round(smallMs, 3),
            ["largeMedianMs"] = Math.Round(largeMs, 3),
            ["ratio"] = Math.Round(largeMs / smallMs, 2),
        };

        string modelsRoot = Path.GetDirectoryName(Path.GetFullPath(smallDir.TrimEnd('/', '\\')))!;
        long total = 0;
        var sizes = new JsonObject();
        foreach (string file in Directory.GetFiles(modelsRoot, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            // metrics.json (this file) and MODEL_CARD.md (written from it afterwards) describe the models: their sizes
            // would always be the previous run's.
            if (Path.GetFileName(file) is "metrics.json" or "MODEL_CARD.md")
            {
                continue;
            }

            long length = new FileInfo(file).Length;
            total += length;
            sizes[Path.GetRelativePath(modelsRoot, file).Replace('\\', '/')] = length;
        }

        sizes["total"] = total;
        result["sizesBytes"] = sizes;

        string text = result.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(outPath, text + "\n");
        Console.WriteLine(text);
        return 0;
    }

    private static bool[] TopK(float[] scores, int k)
    {
        bool[] pick = new bool[scores.Length];
        foreach (int i in Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(k))
        {
            pick[i] = true;
        }

        return pick;
    }

    /// <summary>Adds the area under the precision-recall curve (average precision over p(unsafe), the same definition
    /// as saferoute eval's report: <see cref="SafeRoute.Training.RoutingEvaluator.AveragePrecision"/>).</summary>
    private static JsonObject WithAuprc(JsonObject stats, GuardOutput[] outputs, bool[] label)
    {
        stats["auprc"] = Math.Round(SafeRoute.Training.RoutingEvaluator.AveragePrecision([.. outputs.Select(o => o.UnsafeProbability)], label), 4);
        return stats;
    }

    private static JsonObject Stats(bool[] pred, bool[] label)
    {
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < pred.Length; i++)
        {
            tp += pred[i] && label[i] ? 1 : 0;
            fp += pred[i] && !label[i] ? 1 : 0;
            fn += !pred[i] && label[i] ? 1 : 0;
        }

        double p = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
        double r = tp + fn == 0 ? 0 : (double)tp / (tp + fn);
        double f = p + r == 0 ? 0 : 2 * p * r / (p + r);
        return new JsonObject { ["f1"] = Math.Round(f, 4), ["precision"] = Math.Round(p, 4), ["recall"] = Math.Round(r, 4) };
    }

    private static JsonObject Routed(string description, bool[] route, bool[] small, bool[] large, bool[] label, bool[] hard, float? threshold)
    {
        bool[] pred = [.. Enumerable.Range(0, label.Length).Select(i => route[i] ? large[i] : small[i])];
        JsonObject o = Stats(pred, label);
        o["description"] = description;
        if (threshold is float t)
        {
            o["threshold"] = t;
        }

        o["largeShare"] = Math.Round(route.Count(x => x) / (double)route.Length, 4);
        o["routing"] = Stats(route, hard);
        return o;
    }

    private static JsonObject BySource(List<(IndexRow Index, SafetyRequest Request)> rows, bool[] small, bool[] large, bool[] routed, bool[] label)
    {
        var o = new JsonObject();
        foreach (IGrouping<string, int> g in Enumerable.Range(0, rows.Count).GroupBy(i => rows[i].Index.Source).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            int[] idx = [.. g];
            double Acc(bool[] pred) => Math.Round(idx.Count(i => pred[i] == label[i]) / (double)idx.Length, 4);
            o[g.Key] = new JsonObject { ["rows"] = idx.Length, ["smallAccuracy"] = Acc(small), ["largeAccuracy"] = Acc(large), ["routedAccuracy"] = Acc([.. Enumerable.Range(0, rows.Count).Select(i => routed[i] ? large[i] : small[i])]) };
        }

        return o;
    }

    /// <summary>Median single-request latency (one intra-op thread) of each guard on an input of exactly 128 tokens.</summary>
    private static (double SmallMs, double LargeMs, int Tokens) Latency(string smallDir, string largeDir)
    {
        using OnnxSafetyGuard small = Guards.Load(smallDir, GuardTier.Small, threads: 1);
        using OnnxSafetyGuard large = Guards.Load(largeDir, GuardTier.Large, threads: 1);
        const int Target = 128;
        string text = "";
        int words = 1;
        while (true)
        {
            string candidate = string.Join(' ', Enumerable.Range(0, words).Select(i => (i % 7) switch { 0 => "the", 1 => "weather", 2 => "today", 3 => "is", 4 => "quite", 5 => "nice", _ => "and" }));
            int count = small.Encoder.Encode(new SafetyRequest(candidate)).TokenIds.Length;
            if (count > Target)
            {
                break;
            }

            text = candidate;
            words++;
        }

        var request = new SafetyRequest(text);
        int tokens = small.Encoder.Encode(request).TokenIds.Length;
        return (Median(small, request), Median(large, request), tokens);

        static double Median(OnnxSafetyGuard guard, SafetyRequest request)
        {
            for (int i = 0; i < 10; i++)
            {
                _ = guard.EvaluateAsync(request).AsTask().GetAwaiter().GetResult();
            }

            double[] ms = new double[50];
            for (int i = 0; i < ms.Length; i++)
            {
                long start = Stopwatch.GetTimestamp();
                _ = guard.EvaluateAsync(request).AsTask().GetAwaiter().GetResult();
                ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            Array.Sort(ms);
            return (ms[24] + ms[25]) / 2;
        }
    }
}
