using SafeRoute.Quickstart;

// dotnet run --project samples/SafeRoute.Quickstart -- "text to check" ["more text" ...]
// With no arguments, checks each line of standard input.
if (args.Length == 0 && !Console.IsInputRedirected)
{
    Console.Error.WriteLine("Type a text to check and press Enter (Ctrl+D or Ctrl+Z ends).");
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
return await QuickstartApp.RunAsync(args, Console.In, Console.Out, Console.Error, cancel.Token).ConfigureAwait(false);
