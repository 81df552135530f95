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
        var router = new Option<string>("--router", "-r") { Description = "The trained router (safetensors).", Required = true, HelpName = "file" };
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
        var output = new Option<string?>("--out", "-o") { Description = "Where to write the calibrated router. Default: overwrite --router.", HelpName = "file" };

        var command = new Command(
            "calibrate",
            "Choose the routing threshold ε on held-out rows — for a target large-guard share (a budget) or for the best safety F1 — and store it in the router file, where the library picks it up.");
        foreach (Option o in (Option[])[router, data, cache, share, bestF1, maxShare, output])
        {
            command.Options.Add(o);
        }

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

            string routerPath = parse.GetValue(router)!;
            if (!File.Exists(routerPath))
            {
                throw new FileNotFoundException($"The router file '{routerPath}' does not exist.", routerPath);
            }

            MlpRouter mlp = MlpRouter.Load(Path.GetFullPath(routerPath));
            FeatureSet set = EvalCommand.LoadSet(parse.GetValue(cache)!, parse.GetValue(data)!);
            float[] scores = EvalCommand.Score(mlp, set);
            ThresholdCalibration c = target is double goal
                ? ThresholdCalibrator.ForTargetShare(scores, goal)
                : ThresholdCalibrator.ForBestF1(scores, set.SmallUnsafeProbabilities, set.LargeUnsafeProbabilities, set.Labels, max);
            string outPath = parse.GetValue(output) ?? routerPath;
            RouterFiles.Save(mlp, outPath, c.Threshold);
            string f1 = c.SafetyF1 is double f ? string.Create(CultureInfo.InvariantCulture, $", routed safety F1 {f:0.0000}") : "";
            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"ε = {c.Threshold:R}: {CliApp.Percent(c.LargeShare)} of {set.Count} rows go to the large guard{f1}; wrote {outPath}.")).ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }
}
