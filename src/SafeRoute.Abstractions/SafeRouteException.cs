namespace SafeRoute;

/// <summary>A model, tokenizer or router could not be loaded or run. The message names the file or model.</summary>
public sealed class SafeRouteException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="SafeRouteException"/> class.</summary>
    public SafeRouteException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="SafeRouteException"/> class.</summary>
    /// <param name="message">What failed, naming the file or model.</param>
    public SafeRouteException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="SafeRouteException"/> class.</summary>
    /// <param name="message">What failed, naming the file or model.</param>
    /// <param name="innerException">The underlying failure.</param>
    public SafeRouteException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
