using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SafeRoute.Routing;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary><c>saferoute eval</c>: every routing method of the paper on one labelled set, as JSON, Markdown and a PNG plot.</summary>
internal static class EvalCommand
{
    public const string JsonFile = "report.json";
    public const string MarkdownFile = "report.md";
    public const string PlotFile = "tradeoff.png";

    public const string SafetyCurveFile = "safety-f1-by-share.png";
    public const string RoutingCurveFile = "routing-f1-by-share.png";

    public static Command Create(CliConsole console)
    {
        Option<string[]> data = CliApp.DataOption("Evaluation rows (JSONL), already in the cache: data neither the guards nor the router trained on.");
        Option<string> cache = CliApp.CacheOption("The feature cache built by 'saferoute cache'.");
        var router = new Option<string?>("--router", "-r")
        {
            Description = "The SafeRoute router to evaluate (safetensors). Default: router.safetensors of --models when it exists.",
            HelpName = "file",
        };
        var extraRouters = new Option<string[]>("--extra-router")
        {
            Description = "Another router file to evaluate beside the others (a safetensors router, or a baseline router file from 'saferoute calibrate --router entropy|ts|cc|bc'); repeatable.",
            HelpName = "file",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var threshold = new Option<float?>("--threshold") { Description = "The router's ε. Default: the ε stored by 'saferoute calibrate' (0.5 without one).", HelpName = "ε" };
        var fit = new Option<string[]>("--fit-data")
        {
            Description = "Rows (JSONL) to fit the TS temperature and the BC mean on — the router's training data. Without it TS and BC are left out.",
            HelpName = "file.jsonl",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var fitCache = new Option<string?>("--fit-cache") { Description = "The feature cache holding the --fit-data rows. Default: --cache.", HelpName = "file" };
        var calibrateOn = new Option<string[]>("--calibrate-on")
        {
            Description = "Labelled rows (JSONL; for example the development split) to choose every method's ε on for each budget share, applied unchanged to the evaluated rows. Default: ε is chosen on the evaluated rows themselves (the report says so).",
            HelpName = "file.jsonl",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var calibrateCache = new Option<string?>("--calibrate-cache") { Description = "The feature cache holding the --calibrate-on rows. Default: --cache.", HelpName = "file" };
        var shares = new Option<string>("--shares")
        {
            Description = "The large-guard shares to compare every method at, comma-separated fractions (0 and 1 allowed).",
            DefaultValueFactory = _ => "0.05,0.10,0.15,0.20,0.30,0.50",
            HelpName = "x,y,…",
        };
        var resamples = new Option<int>("--bootstrap")
        {
            Description = "Paired-bootstrap resamples for the trained router − best baseline intervals (0: none).",
            DefaultValueFactory = _ => 1000,
            HelpName = "n",
        };
        var seed = new Option<int>("--seed") { Description = "Seed of the bootstrap and of the Random baseline.", DefaultValueFactory = _ => 0, HelpName = "n" };
        var sourceShare = new Option<double>("--source-share")
        {
            Description = "The budget share (nearest in --shares) at which the per-source breakdown compares the methods.",
            DefaultValueFactory = _ => 0.2,
            HelpName = "x",
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
            Description = $"The folder for {JsonFile}, {MarkdownFile}, {PlotFile}, {SafetyCurveFile} and {RoutingCurveFile} (created if needed).",
            Required = true,
            HelpName = "dir",
        };
        var title = new Option<string>("--title") { Description = "The plots' title.", DefaultValueFactory = _ => "SafeRoute: latency vs safety F1", HelpName = "text" };
        var models = new ModelArguments();

        var duplicateIds = CliApp.DuplicateIdOption();
        var command = new Command(
            "eval",
            "Evaluate Small, Large, Random, Entropy, TS, CC, BC, SafeRoute and Oracle on the rows: safety F1/precision/recall/AUPRC, " +
            "routing F1/precision/recall against the hard labels, large-guard share, latency (measured per guard) and FLOPs relative to Small; " +
            "then every routing method at the same large-guard shares (--shares), with paired-bootstrap intervals for the router against the best baseline, " +
            "the area under each curve, and a per-source breakdown. Prints the Markdown report and writes JSON, Markdown and PNG plots.");
        foreach (Option o in (Option[])[data, cache, router, extraRouters, threshold, fit, fitCache, calibrateOn, calibrateCache, shares, resamples, seed, sourceShare, noModels, latencyRows, smallMs, largeMs, output, title])
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

            if (parse.GetValue(resamples) < 0)
            {
                throw new UsageException("--bootstrap must be 0 or more.");
            }

            double[] grid = ParseShares(parse.GetValue(shares)!);
            DuplicateIdHandling duplicates = parse.GetValue(duplicateIds);
            string cachePath = parse.GetValue(cache)!;
            List<SafetyExample> rows = CliApp.ReadData(parse.GetValue(data)!, duplicates);
            FeatureSet set = LoadSet(cachePath, rows);
            var options = new RoutingEvaluationOptions { RandomSeed = parse.GetValue(seed) };
            var dataNotes = new List<string>();
            string[] fitFiles = parse.GetValue(fit) ?? [];
            if (fitFiles.Length > 0)
            {
                List<SafetyExample> fitRows = CliApp.ReadData(fitFiles, duplicates);
                RoutingEvaluator.FitBaselines(LoadSet(parse.GetValue(fitCache) ?? cachePath, fitRows), options);
                dataNotes.Add(DatasetChecks.Describe(fitRows, "--fit-data"));
            }

            string[] calibrationFiles = parse.GetValue(calibrateOn) ?? [];
            FeatureSet? calibration = null;
            if (calibrationFiles.Length > 0)
            {
                List<SafetyExample> calibrationRows = CliApp.ReadData(calibrationFiles, duplicates);
                calibration = LoadSet(parse.GetValue(calibrateCache) ?? cachePath, calibrationRows);
                dataNotes.Add(DatasetChecks.Describe(calibrationRows, "--calibrate-on"));
            }

            dataNotes.Insert(0, DatasetChecks.Describe(rows, "Evaluated rows"));
            dataNotes.RemoveAll(string.IsNullOrEmpty);
            foreach (string note in dataNotes)
            {
                await console.Error.WriteLineAsync(note).ConfigureAwait(false);
            }

            string? routerPath = parse.GetValue(router);
            // The --models folder's router (the default one without --models) only goes with that folder's own guards.
            bool ownGuards = parse.GetValue(models.Small) is null && parse.GetValue(models.Large) is null;
            if (routerPath is null && ownGuards && !parse.GetValue(noModels) && File.Exists(models.RouterPath(parse)))
            {
                routerPath = models.RouterPath(parse);
            }

            float[] scores = [];
            ISafetyRouter? trained = null;
            if (routerPath is not null)
            {
                trained = ModelArguments.LoadRouterFile(routerPath);
                scores = Score(trained, set);
                options.SafeRouteThreshold = parse.GetValue(threshold) ?? UniformRuleThreshold(trained);
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

            // Every method as scores, for the budget comparison.
            var methods = new List<ScoredMethod>();
            if (trained is not null)
            {
                methods.Add(new ScoredMethod("SafeRoute", scores, options.SafeRouteThreshold, MethodRole.Trained, calibration is null ? null : Score(trained, calibration)));
            }

            methods.Add(new ScoredMethod("Random", BudgetCurves.RandomScores(set.Count, options.RandomSeed), 0.5f, MethodRole.Baseline,
                calibration is null ? null : BudgetCurves.RandomScores(calibration.Count, options.RandomSeed + 1)));
            foreach ((string name, ISafetyRouter baseline) in Baselines(options))
            {
                methods.Add(new ScoredMethod(name, Score(baseline, set), options.UncertaintyThreshold, MethodRole.Baseline, calibration is null ? null : Score(baseline, calibration)));
            }

            foreach (string extraPath in parse.GetValue(extraRouters) ?? [])
            {
                ISafetyRouter extra = ModelArguments.LoadRouterFile(extraPath);
                string name = Path.GetFileNameWithoutExtension(extraPath);
                methods.Add(new ScoredMethod(methods.Any(m => m.Name == name) ? name + " (file)" : name, Score(extra, set), UniformRuleThreshold(extra), MethodRole.Extra, calibration is null ? null : Score(extra, calibration)));
            }

            var costs = new GuardCosts(options.SmallLatencyMs, options.LargeLatencyMs, options.SmallFlops, options.LargeFlops);
            BudgetCurves curves = BudgetCurves.Evaluate(set, methods, grid, costs, parse.GetValue(resamples), parse.GetValue(seed));
            Dictionary<string, string> sourceById = rows.GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.First().Source);
            string[] sources = set.Ids is { } ids ? [.. ids.Select(id => sourceById.GetValueOrDefault(id, ""))] : [.. rows.Select(r => r.Source)];

            string outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            // The latency sample is the first --latency-rows rows, or all of them when the data has fewer.
            string markdown = report.ToMarkdown()
                + "\n- " + ModelsNote(cachePath, routerPath, parse.GetValue(noModels) ? null : (models.SmallPath(parse), models.LargePath(parse)))
                + Notes(options, routerPath, fitFiles.Length > 0, parse.GetValue(smallMs) is not null, Math.Min(parse.GetValue(latencyRows), rows.Count), set, report)
                + curves.ToMarkdown()
                + curves.PerSourceMarkdown(set, sources, parse.GetValue(sourceShare))
                + DataSection(dataNotes);
            await File.WriteAllTextAsync(Path.Combine(outDir, JsonFile), CombinedJson(report, curves) + "\n", ct).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(outDir, MarkdownFile), markdown, ct).ConfigureAwait(false);
            string plotTitle = parse.GetValue(title)!;
            TradeoffPlot.Save(report, Path.Combine(outDir, PlotFile), plotTitle);
            CurvePlot.Save(curves, safety: true, Path.Combine(outDir, SafetyCurveFile), plotTitle);
            CurvePlot.Save(curves, safety: false, Path.Combine(outDir, RoutingCurveFile), plotTitle);
            await console.Out.WriteAsync(markdown).ConfigureAwait(false);
            await console.Out.WriteLineAsync($"\nwrote {JsonFile}, {MarkdownFile}, {PlotFile}, {SafetyCurveFile} and {RoutingCurveFile} to {outDir}").ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>The paper's entropy-family baselines that <paramref name="options"/> has parameters for, in report order.</summary>
    internal static IEnumerable<(string Name, ISafetyRouter Router)> Baselines(RoutingEvaluationOptions options)
    {
        yield return ("Entropy", new EntropyRouter());
        if (options.Temperature is float tau)
        {
            yield return ("TS", new TemperatureScalingRouter(tau));
        }

        if (options.ContentFreeUnsafeProbability is float cf)
        {
            yield return ("CC", new ContextualCalibrationRouter(cf));
        }

        if (options.MeanUnsafeProbability is float mean)
        {
            yield return ("BC", new BatchCalibrationRouter(mean));
        }
    }

    internal static double[] ParseShares(string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            throw new UsageException("--shares needs at least one share.");
        }

        double[] values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !(values[i] is >= 0 and <= 1))
            {
                throw new UsageException($"--shares: '{parts[i]}' is not a share in [0, 1] (fractions, for example 0.05,0.1,0.2).");
            }
        }

        return [.. values.Distinct().Order()];
    }

    private static string CombinedJson(RoutingEvaluationReport report, BudgetCurves curves)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            curves.WriteJson(w);
        }

        JsonObject root = JsonNode.Parse(report.ToJson())!.AsObject();
        root["budget"] = JsonNode.Parse(stream.ToArray());
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Which models the numbers are for: the guards the cache was built with, and the router file's name and digest.</summary>
    private static string ModelsNote(string cachePath, string? routerPath, (string Small, string Large)? folders)
    {
        static string Shown(string path) => Path.GetRelativePath(Environment.CurrentDirectory, path) is { } r && !r.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(r) ? r : path;

        using FeatureCache featureCache = FeatureCache.OpenRead(cachePath);
        string router = "";
        if (routerPath is not null)
        {
            using FileStream stream = File.OpenRead(routerPath);
            string digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
            router = $"; router `{Shown(Path.GetFullPath(routerPath))}` (SHA-256 {digest[..12]}…)";
        }

        if (folders is var (small, large))
        {
            return $"Models: small guard `{Shown(small)}` ({featureCache.SmallModel}), large guard `{Shown(large)}` ({featureCache.LargeModel}){router}.";
        }

        return $"Models: small guard {featureCache.SmallModel}, large guard {featureCache.LargeModel} (as recorded in the cache){router}.";
    }

    private static string DataSection(List<string> notes) =>
        notes.Count == 0 ? "" : "\n## Data\n\n" + string.Join("\n", notes.Select(n => "- " + n)) + "\n";

    /// <summary>What the table's numbers rest on: the baselines' fitted parameters, ε, and where latency and FLOPs come from.</summary>
    private static string Notes(RoutingEvaluationOptions o, string? routerPath, bool fitted, bool givenLatency, int latencyRows, FeatureSet set, RoutingEvaluationReport report)
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
            o.SmallFlops is not null ? "FLOPs: 2 × parameters per token, parameters estimated from the ONNX files' float32 size." : "No FLOPs estimate (models not loaded, or the large guard is a served model).",
        };
        if (o.Temperature is float tau && report.Methods.FirstOrDefault(m => m.Method == RoutingMethod.TemperatureScaling) is { } ts)
        {
            // Entropy (bits) of softmax([0, d]) is above u exactly when |d| is below the gap g(u); TS divides d by τ.
            double gap = LogitGapAtEntropy(o.UncertaintyThreshold);
            double largest = 0;
            for (int i = 0; i < set.Count; i++)
            {
                largest = Math.Max(largest, Math.Abs((double)set.SmallUnsafeLogits[i] - set.SmallSafeLogits[i]));
            }

            string flattened = tau > 1 ? " (τ > 1: the small guard is over-confident on the fit rows, and flattening makes every row look uncertain)" : "";
            lines.Add(string.Create(c, $"TS follows the paper's definition (entropy of softmax(z / τ), τ fitted by maximum likelihood, routed above {o.UncertaintyThreshold} bits). ")
                + string.Create(c, $"A row stays with the small guard only when its logit gap |z_unsafe − z_safe| exceeds {gap:0.###} × τ = {gap * tau:0.###}; ")
                + string.Create(c, $"the largest gap here is {largest:0.###}, so TS at its own ε sends {100 * ts.LargeShare:0.##}% of rows to the large guard{flattened}. ")
                + "Dividing by τ > 0 keeps the order of the rows' uncertainty, so at equal budget TS routes exactly the rows Entropy routes: compare it in the budget table below.");
        }

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

    /// <summary>The ε a router is evaluated at here: every method is routed by the paper's rule (score above ε for every
    /// input), so a router file calibrated for length-aware routing is evaluated at its <c>uniform_threshold</c>, the
    /// paper's rule calibrated the same way, not at its length-aware ε.</summary>
    private static float UniformRuleThreshold(ISafetyRouter router) =>
        router is MlpRouter { UniformThreshold: float uniform } ? uniform : router.DefaultThreshold;

    internal static float[] Score(ISafetyRouter router, FeatureSet set)
    {
        if (router.FeatureSize is int size && size != set.HiddenSize)
        {
            throw new SafeRouteException($"The router takes {size} features but the cache holds {set.HiddenSize} per row: it was trained for another small guard.");
        }

        bool features = router.FeatureSize is not null;
        float[] scores = new float[set.Count];
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i] = router.Score(features ? set.GetFeatures(i) : default, set.SmallSafeLogits[i], set.SmallUnsafeLogits[i]);
        }

        return scores;
    }

    /// <summary>The logit gap |d| at which the binary entropy of softmax([0, d]) equals <paramref name="bits"/> (bisection; 0 for 1 bit or more).</summary>
    internal static double LogitGapAtEntropy(double bits)
    {
        if (bits >= 1)
        {
            return 0;
        }

        double lo = 0, hi = 100;
        for (int i = 0; i < 200; i++)
        {
            double mid = (lo + hi) / 2;
            double p = 1 / (1 + Math.Exp(-mid));
            double h = -((p * Math.Log2(p)) + ((1 - p) * Math.Log2(1 - p)));
            if (h > bits)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        return (lo + hi) / 2;
    }

    /// <summary>Times both guards on the first rows (one at a time, after a warm-up), and adds FLOPs and the CC baseline.</summary>
    private static async Task MeasureAsync(CliConsole console, ParseResult parse, ModelArguments models, string cachePath, List<SafetyExample> rows, int count, RoutingEvaluationOptions options, CancellationToken ct)
    {
        string smallDir = models.SmallPath(parse);
        using LargeGuard large = models.LoadLarge(parse);
        using (FeatureCache featureCache = FeatureCache.OpenRead(cachePath))
        {
            if (!featureCache.SmallModel.Equals(GuardModelIdentity.FromModelDirectory(smallDir)) || !featureCache.LargeModel.Equals(large.Identity))
            {
                throw new SafeRouteException($"The cache '{cachePath}' was built with other models (small {featureCache.SmallModel}, large {featureCache.LargeModel}); pass the same --models/--small/--large/--large-endpoint, or --no-models.");
            }
        }

        // A served large model has no local ONNX file to estimate FLOPs from: the report then gives latencies only.
        options.SmallFlops = large.Folder is null ? null : GuardCostEstimate.FlopsPerToken(smallDir);
        options.LargeFlops = large.Folder is null ? null : GuardCostEstimate.FlopsPerToken(large.Folder);
        using OnnxSafetyGuard small = models.LoadSmall(parse);
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
                _ = large.Guard.EvaluateAsync(sample[i], ct).AsTask().GetAwaiter().GetResult();
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
