using Microsoft.Extensions.AI;

namespace SafeRoute.Extensions.AI;

/// <summary>Which side of a chat exchange <see cref="SafeRouteChatClient"/> checks.</summary>
[Flags]
public enum SafeRouteChatChecks
{
    /// <summary>Nothing is checked.</summary>
    None = 0,

    /// <summary>The user's last message, before the inner client is called.</summary>
    Prompts = 1,

    /// <summary>The assistant's reply (with the user's last message as its prompt).</summary>
    Responses = 2,

    /// <summary>Both.</summary>
    Both = Prompts | Responses,
}

/// <summary>What <see cref="SafeRouteChatClient"/> does when the guard itself fails (not when it answers "unsafe").</summary>
public enum SafeRouteChatFailureMode
{
    /// <summary>Fail closed: answer as if the text were unsafe (the block carries the exception and no verdict).</summary>
    Block = 0,

    /// <summary>Fail open: let the exchange through unchecked.</summary>
    Allow = 1,

    /// <summary>Throw the guard's exception to the caller.</summary>
    Throw = 2,
}

/// <summary>The side of an exchange that was blocked.</summary>
public enum SafeRouteChatStage
{
    /// <summary>The user's prompt (the inner client was not called).</summary>
    Prompt = 0,

    /// <summary>The assistant's reply.</summary>
    Response = 1,
}

/// <summary>Why an exchange was blocked: passed to <see cref="SafeRouteChatOptions.BlockedMessageFactory"/> and attached to
/// the blocked response under <see cref="SafeRouteChatClient.BlockKey"/>.</summary>
/// <param name="Stage">The side that was blocked.</param>
/// <param name="Verdict">The guard's verdict, or <see langword="null"/> when the guard failed.</param>
/// <param name="Failure">The guard's exception when it failed and <see cref="SafeRouteChatFailureMode.Block"/> applied.</param>
public sealed record SafeRouteChatBlock(SafeRouteChatStage Stage, SafetyVerdict? Verdict, Exception? Failure);

/// <summary>Settings of <see cref="SafeRouteChatClient"/>.</summary>
public sealed class SafeRouteChatOptions
{
    /// <summary>Gets or sets which side of the exchange is checked.</summary>
    /// <value>The default is <see cref="SafeRouteChatChecks.Both"/>.</value>
    public SafeRouteChatChecks Checks { get; set; } = SafeRouteChatChecks.Both;

    /// <summary>Gets or sets the assistant text returned for a blocked exchange.</summary>
    /// <value>The default is "Sorry, I can't help with that."</value>
    public string BlockedMessage { get; set; } = "Sorry, I can't help with that.";

    /// <summary>Gets or sets a factory for the assistant message returned for a blocked exchange; it wins over
    /// <see cref="BlockedMessage"/>.</summary>
    public Func<SafeRouteChatBlock, ChatMessage>? BlockedMessageFactory { get; set; }

    /// <summary>Gets or sets what happens when the guard fails.</summary>
    /// <value>The default is <see cref="SafeRouteChatFailureMode.Block"/> (fail closed).</value>
    public SafeRouteChatFailureMode FailureMode { get; set; } = SafeRouteChatFailureMode.Block;

    /// <summary>Gets or sets how many characters of a streamed reply are held before the reply so far is checked and
    /// the held updates are released. Smaller windows release text sooner but call the guard more often.</summary>
    /// <value>The default is 256. At least 1.</value>
    public int StreamingWindowChars { get; set; } = 256;
}
