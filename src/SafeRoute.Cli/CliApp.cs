using System.CommandLine;
using System.Text.Json;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary>Builds the <c>saferoute</c> command tree and runs it, mapping failures to <see cref="ExitCodes"/>.</summary>
internal static class CliApp
{
    /// <summary>Runs the tool in-process (what <c>Main</c> and the tests call).</summary>
    /// <param name="args">The command line.</param>
    /// <param name="output">Where results go (standard output).</param>
    /// <param name="error">Where progress, messages and errors go (standard error).</param>
    /// <param name="cancellationToken">Ctrl+C: commands stop at a consistent point and exit with 130.</param>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var console = new CliConsole(output, error);
        RootCommand root = Build(console);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (System.CommandLine.Parsing.ParseError e in parse.Errors)
            {
                await error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            }

            await error.WriteLineAsync($"Run '{CommandPath(parse)} --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null, // Main owns Ctrl+C and cancels our token instead
        };
        return await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    internal static RootCommand Build(CliConsole console)
    {
        var root = new RootCommand(
            "SafeRoute: a small safety guard on every input, a learned router that sends only the hard ones to a large guard.\n" +
            "Classify text, cache both guards' outputs over labelled JSONL data, train and calibrate a router, and evaluate\n" +
            "every routing method of the SafeRoute paper. Without model options the bundled default demonstration models are used.\n\n" +
            "Typical workflow:  cache → train-router → calibrate → eval\n\n" +
            ExitCodes.HelpText);
        root.Subcommands.Add(ClassifyCommand.Create(console));
        root.Subcommands.Add(CacheCommand.Create(console));
        root.Subcommands.Add(TrainRouterCommand.Create(console));
        root.Subcommands.Add(CalibrateCommand.Create(console));
        root.Subcommands.Add(EvalCommand.Create(console));
        root.Subcommands.Add(ProbeCommand.Create(console));
        return root;
    }

    /// <summary>Wraps a command body: maps exceptions to exit codes and one-line messages (never dataset text).</summary>
    internal static Func<ParseResult, CancellationToken, Task<int>> Guarded(CliConsole console, Func<ParseResult, CancellationToken, Task<int>> body) =>
        async (parse, cancellationToken) =>
        {
            try
            {
                return await body(parse, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await console.Error.WriteLineAsync("cancelled.").ConfigureAwait(false);
                return ExitCodes.Cancelled;
            }
            catch (UsageException ex)
            {
                await console.Error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
                await console.Error.WriteLineAsync($"Run '{CommandPath(parse)} --help' for usage.").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
            catch (Exception ex) when (ex is DatasetFormatException or SafeRouteException or IOException or UnauthorizedAccessException or JsonException or InvalidDataException
                or HttpRequestException or TimeoutException)
            {
                await console.Error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.DataOrModel;
            }
            catch (ArgumentException ex)
            {
                // The library's argument checks (an option value out of range, a data set without both classes, …).
                await console.Error.WriteLineAsync($"error: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.DataOrModel;
            }
#pragma warning disable CA1031 // the tool's last line of defence: report, don't crash with a stack trace
            catch (Exception ex)
#pragma warning restore CA1031
            {
                await console.Error.WriteLineAsync($"internal error: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.Internal;
            }
        };

    /// <summary>Reads every row of the data files (validating them: a malformed row stops with its file and line).</summary>
    /// <summary><c>--on-duplicate-id</c>: what reading data does with a row whose id an earlier row (of any data file given) has.</summary>
    internal static Option<DuplicateIdHandling> DuplicateIdOption() => new("--on-duplicate-id")
    {
        Description = "A row whose id an earlier row has: error (report all of them), skip (keep the first) or rename (id~2, id~3, …).",
        DefaultValueFactory = _ => DuplicateIdHandling.Error,
        HelpName = "error|skip|rename",
    };

    internal static List<SafetyExample> ReadData(IEnumerable<string> paths, DuplicateIdHandling duplicates = DuplicateIdHandling.Error)
    {
        string[] files = [.. paths];
        foreach (string path in files)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The data file '{path}' does not exist.", path);
            }
        }

        return [.. SafetyDataset.ReadAll(files, duplicates)];
    }

    internal static Option<string[]> DataOption(string description) => new("--data", "-d")
    {
        Description = description,
        HelpName = "file.jsonl",
        Required = true,
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.OneOrMore,
    };

    internal static Option<string> CacheOption(string description) => new("--cache", "-c")
    {
        Description = description,
        HelpName = "file",
        Required = true,
    };

    internal static string Percent(double share) => (100 * share).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%";

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (System.CommandLine.Parsing.SymbolResult? r = parse.CommandResult; r is not null; r = r.Parent)
        {
            if (r is System.CommandLine.Parsing.CommandResult c)
            {
                names.Insert(0, c.Command is RootCommand ? "saferoute" : c.Command.Name);
            }
        }

        return string.Join(' ', names);
    }
}
