using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace SafeRoute.Tests.Integrations;

/// <summary>An in-process chat model: answers a fixed reply (whole or in fixed-size chunks) and counts calls and chunks read.</summary>
internal sealed class ScriptedChatClient(string reply, int chunkSize = 8) : IChatClient
{
    private int _calls;
    private int _chunksRead;

    public int Calls => Volatile.Read(ref _calls);

    public int ChunksRead => Volatile.Read(ref _chunksRead);

    public int ChunkCount => (reply.Length + chunkSize - 1) / chunkSize;

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, reply))
        {
            FinishReason = ChatFinishReason.Stop,
            ResponseId = "r1",
            Usage = new UsageDetails { OutputTokenCount = 7 },
        });
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        for (int i = 0; i < reply.Length; i += chunkSize)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            Interlocked.Increment(ref _chunksRead);
            yield return new ChatResponseUpdate(ChatRole.Assistant, reply.Substring(i, Math.Min(chunkSize, reply.Length - i))) { ResponseId = "r1" };
        }

        yield return new ChatResponseUpdate { FinishReason = ChatFinishReason.Stop, ResponseId = "r1" };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}

/// <summary>A deterministic <see cref="ISafetyGuard"/> for middleware tests: unsafe when the checked text (the response
/// when there is one, else the prompt) contains the made-up marker "FORBIDDEN". Records what it was asked.</summary>
internal sealed class MarkerGuard : ISafetyGuard
{
    public const string Marker = "FORBIDDEN";

    public List<SafetyRequest> Requests { get; } = [];

    public Exception? Failure { get; set; }

    /// <summary>Gets or sets a context limit in characters of the checked text: longer text is seen only as its first and
    /// last half-limit characters, and the verdict says it was truncated (as a real guard's head+tail cut does).</summary>
    public int? ContextChars { get; set; }

    public ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        lock (Requests)
        {
            Requests.Add(request);
        }

        if (Failure is not null)
        {
            return ValueTask.FromException<SafetyVerdict>(Failure);
        }

        string text = request.Response ?? request.Prompt;
        bool truncated = ContextChars is { } limit && text.Length > limit;
        if (truncated)
        {
            int half = ContextChars!.Value / 2;
            text = text[..half] + "\n" + text[^half..];
        }

        bool bad = text.Contains(Marker, StringComparison.Ordinal);
        return ValueTask.FromResult(new SafetyVerdict { IsUnsafe = bad, UnsafeProbability = bad ? 0.9f : 0.1f, DecidedBy = GuardTier.Small, ModelName = "marker", WasTruncated = truncated });
    }

    public async ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default)
    {
        var verdicts = new SafetyVerdict[requests.Count];
        for (int i = 0; i < requests.Count; i++)
        {
            verdicts[i] = await EvaluateAsync(requests[i], cancellationToken);
        }

        return verdicts;
    }
}
