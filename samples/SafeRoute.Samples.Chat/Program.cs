using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SafeRoute.Samples.Chat;

// A console chat guarded by SafeRoute: dotnet run --project samples/SafeRoute.Samples.Chat
// Each line you type is checked before the chat model sees it; the streamed reply is checked in windows.
using IHost host = ChatSampleApp.BuildHost(args);
await host.StartAsync().ConfigureAwait(false);
Console.Error.WriteLine("Type a message (Ctrl+D to quit). The chat model is an offline echo client.");
await ChatSampleApp.ChatAsync(host.Services.GetRequiredService<IChatClient>(), Console.In, Console.Out).ConfigureAwait(false);
await host.StopAsync().ConfigureAwait(false);
