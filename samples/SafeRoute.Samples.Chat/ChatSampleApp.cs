using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SafeRoute.Extensions.AI;

namespace SafeRoute.Samples.Chat;

/// <summary>A console chat: each input line goes through SafeRoute's chat middleware to the chat model, streamed.</summary>
public static class ChatSampleApp
{
    /// <summary>Builds the host: SafeRoute (default models unless configured under "SafeRoute"), and an IChatClient
    /// pipeline with UseSafeRoute over <paramref name="innerClient"/> (the offline <see cref="EchoChatClient"/> by default).</summary>
    /// <param name="args">Command-line arguments (configuration overrides).</param>
    /// <param name="innerClient">The chat model; <see langword="null"/> for the echo client.</param>
    /// <returns>The host (not started).</returns>
    public static IHost BuildHost(string[] args, IChatClient? innerClient = null)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
        Microsoft.Extensions.Logging.FilterLoggingBuilderExtensions.AddFilter(builder.Logging, "Microsoft.Extensions.Hosting", Microsoft.Extensions.Logging.LogLevel.None); // Program.cs reports a failed start in one line
        builder.Services.AddSafeRoute(builder.Configuration.GetSection(SafeRouteOptions.SectionName));
        builder.Services.AddChatClient(innerClient ?? new EchoChatClient())
            .UseSafeRoute(o => o.StreamingWindowChars = WindowChars(builder.Configuration));
        return builder.Build();
    }

    /// <summary>Gets the streaming window: configuration "Chat:WindowChars", default 64.</summary>
    /// <param name="host">The host.</param>
    /// <returns>The window in characters.</returns>
    public static int WindowChars(IHost host) =>
        WindowChars(Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>(host.Services));

    private static int WindowChars(Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        int.TryParse(configuration["Chat:WindowChars"], out int w) && w > 0 ? w : 64;

    /// <summary>Chats line by line until the input ends, writing each streamed reply and a note when SafeRoute blocks.</summary>
    /// <param name="chat">The guarded chat client.</param>
    /// <param name="input">Lines typed by the user.</param>
    /// <param name="output">Where replies go.</param>
    /// <param name="cancellationToken">Stops the chat.</param>
    /// <returns>The number of blocked exchanges.</returns>
    public static async Task<int> ChatAsync(IChatClient chat, TextReader input, TextWriter output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var history = new List<ChatMessage>();
        int blocked = 0;
        while (await input.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            history.Add(new ChatMessage(ChatRole.User, line));
            var reply = new System.Text.StringBuilder();
            ChatResponseUpdate? last = null;
            await output.WriteAsync("assistant> ").ConfigureAwait(false);
            await foreach (ChatResponseUpdate update in chat.GetStreamingResponseAsync(history, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                await output.WriteAsync(update.Text).ConfigureAwait(false);
                reply.Append(update.Text);
                last = update;
            }

            await output.WriteLineAsync().ConfigureAwait(false);
            if (last?.FinishReason == ChatFinishReason.ContentFilter)
            {
                blocked++;
                var block = last.AdditionalProperties?[SafeRouteChatClient.BlockKey] as SafeRouteChatBlock;
                string detail = block?.Verdict is { } v
                    ? FormattableString.Invariant($"p(unsafe) = {v.UnsafeProbability:0.000}, decided by the {v.DecidedBy} guard")
                    : "the guard failed";
                await output.WriteLineAsync($"[SafeRoute blocked the {block?.Stage.ToString().ToLowerInvariant() ?? "exchange"}: {detail}]").ConfigureAwait(false);
                history.RemoveAt(history.Count - 1); // keep blocked prompts out of the conversation
            }
            else
            {
                history.Add(new ChatMessage(ChatRole.Assistant, reply.ToString()));
            }
        }

        return blocked;
    }
}
