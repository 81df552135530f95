using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly.Timeout;

namespace SafeRoute.Remote;

/// <summary>
/// A guard that runs Llama Guard 3 on an inference server through the OpenAI-compatible <c>/v1/completions</c> API
/// (vLLM, TGI, llama.cpp server, or the SafeRoute.GuardServer sample): it sends the exact Llama Guard 3 prompt
/// (<see cref="LlamaGuard3Prompt"/>) with <c>max_tokens</c> 1 and top logprobs, and reads p(unsafe) as the softmax of the
/// <c>safe</c> and <c>unsafe</c> logprobs, falling back to the generated text when the server returns no logprobs. Other
/// decoder families speak their own prompt and verdict tokens (<see cref="RemoteSafetyGuardOptions.PromptFormat"/>, a
/// <see cref="GuardPromptFormat"/>, with exact-token logprobs through <see cref="RemoteSafetyGuardOptions.VerdictTokenIds"/>),
/// and classifier guards run over vLLM's <c>/classify</c> or Text Embeddings Inference's <c>/predict</c>
/// (<see cref="RemoteSafetyGuardOptions.Protocol"/>).
/// </summary>
/// <remarks>
/// Use it as the routed guard's large tier (<c>AddSafeRouteWithRemoteLargeGuard</c>): the routed guard's
/// <see cref="LargeGuardFailurePolicy"/> decides what an unreachable or failing server means. Every failure here throws
/// (<see cref="HttpRequestException"/>, <see cref="TimeoutException"/> when <see cref="RemoteSafetyGuardOptions.TotalTimeout"/>
/// or the last attempt timeout ran out, headers and body included, an open circuit, or <see cref="SafeRouteException"/> for
/// an answer that cannot be read or a body over <see cref="RemoteSafetyGuardOptions.MaxResponseBytes"/>); the caller's own
/// cancellation throws <see cref="OperationCanceledException"/>. An answer is unreadable unless it clearly names a verdict
/// for every prompt (see <see cref="TryReadUnsafeProbability"/> and the README, "Remote large guard": the top token must
/// be <c>safe</c> or <c>unsafe</c>, a tie fails, each prompt needs exactly one choice, and an echoed <c>model</c> must be
/// <see cref="RemoteSafetyGuardOptions.Model"/>); each failure logs one Warning line saying why. Thread-safe. User text
/// is never logged.
/// </remarks>
public sealed partial class RemoteSafetyGuard : ISafetyGuard
{
    private readonly Func<HttpClient> _client;
    private readonly RemoteSafetyGuardOptions _options;
    private readonly Uri _completionsUri;
    private readonly ILogger _logger;
    private readonly GuardPromptFormat _format;
    private readonly bool _llamaGuard3;
    private readonly VerdictTokens _verdictTokens;

    /// <summary>Creates a remote guard whose HTTP client comes from <paramref name="httpClientFactory"/> (the named client
    /// <see cref="RemoteSafetyGuardOptions.HttpClientName"/>, which <c>AddSafeRouteRemoteGuard</c> sets up with resilience).</summary>
    /// <param name="httpClientFactory">The factory.</param>
    /// <param name="options">The settings.</param>
    /// <param name="logger">A logger; <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public RemoteSafetyGuard(IHttpClientFactory httpClientFactory, RemoteSafetyGuardOptions options, ILogger<RemoteSafetyGuard>? logger = null)
        : this(CheckFactory(httpClientFactory), options, logger)
    {
    }

    /// <summary>Creates a remote guard over an <see cref="HttpClient"/> the caller owns and configures (no resilience is added).</summary>
    /// <param name="httpClient">The client.</param>
    /// <param name="options">The settings.</param>
    /// <param name="logger">A logger; <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public RemoteSafetyGuard(HttpClient httpClient, RemoteSafetyGuardOptions options, ILogger<RemoteSafetyGuard>? logger = null)
        : this(CheckClient(httpClient), options, logger)
    {
    }

    private RemoteSafetyGuard(Func<HttpClient> client, RemoteSafetyGuardOptions options, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _client = client;
        _options = options;
        string baseText = options.Endpoint!.AbsoluteUri;
        var baseUri = new Uri(baseText.EndsWith('/') ? baseText : baseText + "/");
        string path = options.Protocol switch
        {
            RemoteGuardProtocol.VllmClassify => options.ClassifyPath ?? "classify",
            RemoteGuardProtocol.TeiPredict => options.ClassifyPath ?? "predict",
            _ => options.CompletionsPath,
        };
        _completionsUri = new Uri(baseUri, path.TrimStart('/'));
        _logger = logger ?? NullLogger.Instance;
        _format = options.PromptFormat ?? GuardPromptFormat.LlamaGuard3(options.Is8B);
        _llamaGuard3 = options.PromptFormat is null || _format.Kind.StartsWith("llama-guard-3", StringComparison.Ordinal);
        _verdictTokens = new VerdictTokens(_format, options.ControversialAsUnsafe ?? _format.ControversialAsUnsafe, [.. options.VerdictTokenIds]);
    }

    /// <summary>Gets the address requests are sent to (the completions or classification API).</summary>
    public Uri CompletionsUri => _completionsUri;

    /// <summary>Gets the served model name.</summary>
    public string Model => _options.Model;

    /// <inheritdoc/>
    public async ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        SafetyVerdict[] verdicts = await SendAsync([request], cancellationToken).ConfigureAwait(false);
        return verdicts[0];
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var all = new SafetyVerdict[requests.Count];
        for (int start = 0; start < requests.Count; start += _options.MaxBatchSize)
        {
            int count = Math.Min(_options.MaxBatchSize, requests.Count - start);
            var chunk = new SafetyRequest[count];
            for (int i = 0; i < count; i++)
            {
                chunk[i] = requests[start + i] ?? throw new ArgumentException($"Request {start + i} is null.", nameof(requests));
            }

            SafetyVerdict[] verdicts = await SendAsync(chunk, cancellationToken).ConfigureAwait(false);
            Array.Copy(verdicts, 0, all, start, count);
        }

        return all;
    }

    /// <summary>Sends one short, fixed, benign check (used by the health check) to prove the server answers with a readable verdict.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The server's verdict on the probe.</returns>
    /// <exception cref="HttpRequestException">The server could not be reached or answered with an error.</exception>
    /// <exception cref="TimeoutException">The server did not answer (headers and body) in time.</exception>
    /// <exception cref="SafeRouteException">The answer could not be read.</exception>
    public ValueTask<SafetyVerdict> ProbeAsync(CancellationToken cancellationToken = default) =>
        EvaluateAsync(new SafetyRequest("Hello!"), cancellationToken);

    /// <summary>
    /// Reads p(unsafe) from one completion choice, or says why the choice is unreadable. The rules (README, "Remote large
    /// guard"): the first-token top logprobs are read with each token stripped of the byte-level space marker <c>Ġ</c> and
    /// of surrounding white space, compared case-sensitively; the most likely token must be <c>safe</c> or <c>unsafe</c>
    /// (strictly above every other token); p(unsafe) is the softmax of the two verdict logprobs, where a verdict token
    /// missing from the list is bounded by the smallest listed logprob; a p(unsafe) equal to the decision threshold (0.5,
    /// a tie) is unreadable. Without logprobs (absent, <see langword="null"/> or an empty list) the generated text decides
    /// when its first word is exactly <c>safe</c> (p 0) or <c>unsafe</c> (p 1). Anything else is unreadable.
    /// </summary>
    /// <param name="choice">The choice element.</param>
    /// <param name="probability">p(unsafe) when readable.</param>
    /// <param name="reason">Why the choice is unreadable (no user or model text in it); <see langword="null"/> when readable.</param>
    /// <returns><see langword="true"/> when the choice names a verdict.</returns>
    internal static bool TryReadUnsafeProbability(JsonElement choice, out float probability, out string? reason)
    {
        probability = float.NaN;
        reason = null;
        if (choice.ValueKind != JsonValueKind.Object)
        {
            reason = "a choice is not a JSON object";
            return false;
        }

        var entries = new List<(string Token, double Logprob)>();
        if (!TryReadTopEntries(choice, entries, out reason))
        {
            return false;
        }

        if (entries.Count > 0)
        {
            double? safe = null;
            double? @unsafe = null;
            double other = double.NegativeInfinity;
            double min = double.PositiveInfinity;
            foreach ((string token, double lp) in entries)
            {
                min = Math.Min(min, lp);
                string t = token.Replace("Ġ", "", StringComparison.Ordinal).Trim();
                if (t == "safe")
                {
                    safe = Math.Max(safe ?? double.NegativeInfinity, lp);
                }
                else if (t == "unsafe")
                {
                    @unsafe = Math.Max(@unsafe ?? double.NegativeInfinity, lp);
                }
                else
                {
                    other = Math.Max(other, lp);
                }
            }

            if (safe is null && @unsafe is null)
            {
                reason = "neither 'safe' nor 'unsafe' is among the top logprobs";
                return false;
            }

            double s = safe ?? min;
            double u = @unsafe ?? min;
            if (other >= Math.Max(s, u))
            {
                reason = "the most likely first token is not 'safe' or 'unsafe'";
                return false;
            }

            double m = Math.Max(s, u);
            double eu = Math.Exp(u - m);
            double es = Math.Exp(s - m);
            float p = (float)(eu / (eu + es));
            if (p == SafetyVerdict.DecisionThreshold)
            {
                reason = "'safe' and 'unsafe' tie (p(unsafe) is exactly the decision threshold)";
                return false;
            }

            probability = p;
            return true;
        }

        if (!choice.TryGetProperty("text", out JsonElement text) || text.ValueKind != JsonValueKind.String)
        {
            reason = "the choice has neither top logprobs nor a text";
            return false;
        }

        string trimmed = text.GetString()!.TrimStart();
        int end = 0;
        while (end < trimmed.Length && !char.IsWhiteSpace(trimmed[end]))
        {
            end++;
        }

        switch (trimmed[..end])
        {
            case "unsafe":
                probability = 1f;
                return true;
            case "safe":
                probability = 0f;
                return true;
            default:
                reason = "the choice has no top logprobs and its text does not start with the word 'safe' or 'unsafe'";
                return false;
        }
    }

    /// <summary>The categories on the line after <c>unsafe</c> in the generated text (<c>S1,S10</c>): known codes of the
    /// model (S1–S14 on 8B, S1–S13 on 1B), each once, in the order written; null when the line lists none.</summary>
    internal static IReadOnlyList<CategoryScore>? ReadCategories(JsonElement choice, bool is8B)
    {
        if (!choice.TryGetProperty("text", out JsonElement text) || text.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        string[] lines = text.GetString()!.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length < 2 || lines[0] != "unsafe")
        {
            return null;
        }

        IReadOnlyList<string> known = LlamaGuard3Template.CategoryCodes(is8B);
        var categories = new List<CategoryScore>();
        foreach (string code in lines[1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (known.Contains(code, StringComparer.Ordinal) && !categories.Exists(c => c.Name == code))
            {
                categories.Add(new CategoryScore(code, 1f, IsFlagged: true));
            }
        }

        return categories.Count == 0 ? null : categories;
    }

    private static bool TryFinite(JsonElement element, out double value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out value) && double.IsFinite(value);
    }

    private static Func<HttpClient> CheckFactory(IHttpClientFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return () => factory.CreateClient(RemoteSafetyGuardOptions.HttpClientName);
    }

    private static Func<HttpClient> CheckClient(HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return () => client;
    }

    private byte[] BuildBody(SafetyRequest[] requests)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            switch (_options.Protocol)
            {
                case RemoteGuardProtocol.VllmClassify:
                    WriteClassifyBody(w, requests);
                    break;
                case RemoteGuardProtocol.TeiPredict:
                    WritePredictBody(w, requests);
                    break;
                default:
                    WriteCompletionsBody(w, requests);
                    break;
            }

            w.WriteEndObject();
        }

        return stream.ToArray();
    }

    private void WriteCompletionsBody(Utf8JsonWriter w, SafetyRequest[] requests)
    {
        w.WriteString("model", _options.Model);
        if (requests.Length == 1)
        {
            w.WriteString("prompt", RenderPrompt(requests[0]));
        }
        else
        {
            w.WriteStartArray("prompt");
            foreach (SafetyRequest r in requests)
            {
                w.WriteStringValue(RenderPrompt(r));
            }

            w.WriteEndArray();
        }

        w.WriteNumber("max_tokens", _options.RequestCategories ? RemoteSafetyGuardOptions.CategoryMaxTokens : 1);
        w.WriteNumber("temperature", 0);
        w.WriteNumber("logprobs", _options.TopLogprobs);
        if (_verdictTokens.Exact)
        {
            // vLLM (guard-families.md 3b; vllm-project/vllm PR #43463): the logprobs of these ids come back even outside the
            // top k; return_tokens_as_token_ids names each as "token_id:<id>", so no detokenisation is involved.
            w.WriteStartArray("logprob_token_ids");
            foreach (int id in _verdictTokens.Ids)
            {
                w.WriteNumberValue(id);
            }

            w.WriteEndArray();
            w.WriteBoolean("return_tokens_as_token_ids", true);
        }

        w.WriteBoolean("stream", false);
    }

    private string RenderPrompt(SafetyRequest request)
    {
        if (_options.PromptFormat is null)
        {
            return LlamaGuard3Prompt.Render(request, _options.Is8B, _options.IncludeBeginOfText);
        }

        try
        {
            return _format.Render(request, _options.IncludeBeginOfText);
        }
        catch (NotSupportedException ex)
        {
            throw new SafeRouteException($"The remote guard '{_options.Model}' cannot check this request: {ex.Message}", ex);
        }
    }

    private async Task<SafetyVerdict[]> SendAsync(SafetyRequest[] requests, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, _completionsUri)
        {
            Content = new ByteArrayContent(BuildBody(requests)),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (!string.IsNullOrEmpty(_options.ApiKey))
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.ApiKey);
        }

        HttpClient client = _client();
        long started = System.Diagnostics.Stopwatch.GetTimestamp();

        // The whole call (send, headers, body, parse) runs under TotalTimeout, whatever the client's pipeline does: the
        // standard resilience handler sets HttpClient.Timeout to infinite, and a caller-owned client may have none.
        using var total = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        total.CancelAfter(_options.TotalTimeout);
        byte[] body;
        try
        {
            using HttpResponseMessage response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, total.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                RemoteLog.ServerError(_logger, _completionsUri, (int)response.StatusCode);
                throw new HttpRequestException($"The guard server at {_completionsUri} answered {(int)response.StatusCode} {response.ReasonPhrase}.", null, response.StatusCode);
            }

            body = await ResponseBody.ReadAsync(response.Content, _options.MaxResponseBytes, _completionsUri, _logger, total.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Our TotalTimeout, or the HttpClient.Timeout of a caller-owned client; the caller's own cancellation stays an
            // OperationCanceledException (the filter lets it through).
            throw TimedOut(started, ex);
        }
        catch (TimeoutRejectedException ex)
        {
            // The resilience pipeline's attempt (after the last retry) or total timeout.
            throw TimedOut(started, ex);
        }

        SafetyVerdict[] verdicts = _options.Protocol switch
        {
            RemoteGuardProtocol.VllmClassify => ParseClassify(body, requests.Length),
            RemoteGuardProtocol.TeiPredict => ParsePredict(body, requests.Length),
            _ => Parse(body, requests.Length),
        };
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            double milliseconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            RemoteLog.Answered(_logger, requests.Length, milliseconds);
        }

        return verdicts;
    }

    private TimeoutException TimedOut(long started, Exception inner)
    {
        double milliseconds = Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        RemoteLog.TimedOut(_logger, _completionsUri, milliseconds);
        return new TimeoutException($"The guard server at {_completionsUri} did not answer (headers and body) in time: {milliseconds.ToString(CultureInfo.InvariantCulture)} ms elapsed, total timeout {_options.TotalTimeout}, attempt timeout {_options.AttemptTimeout}.", inner);
    }

    private SafeRouteException Unreadable(string reason, Exception? inner = null)
    {
        RemoteLog.Unreadable(_logger, _completionsUri, reason);
        string message = $"The guard server at {_completionsUri} answered unreadably: {reason}.";
        return inner is null ? new SafeRouteException(message) : new SafeRouteException(message, inner);
    }

    private SafetyVerdict[] Parse(byte[] body, int count)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            throw Unreadable("the body is not JSON", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("choices", out JsonElement choices) || choices.ValueKind != JsonValueKind.Array)
            {
                throw Unreadable("there is no 'choices' array");
            }

            if (root.TryGetProperty("model", out JsonElement model) && model.ValueKind != JsonValueKind.Null
                && (model.ValueKind != JsonValueKind.String || !string.Equals(model.GetString(), _options.Model, StringComparison.Ordinal)))
            {
                throw Unreadable($"the answer names another model than '{_options.Model}' (the server runs a different model, or RemoteSafetyGuardOptions.Model is not the name it reports)");
            }

            string n = count.ToString(CultureInfo.InvariantCulture);
            var verdicts = new SafetyVerdict?[count];
            int position = 0;
            foreach (JsonElement choice in choices.EnumerateArray())
            {
                int index = ReadIndex(choice, position++, count, verdicts, "choice", "prompt(s)");
                float p;
                string? reason;
                bool readable = _llamaGuard3 && !_verdictTokens.Exact
                    ? TryReadUnsafeProbability(choice, out p, out reason)
                    : _verdictTokens.TryRead(choice, out p, out reason);
                if (!readable)
                {
                    throw Unreadable($"{reason} (prompt {index.ToString(CultureInfo.InvariantCulture)} of {n})");
                }

                verdicts[index] = new SafetyVerdict
                {
                    IsUnsafe = p > SafetyVerdict.DecisionThreshold,
                    UnsafeProbability = p,
                    DecidedBy = _options.Tier,
                    ModelName = _options.Model,
                    Categories = _options.RequestCategories && p > SafetyVerdict.DecisionThreshold ? ReadCategories(choice, _options.PromptFormat is null ? _options.Is8B : _format.Kind == "llama-guard-3-8b") : null,
                };
            }

            return Complete(verdicts, "no choice answers prompt");
        }
    }
}

/// <summary>Source-generated log messages of the remote guard; none takes user text.</summary>
internal static partial class RemoteLog
{
    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Guard server {Uri} answered HTTP {Status}.")]
    public static partial void ServerError(ILogger logger, Uri uri, int status);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "Guard server answered {Count} verdict(s) in {Milliseconds} ms.")]
    public static partial void Answered(ILogger logger, int count, double milliseconds);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Guard server {Uri} answered unreadably, so the call fails (the failure policy decides): {Reason}.")]
    public static partial void Unreadable(ILogger logger, Uri? uri, string reason);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Guard server {Uri} did not answer (headers and body) in time, so the call fails (the failure policy decides); {Milliseconds} ms elapsed.")]
    public static partial void TimedOut(ILogger logger, Uri uri, double milliseconds);
}
