using Spectre.Console;

namespace SafeRoute.Cli;

/// <summary>Where a command writes: results to <see cref="Out"/>, progress and messages to <see cref="Error"/>.</summary>
internal sealed class CliConsole
{
    public CliConsole(TextWriter output, TextWriter error)
    {
        Out = output;
        Error = error;
        bool terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        Progress = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(error),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        IsInteractive = terminal;
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    public IAnsiConsole Progress { get; }

    public bool IsInteractive { get; }

    /// <summary>
    /// Runs CPU-bound work on a worker thread behind a progress bar with ETA (on a terminal), or with a line every few
    /// seconds otherwise. The work reports (done, total) through the callback it is given.
    /// </summary>
    public async Task<T> RunWithProgressAsync<T>(string description, double total, Func<Action<double>, T> work)
    {
        if (!IsInteractive)
        {
            long last = Environment.TickCount64;
            return await Task.Run(() => work(done =>
            {
                long now = Environment.TickCount64;
                if (now - last >= 5000 || done >= total)
                {
                    last = now;
                    Error.WriteLine($"{description}: {done:0}/{total:0}");
                }
            })).ConfigureAwait(false);
        }

        T result = default!;
        await Progress.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                ProgressTask task = ctx.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
                result = await Task.Run(() => work(done => task.Value = done)).ConfigureAwait(false);
                task.Value = task.MaxValue;
            }).ConfigureAwait(false);
        return result;
    }
}
