using System.Runtime.InteropServices;

namespace SafeRoute.Cli;

internal static class Program
{
    /// <summary>
    /// Entry point. The first Ctrl+C (or SIGTERM) cancels the running command, which stops at a consistent point
    /// (the feature cache keeps every written batch) and exits with 130; a second Ctrl+C ends the process at once.
    /// </summary>
    public static async Task<int> Main(string[] args)
    {
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (!cts.IsCancellationRequested)
            {
                e.Cancel = true;
                Console.Error.WriteLine("stopping after the current batch… (Ctrl+C again to abort at once)");
                cts.Cancel();
            }
        };
        Console.CancelKeyPress += onCancel;
        using PosixSignalRegistration onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            cts.Cancel();
        });
        try
        {
            return await CliApp.RunAsync(args, Console.Out, Console.Error, cts.Token).ConfigureAwait(false);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
