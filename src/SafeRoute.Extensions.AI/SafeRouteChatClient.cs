using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SafeRoute.Extensions.AI;

/// <summary>
/// Chat middleware that checks the user's last message with an <see cref="ISafetyGuard"/> before the inner client is
/// called (a blocked prompt never reaches it) and the assistant's reply after. A blocked exchange is answered with an
/// assistant message, <see cref="ChatFinishReason.ContentFilter"/>, and a <see cref="SafeRouteChatBlock"/> (with the
/// verdict) in <c>AdditionalProperties[<see cref="BlockKey"/>]</c>. Allowed exchanges carry their verdicts under
/// <see cref="PromptVerdictKey"/> and <see cref="ResponseVerdictKey"/>.
/// </summary>
/// <remarks>
/// Streaming: updates from the inner client are held until <see cref="SafeRouteChatOptions.StreamingWindowChars"/>
/// characters have accumulated; the reply so far is then checked and, when it passes, the held updates are released.
/// The complete reply is checked at the end before the last held updates are released. A block mid-stream ends the
/// stream with one content-filter update (and stops reading the inner stream). Latency added: one guard call before the
/// inner call, one per window (the caller sees text one window plus one guard call later than without the
/// middleware), and one at the end. Thread-safe when the inner client and the guard are. User text is never logged.
/// </remarks>
public sealed class SafeRouteChatClient : DelegatingChatClient
{
    /// <summary>The <c>AdditionalProperties</c> key of the <see cref="SafeRouteChatBlock"/> on a blocked response or update.</summary>
    public const string BlockKey = "saferoute.block";

    /// <summary>The <c>AdditionalProperties</c> key of the <see cref="SafetyVerdict"/> that blocked an exchange.</summary>
    public const string VerdictKey = "saferoute.verdict";

    /// <summary>The <c>AdditionalProperties</c> key of the prompt's <see cref="SafetyVerdict"/> on an allowed response.</summary>
    public const string PromptVerdictKey = "saferoute.prompt_verdict";

    /// <summary>The <c>AdditionalProperties</c> key of the reply's <see cref="SafetyVerdict"/> on an allowed response.</summary>
    public const string ResponseVerdictKey = "saferoute.response_verdict";

    private readonly ISafetyGuard _guard;
    private readonly SafeRouteChatOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the middleware.</summary>
    /// <param name="innerClient">The client that talks to the model.</param>
    /// <param name="guard">The guard (for example the routed guard that <c>AddSafeRoute</c> registers).</param>
    /// <param name="options">The settings; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">A logger; <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="innerClient"/> or <paramref name="guard"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="SafeRouteChatOptions.StreamingWindowChars"/> is below 1.</exception>
    public SafeRouteChatClient(IChatClient innerClient, ISafetyGuard guard, SafeRouteChatOptions? options = null, ILogger<SafeRouteChatClient>? logger = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(guard);
        options ??= new SafeRouteChatOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.StreamingWindowChars, 1, nameof(options));
        ArgumentNullException.ThrowIfNull(options.BlockedMessage, nameof(options));
        _guard = guard;
        _options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <inheritdoc/>
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        IList<ChatMessage> list = messages as IList<ChatMessage> ?? [.. messages];
        string? prompt = LastUserText(list);
        (SafetyVerdict? promptVerdict, SafeRouteChatBlock? block) = await CheckPromptAsync(prompt, cancellationToken).ConfigureAwait(false);
        if (block is not null)
        {
            return BlockedResponse(block);
        }

        ChatResponse response = await base.GetResponseAsync(list, options, cancellationToken).ConfigureAwait(false);
        SafetyVerdict? responseVerdict = null;
        if (_options.Checks.HasFlag(SafeRouteChatChecks.Responses) && !SafetyText.IsBlank(response.Text))
        {
            (responseVerdict, block) = await CheckAsync(SafeRouteChatStage.Response, prompt, response.Text, cancellationToken).ConfigureAwait(false);
            if (block is not null)
            {
                ChatResponse blocked = BlockedResponse(block);
                blocked.ResponseId = response.ResponseId;
                blocked.ModelId = response.ModelId;
                blocked.Usage = response.Usage;
                return blocked;
            }
        }

        if (promptVerdict is not null || responseVerdict is not null)
        {
            response.AdditionalProperties ??= [];
            if (promptVerdict is not null)
            {
                response.AdditionalProperties[PromptVerdictKey] = promptVerdict;
            }

            if (responseVerdict is not null)
            {
                response.AdditionalProperties[ResponseVerdictKey] = responseVerdict;
            }
        }

        return response;
    }

    /// <inheritdoc/>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        IList<ChatMessage> list = messages as IList<ChatMessage> ?? [.. messages];
        string? prompt = LastUserText(list);
        (_, SafeRouteChatBlock? block) = await CheckPromptAsync(prompt, cancellationToken).ConfigureAwait(false);
        if (block is not null)
        {
            yield return BlockedUpdate(block, null);
            yield break;
        }

        if (!_options.Checks.HasFlag(SafeRouteChatChecks.Responses))
        {
            await foreach (ChatResponseUpdate update in base.GetStreamingResponseAsync(list, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        var held = new List<ChatResponseUpdate>();
        var text = new StringBuilder();
        int heldChars = 0;
        int releasedChars = 0;
        string? lastResponseId = null;
        IAsyncEnumerator<ChatResponseUpdate> e = base.GetStreamingResponseAsync(list, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (e.ConfigureAwait(false))
        {
            while (await e.MoveNextAsync().ConfigureAwait(false))
            {
                ChatResponseUpdate update = e.Current;
                held.Add(update);
                lastResponseId = update.ResponseId ?? lastResponseId;
                string chunk = update.Text;
                text.Append(chunk);
                heldChars += chunk.Length;
                if (heldChars < _options.StreamingWindowChars)
                {
                    continue;
                }

                block = await CheckHeldReplyAsync(prompt, text.ToString(), releasedChars, cancellationToken).ConfigureAwait(false);
                if (block is not null)
                {
                    break;
                }

                foreach (ChatResponseUpdate released in held)
                {
                    yield return released;
                }

                held.Clear();
                heldChars = 0;
                releasedChars = text.Length;
            }
        }

        if (block is null && text.Length > 0 && held.Count > 0)
        {
            block = await CheckHeldReplyAsync(prompt, text.ToString(), releasedChars, cancellationToken).ConfigureAwait(false);
        }

        if (block is not null)
        {
            yield return BlockedUpdate(block, lastResponseId);
            yield break;
        }

        foreach (ChatResponseUpdate released in held)
        {
            yield return released;
        }
    }

    /// <summary>
    /// Checks the reply so far before the held part (from <paramref name="releasedChars"/>) is released. When the guard had
    /// to cut the whole reply to fit its context (<see cref="SafetyVerdict.WasTruncated"/>), the held part may have fallen
    /// in the cut-out middle, so it is checked again on its own with a little of the text before it; if even that does
    /// not fit, the reply cannot be checked and <see cref="SafeRouteChatOptions.FailureMode"/> decides. Nothing is released
    /// that no check has seen.
    /// </summary>
    private async ValueTask<SafeRouteChatBlock?> CheckHeldReplyAsync(string? prompt, string reply, int releasedChars, CancellationToken cancellationToken)
    {
        (SafetyVerdict? whole, SafeRouteChatBlock? block) = await CheckAsync(SafeRouteChatStage.Response, prompt, reply, cancellationToken).ConfigureAwait(false);
        if (block is not null || whole is not { WasTruncated: true })
        {
            return block;
        }

        int overlap = Math.Min(64, _options.StreamingWindowChars / 4);
        string held = reply[Math.Max(0, releasedChars - overlap)..];
        (SafetyVerdict? part, block) = await CheckAsync(SafeRouteChatStage.Response, prompt, held, cancellationToken).ConfigureAwait(false);
        if (block is not null || part is not { WasTruncated: true })
        {
            return block;
        }

        var tooLong = new SafeRouteException(
            $"A streamed reply window of {held.Length} characters does not fit the guard's context together with the prompt, so part of it " +
            $"would be released unchecked. Lower {nameof(SafeRouteChatOptions)}.{nameof(SafeRouteChatOptions.StreamingWindowChars)} (it is {_options.StreamingWindowChars}).");
        return _options.FailureMode == SafeRouteChatFailureMode.Throw ? throw tooLong : Failed(SafeRouteChatStage.Response, part, tooLong);
    }

    /// <summary>A check that could not be made, under a <see cref="SafeRouteChatOptions.FailureMode"/> other than Throw:
    /// logged, then allowed (<see langword="null"/>) or blocked.</summary>
    /// <summary>The flagged category codes of a verdict, comma-separated; "none" when the guard reports no flagged category.</summary>
    internal static string FlaggedCategories(SafetyVerdict verdict)
    {
        if (verdict.Categories is not { Count: > 0 } categories)
        {
            return "none";
        }

        string flagged = string.Join(",", categories.Where(c => c.IsFlagged).Select(c => c.Name));
        return flagged.Length == 0 ? "none" : flagged;
    }

    private SafeRouteChatBlock? Failed(SafeRouteChatStage stage, SafetyVerdict? verdict, Exception failure)
    {
        ChatLog.GuardFailed(_logger, stage, _options.FailureMode, failure);
        return _options.FailureMode == SafeRouteChatFailureMode.Allow ? null : new SafeRouteChatBlock(stage, verdict, failure);
    }

    private static string? LastUserText(IList<ChatMessage> messages)
    {
        for (int i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].Role == ChatRole.User)
            {
                string text = messages[i].Text;
                return SafetyText.IsBlank(text) ? null : text;
            }
        }

        return null;
    }

    private ValueTask<(SafetyVerdict? Verdict, SafeRouteChatBlock? Block)> CheckPromptAsync(string? prompt, CancellationToken cancellationToken) =>
        _options.Checks.HasFlag(SafeRouteChatChecks.Prompts) && prompt is not null
            ? CheckAsync(SafeRouteChatStage.Prompt, prompt, null, cancellationToken)
            : ValueTask.FromResult<(SafetyVerdict?, SafeRouteChatBlock?)>((null, null));

    private async ValueTask<(SafetyVerdict? Verdict, SafeRouteChatBlock? Block)> CheckAsync(SafeRouteChatStage stage, string? prompt, string? response, CancellationToken cancellationToken)
    {
        // A reply with no user message before it is checked against a neutral placeholder prompt.
        var request = new SafetyRequest(prompt ?? "(no user message)", response);
        SafetyVerdict verdict;
        try
        {
            verdict = await _guard.EvaluateAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_options.FailureMode != SafeRouteChatFailureMode.Throw && (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested))
        {
            return (null, Failed(stage, null, ex));
        }

        if (!verdict.IsUnsafe)
        {
            return (verdict, null);
        }

        // Category codes only (S1, a classifier label): never user text.
        if (_logger.IsEnabled(LogLevel.Information))
        {
            string categories = FlaggedCategories(verdict);
            ChatLog.Blocked(_logger, stage, verdict.UnsafeProbability, verdict.DecidedBy, categories);
        }
        return (verdict, new SafeRouteChatBlock(stage, verdict, null));
    }

    private ChatMessage BlockedMessage(SafeRouteChatBlock block) =>
        _options.BlockedMessageFactory?.Invoke(block) ?? new ChatMessage(ChatRole.Assistant, _options.BlockedMessage);

    private ChatResponse BlockedResponse(SafeRouteChatBlock block)
    {
        var response = new ChatResponse(BlockedMessage(block))
        {
            FinishReason = ChatFinishReason.ContentFilter,
            RawRepresentation = block,
            AdditionalProperties = new AdditionalPropertiesDictionary { [BlockKey] = block },
        };
        if (block.Verdict is not null)
        {
            response.AdditionalProperties[VerdictKey] = block.Verdict;
        }

        return response;
    }

    private ChatResponseUpdate BlockedUpdate(SafeRouteChatBlock block, string? responseId)
    {
        ChatMessage message = BlockedMessage(block);
        var update = new ChatResponseUpdate(message.Role, message.Contents)
        {
            FinishReason = ChatFinishReason.ContentFilter,
            ResponseId = responseId,
            RawRepresentation = block,
            AdditionalProperties = new AdditionalPropertiesDictionary { [BlockKey] = block },
        };
        if (block.Verdict is not null)
        {
            update.AdditionalProperties[VerdictKey] = block.Verdict;
        }

        return update;
    }
}

/// <summary>Source-generated log messages of the chat middleware; none takes user text.</summary>
internal static partial class ChatLog
{
    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "SafeRoute blocked a chat {Stage} (p(unsafe) = {Probability}, decided by the {Tier} guard, categories: {Categories}).")]
    public static partial void Blocked(ILogger logger, SafeRouteChatStage stage, float probability, GuardTier tier, string categories);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "The safety guard failed while checking a chat {Stage}; failure mode {Mode} applied.")]
    public static partial void GuardFailed(ILogger logger, SafeRouteChatStage stage, SafeRouteChatFailureMode mode, Exception exception);
}
