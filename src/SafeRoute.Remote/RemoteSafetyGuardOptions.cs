namespace SafeRoute.Remote;

/// <summary>Settings of a <see cref="RemoteSafetyGuard"/>.</summary>
public sealed class RemoteSafetyGuardOptions
{
    /// <summary>The name of the <see cref="System.Net.Http.HttpClient"/> that <c>AddSafeRouteRemoteGuard</c> registers.</summary>
    public const string HttpClientName = "SafeRoute.Remote";

    /// <summary>Gets or sets the server's base address, for example <c>http://vllm:8000/</c>.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Gets or sets the path of the completions API relative to <see cref="Endpoint"/>.</summary>
    /// <value>The default is <c>v1/completions</c>.</value>
    public string CompletionsPath { get; set; } = "v1/completions";

    /// <summary>Gets or sets the model name sent in each request (vLLM: the served model name).</summary>
    public string Model { get; set; } = "";

    /// <summary>Gets or sets an API key sent as a bearer token; <see langword="null"/> for none.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Gets or sets a value indicating whether the server runs Llama Guard 3 8B (categories S1–S14) rather than 1B (S1–S13).</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool Is8B { get; set; } = true;

    /// <summary>Gets or sets a value indicating whether the prompt text starts with <c>&lt;|begin_of_text|&gt;</c>.</summary>
    /// <value>The default is <see langword="false"/>: vLLM, TGI and llama.cpp add the BOS token themselves when they
    /// tokenize a completions prompt, so writing it again would double it.</value>
    public bool IncludeBeginOfText { get; set; }

    /// <summary>Gets or sets how many top logprobs to request (the <c>logprobs</c> field).</summary>
    /// <value>The default is 5. Between 2 and 20.</value>
    public int TopLogprobs { get; set; } = 5;

    /// <summary>Gets or sets the most inputs sent in one request (as a prompt array).</summary>
    /// <value>The default is 16.</value>
    public int MaxBatchSize { get; set; } = 16;

    /// <summary>Gets or sets a value indicating whether the guard asks for the category line of unsafe answers
    /// (Llama Guard 3 writes <c>unsafe</c>, then the violated categories such as <c>S1,S10</c>): requests allow
    /// <see cref="CategoryMaxTokens"/> tokens instead of 1, and an unsafe verdict carries the listed categories in
    /// <see cref="SafetyVerdict.Categories"/> (probability 1, flagged). A line that lists no known category leaves
    /// <see cref="SafetyVerdict.Categories"/> <see langword="null"/>; the verdict itself is unaffected.</summary>
    /// <value>The default is <see langword="false"/> (one generated token).</value>
    [System.Diagnostics.CodeAnalysis.Experimental("SAFEROUTE001")]
    public bool RequestCategories { get; set; }

    /// <summary>The tokens a request may generate when <see cref="RequestCategories"/> is on: the verdict, a newline and the
    /// comma-separated category codes.</summary>
    public const int CategoryMaxTokens = 12;

    /// <summary>Gets or sets the time one attempt may take, from sending the request to the last byte of the answer's body
    /// (with <c>AddSafeRouteRemoteGuard</c>; a stalled body is an attempt timeout, retried like one).</summary>
    /// <value>The default is 10 seconds.</value>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the time a call may take with all its retries, headers and body included. The guard enforces it
    /// itself too (also over a caller-owned <see cref="System.Net.Http.HttpClient"/>): when it runs out the call throws
    /// <see cref="System.TimeoutException"/>, which the routed guard's failure policy handles.</summary>
    /// <value>The default is 30 seconds.</value>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the largest answer body read, in bytes; a longer body (or a <c>Content-Length</c> above it) fails
    /// the call with <see cref="SafeRouteException"/> without reading the rest.</summary>
    /// <value>The default is 1 MiB (an answer for 16 prompts with 20 top logprobs is a few tens of KiB). At least 1 KiB.</value>
    public long MaxResponseBytes { get; set; } = 1024 * 1024;

    /// <summary>Gets or sets how many times a failed attempt (transport error, 408, 429, 5xx, attempt timeout) is retried,
    /// with exponential back-off and jitter.</summary>
    /// <value>The default is 2.</value>
    public int MaxRetryAttempts { get; set; } = 2;

    /// <summary>Gets or sets the first retry delay (later ones grow exponentially, with jitter).</summary>
    /// <value>The default is 200 ms.</value>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Gets or sets the failure ratio over the sampling window that opens the circuit breaker.</summary>
    /// <value>The default is 0.5.</value>
    public double CircuitBreakerFailureRatio { get; set; } = 0.5;

    /// <summary>Gets or sets how long the circuit stays open before a trial call.</summary>
    /// <value>The default is 15 seconds.</value>
    public TimeSpan CircuitBreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Gets or sets how many attempts the sampling window must hold before the failure ratio can open the
    /// circuit (each retry counts as an attempt).</summary>
    /// <value>The default is 100 (the resilience library's default); at least 2.</value>
    public int CircuitBreakerMinimumThroughput { get; set; } = 100;

    /// <summary>Gets or sets the server API: a decoder guard over completions (the default), or a classifier over vLLM's
    /// <c>/classify</c> or Text Embeddings Inference's <c>/predict</c>.</summary>
    /// <value>The default is <see cref="RemoteGuardProtocol.Completions"/>.</value>
    public RemoteGuardProtocol Protocol { get; set; }

    /// <summary>Gets or sets the decoder family's prompt and verdict tokens (<see cref="RemoteGuardProtocol.Completions"/>
    /// only): <see cref="GuardPromptFormat.FromKind"/> for a built-in family (Qwen3Guard-Gen, WildGuard, Llama Guard 3),
    /// <see cref="GuardPromptFormat.FromModelFolder"/> for a family described in a <c>saferoute.json</c>.</summary>
    /// <value>The default is <see langword="null"/>: Llama Guard 3 (<see cref="Is8B"/> picks 8B or 1B), read exactly as
    /// before families existed.</value>
    [System.Diagnostics.CodeAnalysis.Experimental("SAFEROUTE001")]
    public GuardPromptFormat? PromptFormat { get; set; }

    /// <summary>Gets or sets whether a controversial verdict token counts as unsafe (strict) or safe (loose), overriding
    /// <see cref="GuardPromptFormat.ControversialAsUnsafe"/>; only for formats with controversial tokens (Qwen3Guard).</summary>
    /// <value>The default is <see langword="null"/> (the format's setting).</value>
    public bool? ControversialAsUnsafe { get; set; }

    /// <summary>Gets or sets the token ids of the format's verdict tokens, for exact-token logprobs: one id per token string,
    /// in the order <see cref="GuardPromptFormat.SafeTokens"/>, <see cref="GuardPromptFormat.UnsafeTokens"/>,
    /// <see cref="GuardPromptFormat.ControversialTokens"/>. When set, requests carry vLLM's <c>logprob_token_ids</c> (with
    /// <c>return_tokens_as_token_ids</c>), so every verdict token's logprob comes back even when it is not among the top k,
    /// and p(unsafe) is the exact softmax over the verdict tokens, as the local guard computes it. A server that does not
    /// honour the field (its answer lacks one of the ids) fails the call. Empty: top-k logprobs.</summary>
    /// <value>The default is empty.</value>
    public IList<int> VerdictTokenIds { get; set; } = [];

    /// <summary>Gets or sets the classifier's labels in the order of its logits (the model's <c>id2label</c>); required for
    /// <see cref="RemoteGuardProtocol.VllmClassify"/> (whose answer lists probabilities by index), optional for
    /// <see cref="RemoteGuardProtocol.TeiPredict"/> (whose answer names labels; when given, each must be in every answer).</summary>
    /// <value>The default is empty.</value>
    public IList<string> ClassifierLabels { get; set; } = [];

    /// <summary>Gets or sets the classifier labels that mean unsafe (classifier protocols only); every other label is safe.</summary>
    /// <value>The default is empty.</value>
    public IList<string> UnsafeLabels { get; set; } = [];

    /// <summary>Gets or sets a value indicating whether the classifier is multi-label: the server's probabilities are
    /// independent sigmoids (they need not sum to 1), p(unsafe) is the largest unsafe label's, and every unsafe label is
    /// reported in <see cref="SafetyVerdict.Categories"/> (flagged above 0.5), as the local classifier reports them. Otherwise they are one softmax (they must sum to 1) and p(unsafe) is the
    /// sum over the unsafe labels.</summary>
    /// <value>The default is <see langword="false"/> (softmax).</value>
    public bool MultiLabel { get; set; }

    /// <summary>Gets or sets the path of the classification API relative to <see cref="Endpoint"/>.</summary>
    /// <value>The default is <see langword="null"/>: <c>classify</c> for vLLM, <c>predict</c> for Text Embeddings Inference.</value>
    public string? ClassifyPath { get; set; }

    /// <summary>Gets or sets the tier reported in the verdicts.</summary>
    /// <value>The default is <see cref="GuardTier.Large"/>.</value>
    public GuardTier Tier { get; set; } = GuardTier.Large;

    /// <summary>Throws when a setting is invalid.</summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    internal void Validate()
    {
        if (Endpoint is null || !Endpoint.IsAbsoluteUri || (Endpoint.Scheme != Uri.UriSchemeHttp && Endpoint.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(Endpoint)} must be an absolute http(s) address, for example http://vllm:8000/ (got '{Endpoint}').");
        }

        if (string.IsNullOrWhiteSpace(Model))
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(Model)} must name the served model (vLLM: --served-model-name).");
        }

        if (string.IsNullOrWhiteSpace(CompletionsPath))
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(CompletionsPath)} must not be empty.");
        }

        if (TopLogprobs is < 2 or > 20)
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(TopLogprobs)} must be between 2 and 20 (got {TopLogprobs}).");
        }

        if (MaxBatchSize < 1)
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(MaxBatchSize)} must be at least 1 (got {MaxBatchSize}).");
        }

        if (AttemptTimeout <= TimeSpan.Zero || TotalTimeout < AttemptTimeout)
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(AttemptTimeout)} must be positive and at most {nameof(TotalTimeout)} (got {AttemptTimeout} and {TotalTimeout}).");
        }

        if (MaxResponseBytes < 1024)
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(MaxResponseBytes)} must be at least 1024 (got {MaxResponseBytes}).");
        }

        if (MaxRetryAttempts < 0 || RetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(MaxRetryAttempts)} and {nameof(RetryDelay)} must not be negative.");
        }

        if (!(CircuitBreakerFailureRatio is > 0 and <= 1) || CircuitBreakerBreakDuration < TimeSpan.FromMilliseconds(500))
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(CircuitBreakerFailureRatio)} must be in (0, 1] and {nameof(CircuitBreakerBreakDuration)} at least 0.5 s.");
        }

        ValidateFamily();

        if (CircuitBreakerMinimumThroughput < 2)
        {
            throw new ArgumentException($"{nameof(RemoteSafetyGuardOptions)}.{nameof(CircuitBreakerMinimumThroughput)} must be at least 2 (got {CircuitBreakerMinimumThroughput}).");
        }
    }

    private void ValidateFamily()
    {
        const string Name = nameof(RemoteSafetyGuardOptions);
        if (!Enum.IsDefined(Protocol))
        {
            throw new ArgumentException($"{Name}.{nameof(Protocol)} is not a known protocol (got {Protocol}).");
        }

        if (Protocol == RemoteGuardProtocol.Completions)
        {
            GuardPromptFormat format = PromptFormat ?? GuardPromptFormat.LlamaGuard3(Is8B);
            if (RequestCategories && !format.Kind.StartsWith("llama-guard-3", StringComparison.Ordinal))
            {
                throw new ArgumentException($"{Name}.{nameof(RequestCategories)} reads Llama Guard 3's category line; the '{format.Kind}' format has none.");
            }

            if (ControversialAsUnsafe is not null && format.ControversialTokens.Count == 0)
            {
                throw new ArgumentException($"{Name}.{nameof(ControversialAsUnsafe)} is set, but the '{format.Kind}' format has no controversial verdict tokens.");
            }

            int tokens = format.SafeTokens.Count + format.UnsafeTokens.Count + format.ControversialTokens.Count;
            if (VerdictTokenIds is null || (VerdictTokenIds.Count != 0 && (VerdictTokenIds.Count != tokens || VerdictTokenIds.Any(id => id < 0) || VerdictTokenIds.Distinct().Count() != tokens)))
            {
                throw new ArgumentException($"{Name}.{nameof(VerdictTokenIds)} must be empty or list {tokens} distinct non-negative ids, one per verdict token string of the '{format.Kind}' format (safe, unsafe, then controversial tokens).");
            }

            if (UnsafeLabels is { Count: > 0 } || ClassifierLabels is { Count: > 0 })
            {
                throw new ArgumentException($"{Name}.{nameof(ClassifierLabels)} and {nameof(UnsafeLabels)} apply to the classifier protocols only; {nameof(Protocol)} is {Protocol}.");
            }

            return;
        }

        if (PromptFormat is not null || VerdictTokenIds is { Count: > 0 } || RequestCategories || ControversialAsUnsafe is not null)
        {
            throw new ArgumentException($"{Name}.{nameof(PromptFormat)}, {nameof(VerdictTokenIds)}, {nameof(RequestCategories)} and {nameof(ControversialAsUnsafe)} apply to decoder guards over completions only; {nameof(Protocol)} is {Protocol}.");
        }

        if (UnsafeLabels is not { Count: > 0 } || UnsafeLabels.Any(string.IsNullOrWhiteSpace) || UnsafeLabels.Distinct(StringComparer.Ordinal).Count() != UnsafeLabels.Count)
        {
            throw new ArgumentException($"{Name}.{nameof(UnsafeLabels)} must name at least one classifier label, each once.");
        }

        IList<string> labels = ClassifierLabels ?? [];
        if (Protocol == RemoteGuardProtocol.VllmClassify && labels.Count < 2)
        {
            throw new ArgumentException($"{Name}.{nameof(ClassifierLabels)} must list the classifier's labels in logit order (vLLM's /classify answers probabilities by index).");
        }

        if (labels.Count > 0)
        {
            if (labels.Count < 2 || labels.Any(string.IsNullOrWhiteSpace) || labels.Distinct(StringComparer.Ordinal).Count() != labels.Count)
            {
                throw new ArgumentException($"{Name}.{nameof(ClassifierLabels)} must list at least two distinct, non-empty labels.");
            }

            if (UnsafeLabels.Any(l => !labels.Contains(l)))
            {
                throw new ArgumentException($"{Name}.{nameof(UnsafeLabels)} must name labels of {nameof(ClassifierLabels)}.");
            }

            if (!MultiLabel && UnsafeLabels.Count == labels.Count)
            {
                throw new ArgumentException($"{Name}.{nameof(UnsafeLabels)} names every label; with a softmax at least one label must be safe.");
            }
        }

        if (ClassifyPath is not null && string.IsNullOrWhiteSpace(ClassifyPath))
        {
            throw new ArgumentException($"{Name}.{nameof(ClassifyPath)} must not be empty (null for the protocol's default).");
        }
    }
}
