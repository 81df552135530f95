using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace SafeRoute.Samples.Chat;

/// <summary>An offline stand-in for a chat model: it answers "You said: …" and streams the answer in small chunks.
/// Replace it with any IChatClient (OpenAI, Azure OpenAI, Ollama, …); SafeRoute's middleware does not change.</summary>
public sealed class EchoChatClient : IChatClient
{
    private const int ChunkSize = 6;

    /// <inheritdoc/>
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, Reply(messages))) { FinishReason = ChatFinishReason.Stop });

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string reply = Reply(messages);
        for (int i = 0; i < reply.Length; i += ChunkSize)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, reply.Substring(i, Math.Min(ChunkSize, reply.Length - i)));
        }

        yield return new ChatResponseUpdate { FinishReason = ChatFinishReason.Stop };
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private static string Reply(IEnumerable<ChatMessage> messages) =>
        "You said: " + (messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "");
}
