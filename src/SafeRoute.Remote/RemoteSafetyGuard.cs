using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SafeRoute.Onnx;

namespace SafeRoute.Remote;

/// <summary>
/// A guard that runs Llama Guard 3 on an inference server through the OpenAI-compatible <c>/v1/completions</c> API
/// (vLLM, TGI, llama.cpp server, or the SafeRoute.GuardServer sample): it sends the exact Llama Guard 3 prompt
/// (<see cref="LlamaGuard3Prompt"/>) with <c>max_tokens</c> 1 and top logprobs, and reads p(unsafe) as the softmax of the
/// <c>safe</c> and <c>unsafe</c> logprobs, falling back to the generated text when the server returns no logprobs.
/// </summary>
/// <remarks>
/// Use it as the routed guard's large tier (<c>AddSafeRouteWithRemoteLargeGuard</c>): the routed guard's
/// <see cref="LargeGuardFailurePolicy"/> decides what an unreachable or failing server means. Every failure here throws
/// (<see cref="HttpRequestException"/>, a timeout, an open circuit, or <see cref="SafeRouteException"/> for an answer
/// that cannot be read). Thread-safe. User text is never logged.
/// </remarks>
public sealed class RemoteSafetyGuard : ISafetyGuard
{
    private readonly Func<HttpClient> _client;
    private readonly RemoteSafetyGuardOptions _options;
    private readonly Uri _completionsUri;
    private readonly ILogger _logger;

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
        _completionsUri = new Uri(baseUri, options.CompletionsPath.TrimStart('/'));
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Gets the address requests are sent to.</summary>
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
    /// <exception cref="SafeRouteException">The answer could not be read.</exception>
    public ValueTask<SafetyVerdict> ProbeAsync(CancellationToken cancellationToken = default) =>
        EvaluateAsync(new SafetyRequest("Hello!"), cancellationToken);

    /// <summary>Reads p(unsafe) from one completion choice: softmax over the <c>safe</c>/<c>unsafe</c> top logprobs; when
    /// only one of them is listed, the other's logprob is bounded by the smallest listed one; with neither, the text.</summary>
    /// <param name="choice">The choice element.</param>
    /// <returns>p(unsafe), or <see langword="null"/> when neither logprobs nor text name a verdict.</returns>
    internal static float? ReadUnsafeProbability(JsonElement choice)
    {
        double? safe = null;
        double? @unsafe = null;
        double min = double.PositiveInfinity;

        void Consider(string? token, double logprob)
        {
            if (!double.IsFinite(logprob))
            {
                return;
            }

            min = Math.Min(min, logprob);
            string t = (token ?? "").Replace("Ġ", "", StringComparison.Ordinal).Trim();
            if (t == "safe")
            {
                safe = Math.Max(safe ?? double.NegativeInfinity, logprob);
            }
            else if (t == "unsafe")
            {
                @unsafe = Math.Max(@unsafe ?? double.NegativeInfinity, logprob);
            }
        }

        if (choice.TryGetProperty("logprobs", out JsonElement logprobs) && logprobs.ValueKind == JsonValueKind.Object)
        {
            if (logprobs.TryGetProperty("top_logprobs", out JsonElement top) && top.ValueKind == JsonValueKind.Array && top.GetArrayLength() > 0
                && top[0].ValueKind == JsonValueKind.Object)
            {
                // OpenAI legacy completions (vLLM, TGI): top_logprobs[0] is { token: logprob }.
                foreach (JsonProperty p in top[0].EnumerateObject())
                {
                    if (p.Value.ValueKind == JsonValueKind.Number)
                    {
                        Consider(p.Name, p.Value.GetDouble());
                    }
                }
            }
            else if (logprobs.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.Array && content.GetArrayLength() > 0
                && content[0].TryGetProperty("top_logprobs", out JsonElement chatTop) && chatTop.ValueKind == JsonValueKind.Array)
            {
                // Chat-style logprobs (llama.cpp server): content[0].top_logprobs is [{ token, logprob }].
                foreach (JsonElement e in chatTop.EnumerateArray())
                {
                    if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("logprob", out JsonElement lp) && lp.ValueKind == JsonValueKind.Number)
                    {
                        Consider(e.TryGetProperty("token", out JsonElement tok) ? tok.GetString() : null, lp.GetDouble());
                    }
                }
            }
        }

        if (safe is not null || @unsafe is not null)
        {
            double s = safe ?? min;
            double u = @unsafe ?? min;
            double m = Math.Max(s, u);
            double eu = Math.Exp(u - m);
            double es = Math.Exp(s - m);
            return (float)(eu / (eu + es));
        }

        if (choice.TryGetProperty("text", out JsonElement text) && text.ValueKind == JsonValueKind.String)
        {
            string t = text.GetString()!.Trim();
            if (t.StartsWith("unsafe", StringComparison.Ordinal))
            {
                return 1f;
            }

            if (t.StartsWith("safe", StringComparison.Ordinal))
            {
                return 0f;
            }
        }

        return null;
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
            w.WriteString("model", _options.Model);
            if (requests.Length == 1)
            {
                w.WriteString("prompt", LlamaGuard3Prompt.Render(requests[0], _options.Is8B, _options.IncludeBeginOfText));
            }
            else
            {
                w.WriteStartArray("prompt");
                foreach (SafetyRequest r in requests)
                {
                    w.WriteStringValue(LlamaGuard3Prompt.Render(r, _options.Is8B, _options.IncludeBeginOfText));
                }

                w.WriteEndArray();
            }

            w.WriteNumber("max_tokens", 1);
            w.WriteNumber("temperature", 0);
            w.WriteNumber("logprobs", _options.TopLogprobs);
            w.WriteBoolean("stream", false);
            w.WriteEndObject();
        }

        return stream.ToArray();
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
        using HttpResponseMessage response = await client.SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            RemoteLog.ServerError(_logger, _completionsUri, (int)response.StatusCode);
            throw new HttpRequestException($"The guard server at {_completionsUri} answered {(int)response.StatusCode} {response.ReasonPhrase}.", null, response.StatusCode);
        }

        byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        SafetyVerdict[] verdicts = Parse(body, requests.Length);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            double milliseconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            RemoteLog.Answered(_logger, requests.Length, milliseconds);
        }
        return verdicts;
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
            throw new SafeRouteException($"The guard server at {_completionsUri} did not answer with JSON: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("choices", out JsonElement choices) || choices.ValueKind != JsonValueKind.Array)
            {
                throw new SafeRouteException($"The guard server at {_completionsUri} answered without a 'choices' array.");
            }

            var verdicts = new SafetyVerdict?[count];
            int position = 0;
            foreach (JsonElement choice in choices.EnumerateArray())
            {
                int index = choice.TryGetProperty("index", out JsonElement ix) && ix.ValueKind == JsonValueKind.Number ? ix.GetInt32() : position;
                position++;
                if (index < 0 || index >= count)
                {
                    throw new SafeRouteException($"The guard server at {_completionsUri} answered choice index {index.ToString(CultureInfo.InvariantCulture)} for {count.ToString(CultureInfo.InvariantCulture)} prompt(s).");
                }

                float p = ReadUnsafeProbability(choice)
                    ?? throw new SafeRouteException($"The guard server at {_completionsUri} answered neither 'safe'/'unsafe' logprobs nor a 'safe'/'unsafe' text for prompt {index.ToString(CultureInfo.InvariantCulture)}.");
                verdicts[index] = new SafetyVerdict
                {
                    IsUnsafe = p > VerdictMath.DecisionThreshold,
                    UnsafeProbability = p,
                    DecidedBy = _options.Tier,
                    ModelName = _options.Model,
                };
            }

            var result = new SafetyVerdict[count];
            for (int i = 0; i < count; i++)
            {
                result[i] = verdicts[i] ?? throw new SafeRouteException($"The guard server at {_completionsUri} answered no choice for prompt {i.ToString(CultureInfo.InvariantCulture)} of {count.ToString(CultureInfo.InvariantCulture)}.");
            }

            return result;
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
}
