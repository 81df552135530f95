using SafeRoute.Samples.Console;

return await SampleApp.RunAsync(args, Console.In, Console.Out, Console.Error).ConfigureAwait(false);
