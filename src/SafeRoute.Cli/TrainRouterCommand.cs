using System.CommandLine;
using System.Globalization;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary><c>saferoute train-router</c>: the paper's Bayesian router on cached features and hard labels.</summary>
internal static class TrainRouterCommand
{
    public static Command Create(CliConsole console)
    {
        Option<string[]> data = CliApp.DataOption("The training rows (JSONL), already in the cache; repeat for several files (for example paraphrases).");
        Option<string> cache = CliApp.CacheOption("The feature cache built by 'saferoute cache'.");
        var output = new Option<string>("--out", "-o") { Description = "The router file to write (safetensors).", Required = true, HelpName = "file" };
        var defaults = new BayesianRouterTrainerOptions();
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training split (the paper: 1000).", DefaultValueFactory = _ => defaults.Epochs, HelpName = "n" };
        var seed = new Option<int>("--seed") { Description = "Seed of every random choice; the same seed gives the same router.", DefaultValueFactory = _ => defaults.Seed, HelpName = "n" };
        var hidden = new Option<int>("--hidden-size") { Description = "Width of both hidden layers.", DefaultValueFactory = _ => defaults.HiddenSize, HelpName = "n" };
        var batch = new Option<int>("--batch-size") { Description = "Minibatch size (class-balanced sampling).", DefaultValueFactory = _ => defaults.BatchSize, HelpName = "n" };
        var lr = new Option<double>("--learning-rate") { Description = "AdamW's peak learning rate (100 warm-up steps, then linear decay).", DefaultValueFactory = _ => defaults.LearningRate, HelpName = "x" };
        var validation = new Option<double>("--validation-fraction") { Description = "Share of each hard-label class held out for validation.", DefaultValueFactory = _ => defaults.ValidationFraction, HelpName = "x" };
        var threads = new Option<int>("--threads") { Description = "Threads for the matrix products (results are identical for any value).", DefaultValueFactory = _ => 1, HelpName = "n" };

        var duplicateIds = CliApp.DuplicateIdOption();
        var command = new Command(
            "train-router",
            "Train the SafeRoute router (Bayesian MLP H→W→W→1 with W = --hidden-size: 512 as in the paper by default; the default models' router uses 64; BCE + 0.01·KL, AdamW, class-balanced batches) on the cached " +
            "small-guard features and the hard labels (large guard right, small guard wrong). Needs no models (everything comes from the cache) " +
            "unless --paraphrases asks a chat model for paraphrases, which both guards then relabel.");
        foreach (Option o in (Option[])[data, cache, output, epochs, seed, hidden, batch, lr, validation, threads])
        {
            command.Options.Add(o);
        }

        var augmentation = new Augmentation();
        augmentation.AddTo(command);
        command.Options.Add(duplicateIds);
        command.SetAction(CliApp.Guarded(console, async (parse, ct) =>
        {
            int paraphrasesPerRow = augmentation.Check(parse);
            var options = new BayesianRouterTrainerOptions
            {
                Epochs = parse.GetValue(epochs),
                Seed = parse.GetValue(seed),
                HiddenSize = parse.GetValue(hidden),
                BatchSize = parse.GetValue(batch),
                LearningRate = parse.GetValue(lr),
                ValidationFraction = parse.GetValue(validation),
                MaxDegreeOfParallelism = parse.GetValue(threads),
            };
            List<SafetyExample> rows = CliApp.ReadData(parse.GetValue(data)!, parse.GetValue(duplicateIds));
            string outPath = parse.GetValue(output)!;
            if (paraphrasesPerRow > 0)
            {
                // Only the paraphrases of this run's rows (the file may hold others from earlier runs on other data).
                var ids = new HashSet<string>(rows.Select(r => r.Id), StringComparer.Ordinal);
                List<SafetyExample> paraphrases = [.. (await augmentation.RunAsync(console, parse, rows, parse.GetValue(cache)!, outPath, ct).ConfigureAwait(false))
                    .Where(p => ids.Contains(p.Id[..p.Id.LastIndexOf("#para", StringComparison.Ordinal)]))];
                await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"training on {rows.Count} rows + {paraphrases.Count} paraphrases.")).ConfigureAwait(false);
                rows.AddRange(paraphrases);
            }

            FeatureSet set;
            using (FeatureCache featureCache = FeatureCache.OpenRead(parse.GetValue(cache)!))
            {
                set = featureCache.Load(rows);
            }

            int hard = 0;
            foreach (bool h in set.HardLabels)
            {
                hard += h ? 1 : 0;
            }

            await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{set.Count} rows, {hard} hard ({CliApp.Percent((double)hard / Math.Max(1, set.Count))}), {set.HiddenSize} features; {options.Epochs} epochs, seed {options.Seed}.")).ConfigureAwait(false);
            var trainer = new BayesianRouterTrainer(options);
            RouterTrainingResult result = await console.RunWithProgressAsync("training", options.Epochs, report =>
                trainer.Train(set, new InlineProgress<RouterTrainingProgress>(p => report(p.Epoch)), ct)).ConfigureAwait(false);
            result.Save(outPath);
            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"wrote {outPath}: final training loss {result.EpochLosses[^1]:0.0000}; validation ({result.ValidationIndices.Count} rows) loss {result.ValidationLoss:0.0000}, routing F1 {result.ValidationRoutingF1:0.0000} (P {result.ValidationRoutingPrecision:0.0000}, R {result.ValidationRoutingRecall:0.0000}) at ε = 0.5. Choose ε for your budget with 'saferoute calibrate'.")).ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }
}
