using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using SafeRoute.Routing;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary><c>saferoute eval</c>: every routing method of the paper on one labelled set, as JSON, Markdown and a PNG plot.</summary>
internal static class EvalCommand
{
    public const string JsonFile = "report.json";
    public const string MarkdownFile = "report.md";
    public const string PlotFile = "tradeoff.png";

    public static Command Create(CliConsole console)
    {
        Option<string[]> data = CliApp.DataOption("Evaluation rows (JSONL), already in the cache: data neither the guards nor the router trained on.");
        Option<string> cache = CliApp.CacheOption("The feature cache built by 'saferoute cache'.");
        var router = new Option<string?>("--router", "-r")
        {
            Description = "The SafeRoute router to evaluate (safetensors). Default: router.safetensors of --models when it exists.",
            HelpName = "file",
        };
        var threshold = new Option<float?>("--threshold") { Description = "The router's ε. Default: the ε stored by 'saferoute calibrate' (0.5 without one).", HelpName = "ε" };
        var fit = new Option<string[]>("--fit-data")
        {
            Description = "Rows (JSONL, in the cache) to fit the TS temperature and the BC mean on — the router's training data. Without it TS and BC are left out.",
            HelpName = "file.jsonl",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var noModels = new Option<bool>("--no-models") { Description = "Do not load the guards: no measured latency, FLOPs or CC baseline (unless --small-ms/--large-ms are given)." };
        var latencyRows = new Option<int>("--latency-rows")
        {
            Description = "Rows of the data timed one at a time, per guard, for the latency columns (median).",
            DefaultValueFactory = _ => 64,
            HelpName = "n",
        };
        var smallMs = new Option<double?>("--small-ms") { Description = "The small guard's latency per input in ms (instead of measuring it).", HelpName = "ms" };
        var largeMs = new Option<double?>("--large-ms") { Description = "The large guard's latency per input in ms (instead of measuring it).", HelpName = "ms" };
        var output = new Option<string>("--out", "-o")
        {
            Description = $"The folder for {JsonFile}, {MarkdownFile} and {PlotFile} (created if needed).",
            Required = true,
            HelpName = "dir",
        };
        var title = new Option<string>("--title") { Description = "The plot's title.", DefaultValueFactory = _ => "SafeRoute: latency vs safety F1", HelpName = "text" };
        var models = new ModelArguments();

        var duplicateIds = CliApp.DuplicateIdOption();
        var command = new Command(
            "eval",
            "Evaluate Small, Large, Random, Entropy, TS, CC, BC, SafeRoute and Oracle on the rows: safety F1/precision/recall/AUPRC, " +
            "routing F1/precision/recall against the hard labels, large-guard share, latency (measured per guard) and FLOPs relative to Small. " +
            "Prints the Markdown table and writes JSON, Markdown and a PNG trade-off plot (latency × Small against F1, like the paper's Figure 2).");
        foreach (Option o in (Option[])[data, cache, router, threshold, fit, noModels, latencyRows, smallMs, largeMs, output, title])
        {
            command.Options.Add(o);
        }

        models.AddTo(command);
        command.Options.Add(duplicateIds);
        command.SetAction(CliApp.Guarded(console, async (parse, ct) =>
        {
            if (parse.GetValue(smallMs) is null != parse.GetValue(largeMs) is null)
            {
                throw new UsageException("give both --small-ms and --large-ms, or neither.");
            }

            if (parse.GetValue(latencyRows) < 1)
            {
                throw new UsageException("--latency-rows must be at least 1.");
            }

            string cachePath = parse.GetValue(cache)!;
            List<SafetyExample> rows = CliApp.ReadData(parse.GetValue(data)!, parse.GetValue(duplicateIds));
            FeatureSet set = LoadSet(cachePath, rows);
            var options = new RoutingEvaluationOptions();
            string[] fitFiles = parse.GetValue(fit) ?? [];
            if (fitFiles.Length > 0)
            {
                RoutingEvaluator.FitBaselines(LoadSet(cachePath, CliApp.ReadData(fitFiles, parse.GetValue(duplicateIds))), options);
            }

            string? routerPath = parse.GetValue(router);
            // The --models folder's router (the default one without --models) only goes with that folder's own guards.
            bool ownGuards = parse.GetValue(models.Small) is null && parse.GetValue(models.Large) is null;
            if (routerPath is null && ownGuards && !parse.GetValue(noModels) && File.Exists(models.RouterPath(parse)))
            {
                routerPath = models.RouterPath(parse);
            }

            float[] scores = [];
            if (routerPath is not null)
            {
                if (!File.Exists(routerPath))
                {
                    throw new FileNotFoundException($"The router file '{routerPath}' does not exist.", routerPath);
                }

                MlpRouter mlp = MlpRouter.Load(Path.GetFullPath(routerPath));
                scores = Score(mlp, set);
                options.SafeRouteThreshold = parse.GetValue(threshold) ?? mlp.DefaultThreshold;
            }

            if (parse.GetValue(smallMs) is double sm)
            {
                options.SmallLatencyMs = sm;
                options.LargeLatencyMs = parse.GetValue(largeMs);
            }

            if (!parse.GetValue(noModels))
            {
                await MeasureAsync(console, parse, models, cachePath, rows, parse.GetValue(latencyRows), options, ct).ConfigureAwait(false);
            }

            RoutingEvaluationReport report = RoutingEvaluator.Evaluate(set, scores, options);
            string outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            // The latency sample is the first --latency-rows rows, or all of them when the data has fewer.
            string markdown = report.ToMarkdown() + Notes(options, routerPath, fitFiles.Length > 0, parse.GetValue(smallMs) is not null, Math.Min(parse.GetValue(latencyRows), rows.Count));
            await File.WriteAllTextAsync(Path.Combine(outDir, JsonFile), report.ToJson() + "\n", ct).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(outDir, MarkdownFile), markdown, ct).ConfigureAwait(false);
            TradeoffPlot.Save(report, Path.Combine(outDir, PlotFile), parse.GetValue(title)!);
            await console.Out.WriteAsync(markdown).ConfigureAwait(false);
            await console.Out.WriteLineAsync($"\nwrote {JsonFile}, {MarkdownFile} and {PlotFile} to {outDir}").ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>What the table's numbers rest on: the baselines' fitted parameters, ε, and where latency and FLOPs come from.</summary>
    private static string Notes(RoutingEvaluationOptions o, string? routerPath, bool fitted, bool givenLatency, int latencyRows)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        var lines = new List<string>
        {
            routerPath is null
                ? "SafeRoute: no router given, left out."
                : string.Create(c, $"SafeRoute: router `{Path.GetFileName(routerPath)}` at ε = {o.SafeRouteThreshold:0.####} (route when the score is above ε)."),
            fitted
                ? string.Create(c, $"Entropy-family baselines route when the binary entropy exceeds {o.UncertaintyThreshold} bits; TS τ = {o.Temperature:0.####} and BC m = {o.MeanUnsafeProbability:0.####} fitted on the --fit-data rows.")
                : "TS and BC are left out (no --fit-data rows to fit them on).",
            o.ContentFreeUnsafeProbability is float cf
                ? string.Create(c, $"CC: the small guard's p(unsafe) for the content-free input \" \" is {cf:0.####}.")
                : "CC is left out (models not loaded).",
            o.SmallLatencyMs is double sm && o.LargeLatencyMs is double lm
                ? givenLatency
                    ? string.Create(c, $"Latency per input as given: small {sm:0.###} ms, large {lm:0.###} ms; a method's latency is small + share × large (Large: large alone).")
                    : string.Create(c, $"Latency per input measured here: median of {latencyRows} rows of this data, one at a time, after a warm-up: small {sm:0.###} ms, large {lm:0.###} ms ({lm / sm:0.0}×); a method's latency is small + share × large (Large: large alone). The router's own cost is not included.")
                : "No latency (models not loaded and none given).",
            o.SmallFlops is not null ? "FLOPs: 2 × parameters per token, parameters estimated from the ONNX files' float32 size." : "No FLOPs estimate (models not loaded).",
        };
        return "\n" + string.Join("\n", lines.Select(l => "- " + l)) + "\n";
    }

    internal static FeatureSet LoadSet(string cachePath, IEnumerable<string> dataFiles) => LoadSet(cachePath, CliApp.ReadData(dataFiles));

    internal static FeatureSet LoadSet(string cachePath, List<SafetyExample> rows)
    {
        if (!File.Exists(cachePath))
        {
            throw new FileNotFoundException($"The feature cache '{cachePath}' does not exist; build it with 'saferoute cache'.", cachePath);
        }

        using FeatureCache featureCache = FeatureCache.OpenRead(cachePath);
        return featureCache.Load(rows);
    }

    internal static float[] Score(MlpRouter router, FeatureSet set)
    {
        if (router.InputSize != set.HiddenSize)
        {
            throw new SafeRouteException($"The router takes {router.InputSize} features but the cache holds {set.HiddenSize} per row: it was trained for another small guard.");
        }

        float[] scores = new float[set.Count];
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i] = router.Score(set.GetFeatures(i), set.SmallSafeLogits[i], set.SmallUnsafeLogits[i]);
        }

        return scores;
    }

    /// <summary>Times both guards on the first rows (one at a time, after a warm-up), and adds FLOPs and the CC baseline.</summary>
    private static async Task MeasureAsync(CliConsole console, ParseResult parse, ModelArguments models, string cachePath, List<SafetyExample> rows, int count, RoutingEvaluationOptions options, CancellationToken ct)
    {
        string smallDir = models.SmallPath(parse);
        string largeDir = models.LargePath(parse);
        using (FeatureCache featureCache = FeatureCache.OpenRead(cachePath))
        {
            if (!featureCache.SmallModel.Equals(GuardModelIdentity.FromModelDirectory(smallDir)) || !featureCache.LargeModel.Equals(GuardModelIdentity.FromModelDirectory(largeDir)))
            {
                throw new SafeRouteException($"The cache '{cachePath}' was built with other models (small {featureCache.SmallModel}, large {featureCache.LargeModel}); pass the same --models/--small/--large, or --no-models.");
            }
        }

        options.SmallFlops = GuardCostEstimate.FlopsPerToken(smallDir);
        options.LargeFlops = GuardCostEstimate.FlopsPerToken(largeDir);
        using OnnxSafetyGuard small = models.LoadSmall(parse);
        using OnnxSafetyGuard large = models.LoadLarge(parse);
        options.ContentFreeUnsafeProbability = RoutingEvaluator.MeasureContentFree(small);
        if (options.SmallLatencyMs is not null)
        {
            return;
        }

        SafetyRequest[] sample = [.. rows.Take(count).Select(r => r.ToRequest())];
        await small.WarmUpAsync(ct).ConfigureAwait(false);
        await large.WarmUpAsync(ct).ConfigureAwait(false);
        double[] timesSmall = new double[sample.Length];
        double[] timesLarge = new double[sample.Length];
        await console.RunWithProgressAsync("timing guards", 2 * sample.Length, report =>
        {
            for (int i = 0; i < sample.Length; i++)
            {
                ct.ThrowIfCancellationRequested();
                long t0 = Stopwatch.GetTimestamp();
                _ = small.EvaluateAsync(sample[i], ct).AsTask().GetAwaiter().GetResult();
                timesSmall[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                t0 = Stopwatch.GetTimestamp();
                _ = large.EvaluateAsync(sample[i], ct).AsTask().GetAwaiter().GetResult();
                timesLarge[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                report(2 * (i + 1));
            }

            return 0;
        }).ConfigureAwait(false);
        options.SmallLatencyMs = Median(timesSmall);
        options.LargeLatencyMs = Median(timesLarge);
        await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"latency per input (median of {sample.Length}, one at a time): small {options.SmallLatencyMs:0.###} ms, large {options.LargeLatencyMs:0.###} ms ({options.LargeLatencyMs / options.SmallLatencyMs:0.0}×)")).ConfigureAwait(false);
    }

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }
}
