using System.CommandLine;
using System.Globalization;
using SafeRoute.Routing;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary><c>saferoute calibrate</c>: choose the router's threshold ε for a budget or for the best F1.</summary>
internal static class CalibrateCommand
{
    public static Command Create(CliConsole console)
    {
        var router = new Option<string>("--router", "-r")
        {
            Description = "The router: a trained router (safetensors), a baseline router file, or a baseline of the paper to turn into a router file: " +
                "entropy, ts (temperature scaling; needs --fit-data), cc (contextual calibration; runs the small guard once) or bc (batch calibration; needs --fit-data).",
            Required = true,
            HelpName = "file|entropy|ts|cc|bc",
        };
        var fit = new Option<string[]>("--fit-data")
        {
            Description = "For ts and bc: rows (JSONL) to fit τ or the mean p(unsafe) on (the router's training data, not the calibration rows).",
            HelpName = "file.jsonl",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var fitCache = new Option<string?>("--fit-cache") { Description = "The feature cache holding the --fit-data rows. Default: --cache.", HelpName = "file" };
        var models = new ModelArguments();
        var duplicateIds = CliApp.DuplicateIdOption();
        Option<string[]> data = CliApp.DataOption("Calibration rows (JSONL), already in the cache: data the router was not trained on.");
        Option<string> cache = CliApp.CacheOption("The feature cache built by 'saferoute cache'.");
        var share = new Option<double?>("--target-share")
        {
            Description = "Choose ε so this share of the rows goes to the large guard (0–1, for example 0.15).",
            HelpName = "x",
        };
        var bestF1 = new Option<bool>("--best-f1") { Description = "Choose ε for the best routed safety F1 on the rows (with --max-share as the budget)." };
        var maxShare = new Option<double>("--max-share")
        {
            Description = "With --best-f1: the largest share that may go to the large guard.",
            DefaultValueFactory = _ => 1.0,
            HelpName = "x",
        };
        var output = new Option<string?>("--out", "-o")
        {
            Description = "Where to write the calibrated router (a baseline becomes a small JSON router file that classify, eval and AddSafeRoute load). Default: overwrite --router (required for entropy|ts|cc|bc).",
            HelpName = "file",
        };

        var command = new Command(
            "calibrate",
            "Choose the routing threshold ε on held-out rows — for a target large-guard share (a budget) or for the best safety F1 — and store it in the router file, where the library picks it up. " +
            "The paper's baselines (entropy, ts, cc, bc) become router files the same way.");
        foreach (Option o in (Option[])[router, data, cache, share, bestF1, maxShare, output, fit, fitCache])
        {
            command.Options.Add(o);
        }

        models.AddTo(command);
        command.Options.Add(duplicateIds);

        command.SetAction(CliApp.Guarded(console, async (parse, ct) =>
        {
            double? target = parse.GetValue(share);
            bool best = parse.GetValue(bestF1);
            double max = parse.GetValue(maxShare);
            if (target is null == !best)
            {
                throw new UsageException("give exactly one of --target-share or --best-f1.");
            }

            if (target is double t && !(t is >= 0 and <= 1))
            {
                throw new UsageException("--target-share must be in [0, 1].");
            }

            if (!(max is >= 0 and <= 1))
            {
                throw new UsageException("--max-share must be in [0, 1].");
            }

            string routerArg = parse.GetValue(router)!;
            string cachePath = parse.GetValue(cache)!;
            DuplicateIdHandling duplicates = parse.GetValue(duplicateIds);
            string? outArg = parse.GetValue(output);
            ISafetyRouter instance;
            string outPath;
            string? baseline = routerArg.ToLowerInvariant() is "entropy" or "ts" or "cc" or "bc" && !File.Exists(routerArg) ? routerArg.ToLowerInvariant() : null;
            if (baseline is not null)
            {
                outPath = outArg ?? throw new UsageException($"--router {baseline} writes a new router file: give --out.");
                instance = CreateBaseline(baseline, parse, fit, fitCache, models, cachePath, duplicates, ct);
            }
            else
            {
                instance = ModelArguments.LoadRouterFile(routerArg);
                outPath = outArg ?? routerArg;
            }

            List<SafetyExample> rows = CliApp.ReadData(parse.GetValue(data)!, duplicates);
            FeatureSet set = EvalCommand.LoadSet(cachePath, rows);
            float[] scores = EvalCommand.Score(instance, set);
            ThresholdCalibration c = target is double goal
                ? ThresholdCalibrator.ForTargetShare(scores, goal)
                : ThresholdCalibrator.ForBestF1(scores, set.SmallUnsafeProbabilities, set.LargeUnsafeProbabilities, set.Labels, max);
            if (instance is MlpRouter mlp)
            {
                RouterFiles.Save(mlp, outPath, c.Threshold);
            }
            else
            {
                BaselineRouterFile.Save(instance, outPath, c.Threshold);
            }

            string f1 = c.SafetyF1 is double f ? string.Create(CultureInfo.InvariantCulture, $", routed safety F1 {f:0.0000}") : "";
            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"ε = {c.Threshold:R}: {CliApp.Percent(c.LargeShare)} of {set.Count} rows go to the large guard{f1}; wrote {outPath} ({instance.Name} router).")).ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>One of the paper's baselines with its parameter: τ or m fitted on --fit-data, q(" ") measured with the small guard.</summary>
    private static ISafetyRouter CreateBaseline(string kind, ParseResult parse, Option<string[]> fit, Option<string?> fitCache, ModelArguments models, string cachePath, DuplicateIdHandling duplicates, CancellationToken ct)
    {
        string[] fitFiles = parse.GetValue(fit) ?? [];
        switch (kind)
        {
            case "entropy":
                return new EntropyRouter();
            case "ts" or "bc":
                if (fitFiles.Length == 0)
                {
                    throw new UsageException($"--router {kind} needs --fit-data: the rows to fit {(kind == "ts" ? "the temperature τ" : "the mean p(unsafe)")} on.");
                }

                var options = new RoutingEvaluationOptions();
                RoutingEvaluator.FitBaselines(EvalCommand.LoadSet(parse.GetValue(fitCache) ?? cachePath, CliApp.ReadData(fitFiles, duplicates)), options);
                return kind == "ts" ? new TemperatureScalingRouter(options.Temperature!.Value) : new BatchCalibrationRouter(options.MeanUnsafeProbability!.Value);
            default:
                string smallDir = models.SmallPath(parse);
                using (FeatureCache featureCache = FeatureCache.OpenRead(File.Exists(cachePath) ? cachePath : throw new FileNotFoundException($"The feature cache '{cachePath}' does not exist; build it with 'saferoute cache'.", cachePath)))
                {
                    if (!featureCache.SmallModel.Equals(GuardModelIdentity.FromModelDirectory(smallDir)))
                    {
                        throw new SafeRouteException($"The cache '{cachePath}' was built with another small guard ({featureCache.SmallModel}); pass the same --models/--small.");
                    }
                }

                using (OnnxSafetyGuard small = models.LoadSmall(parse))
                {
                    return new ContextualCalibrationRouter(ContextualCalibrationRouter.MeasureContentFree(small, ct));
                }
        }
    }
}
