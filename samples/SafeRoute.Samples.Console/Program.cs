using SafeRoute.Samples.Console;

// dotnet run --project samples/SafeRoute.Samples.Console -- "text to check" ["more text" ...] [--SafeRoute:Setting=value ...]
// With no text arguments, checks each line of standard input.
if (!args.Any(a => !a.StartsWith("--", StringComparison.Ordinal)) && !Console.IsInputRedirected)
{
    Console.Error.WriteLine("Type a text to check and press Enter (Ctrl+D or Ctrl+Z ends). Default models unless configured: see appsettings.json.");
}

return await SampleApp.RunAsync(args, Console.In, Console.Out, Console.Error).ConfigureAwait(false);
