using System.CommandLine;
using System.Globalization;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary><c>saferoute cache</c>: run both guards once per labelled row and store features + verdicts.</summary>
internal static class CacheCommand
{
    public static Command Create(CliConsole console)
    {
        Option<string[]> data = CliApp.DataOption("Labelled JSONL data (id, prompt, response, label); repeat for several files.");
        Option<string> cache = CliApp.CacheOption("The feature cache file to create or resume.");
        var batchSize = new Option<int>("--batch-size")
        {
            Description = "Rows per guard run and per write to the cache.",
            DefaultValueFactory = _ => 32,
            HelpName = "n",
        };
        var models = new ModelArguments();

        var duplicateIds = CliApp.DuplicateIdOption();
        var command = new Command(
            "cache",
            "Run the small guard (features + verdict) and the large guard (verdict) once on every row not yet cached. " +
            "Resumable: Ctrl+C stops after the batch in flight, the file stays consistent, and the same command picks up where it stopped.");
        command.Options.Add(data);
        command.Options.Add(cache);
        command.Options.Add(batchSize);
        models.AddTo(command);
        command.Options.Add(duplicateIds);
        command.SetAction(CliApp.Guarded(console, async (parse, ct) =>
        {
            int batch = parse.GetValue(batchSize);
            if (batch < 1)
            {
                throw new UsageException("--batch-size must be at least 1.");
            }

            List<SafetyExample> rows = CliApp.ReadData(parse.GetValue(data)!, parse.GetValue(duplicateIds));
            string cachePath = parse.GetValue(cache)!;
            if (DatasetChecks.Describe(rows, "note: the data") is { Length: > 0 } conflicts)
            {
                await console.Error.WriteLineAsync(conflicts).ConfigureAwait(false);
            }

            using OnnxSafetyGuard small = models.LoadSmall(parse);
            using LargeGuard large = models.LoadLarge(parse);
            using FeatureCache featureCache = large.OpenCache(cachePath, small);
            if (featureCache.RecoveredTornRecord)
            {
                await console.Error.WriteLineAsync("note: dropped a torn last record left by an interrupted write.").ConfigureAwait(false);
            }

            int before = featureCache.Count;
            int todo = rows.Count(r => !featureCache.Contains(r.Id));
            await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{rows.Count} rows; {rows.Count - todo} already cached, {todo} to run (small {small.Name}, large {large.Name}).")).ConfigureAwait(false);
            try
            {
                await console.RunWithProgressAsync("caching", todo, report =>
                    featureCache.Add(rows, batch, new InlineProgress<FeatureCacheProgress>(p => report(p.Added)), ct)).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"interrupted: {featureCache.Count} rows are safely in '{featureCache.Path}' ({featureCache.Count - before} new). Run the same command again to resume.")).ConfigureAwait(false);
                throw;
            }

            await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"cached {featureCache.Count - before} new rows; '{featureCache.Path}' holds {featureCache.Count} rows, {featureCache.HiddenSize} features each.")).ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }
}

/// <summary>An <see cref="IProgress{T}"/> that calls back on the reporting thread (no synchronization context hop).</summary>
internal sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
