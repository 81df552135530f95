using SafeRoute.Samples.Console;

// dotnet run --project samples/SafeRoute.Samples.Console -- "text to check" ["more text" ...] [--SafeRoute:Setting=value ...]
// With no text arguments, checks each line of standard input.
if (!args.Any(a => !a.StartsWith("--", StringComparison.Ordinal)) && !Console.IsInputRedirected)
{
    Console.Error.WriteLine("Type a text to check and press Enter (Ctrl+D or Ctrl+Z ends). These are the default demonstration models;");
    Console.Error.WriteLine("for Llama Guard 3 exports: --SafeRoute:SmallModel:Path=<1B folder> --SafeRoute:LargeModel:Path=<8B folder> --SafeRoute:Router:Kind=Entropy");
}

return await SampleApp.RunAsync(args, Console.In, Console.Out, Console.Error).ConfigureAwait(false);
