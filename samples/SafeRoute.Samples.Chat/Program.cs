using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SafeRoute.Samples.Chat;

// A console chat guarded by SafeRoute: dotnet run --project samples/SafeRoute.Samples.Chat
// Each line you type is checked before the chat model sees it; the streamed reply is checked in windows.
// With --measure [rounds] it measures the latency the middleware adds instead.
int measure = Array.IndexOf(args, "--measure");
string[] hostArgs = measure < 0 ? args : [.. args.Take(measure), .. args.Skip(measure + 1).SkipWhile(a => int.TryParse(a, out _))];
using IHost host = ChatSampleApp.BuildHost(hostArgs);
try
{
    await host.StartAsync().ConfigureAwait(false); // validates the options, loads and warms up the guards
}
catch (Exception ex) when (ex is Microsoft.Extensions.Options.OptionsValidationException or SafeRoute.SafeRouteException)
{
    Console.Error.WriteLine($"SafeRoute could not start: {ex.Message}");
    return 2;
}

if (measure >= 0)
{
    int rounds = measure + 1 < args.Length && int.TryParse(args[measure + 1], out int r) ? r : 20;
    await LatencyProbe.RunAsync(host.Services.GetRequiredService<IChatClient>(), new EchoChatClient(), rounds, ChatSampleApp.WindowChars(host), Console.Out).ConfigureAwait(false);
}
else
{
    Console.Error.WriteLine("Type a message (Ctrl+D to quit). The chat model is an offline echo client.");
    await ChatSampleApp.ChatAsync(host.Services.GetRequiredService<IChatClient>(), Console.In, Console.Out).ConfigureAwait(false);
}

await host.StopAsync().ConfigureAwait(false);
return 0;
