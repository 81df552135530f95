using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace SafeRoute.Cli;

/// <summary>
/// A small Microsoft.Extensions.AI <see cref="IChatClient"/> for the OpenAI-compatible chat-completions API
/// (<c>POST {endpoint}/chat/completions</c>: vLLM, llama.cpp server, Ollama, OpenAI, …), enough for
/// <c>train-router --paraphrases</c>: text messages in, one text answer out. It replaces the OpenAI SDK in the tool
/// (about 6 MB of assemblies).
/// </summary>
/// <remarks>
/// <para>Sent from <see cref="ChatOptions"/> when set: <see cref="ChatOptions.ModelId"/> (instead of the model given here),
/// <c>temperature</c>, <c>top_p</c>, <c>max_tokens</c> (<see cref="ChatOptions.MaxOutputTokens"/>), <c>stop</c> and
/// <c>seed</c>. Other options are not sent; tools and non-text message content are not supported
/// (<see cref="NotSupportedException"/>).</para>
/// <para>Each attempt has a time limit (<see cref="Timeout"/>, headers and body) and the answer a size limit
/// (<see cref="MaxResponseBytes"/>). 408, 429 and 5xx answers other than 501 and connection failures are retried up to
/// <see cref="MaxRetries"/> times, after the server's <c>Retry-After</c> (at most a minute) or an exponential back-off.
/// Other failures throw: an <see cref="HttpRequestException"/> with the status code and a bounded excerpt of the server's
/// answer (request message text found in it is redacted), an <see cref="InvalidDataException"/> for an answer that is not
/// a chat completion or is too large, a <see cref="TimeoutException"/> when an attempt runs out of time.</para>
/// <para><see cref="GetStreamingResponseAsync"/> does not stream: it makes the same non-streaming request and yields the
/// whole answer as updates.</para>
/// </remarks>
internal sealed class OpenAICompatibleChatClient : IChatClient
{
    /// <summary>The provider name in <see cref="ChatClientMetadata"/>.</summary>
    public const string ProviderName = "openai-compatible";

    /// <summary>The default <see cref="MaxResponseBytes"/>: 4 MiB.</summary>
    public const int DefaultMaxResponseBytes = 4 * 1024 * 1024;

    /// <summary>The most characters of a failed answer's body quoted in the exception message.</summary>
    internal const int ErrorExcerptChars = 500;

    private const int ErrorBodyBytes = 64 * 1024;
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(1);

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly string _model;
    private readonly string? _apiKey;
    private readonly ChatClientMetadata _metadata;
    private bool _disposed;

    /// <summary>Creates a client with its own <see cref="HttpClient"/> (disposed with this client).</summary>
    /// <param name="endpoint">The API's base URL, for example <c>http://localhost:8000/v1</c> (a trailing slash is fine).</param>
    /// <param name="model">The model to ask.</param>
    /// <param name="apiKey">Sent as <c>Authorization: Bearer …</c>; null or empty sends no <c>Authorization</c> header.</param>
    public OpenAICompatibleChatClient(Uri endpoint, string model, string? apiKey = null)
        : this(endpoint, model, apiKey, new HttpClient { Timeout = System.Threading.Timeout.InfiniteTimeSpan }, ownsHttpClient: true)
    {
    }

    /// <summary>Creates a client over an <see cref="HttpClient"/> the caller owns (not disposed with this client).</summary>
    public OpenAICompatibleChatClient(Uri endpoint, string model, string? apiKey, HttpClient httpClient)
        : this(endpoint, model, apiKey, httpClient, ownsHttpClient: false)
    {
    }

    private OpenAICompatibleChatClient(Uri endpoint, string model, string? apiKey, HttpClient httpClient, bool ownsHttpClient)
    {
        try
        {
            ArgumentNullException.ThrowIfNull(endpoint);
            ArgumentException.ThrowIfNullOrWhiteSpace(model);
            ArgumentNullException.ThrowIfNull(httpClient);
            if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            {
                throw new ArgumentException("The chat endpoint must be an absolute http or https URL.", nameof(endpoint));
            }
        }
        catch when (ownsHttpClient)
        {
            httpClient?.Dispose();
            throw;
        }

        var completions = new UriBuilder(endpoint);
        completions.Path = completions.Path.TrimEnd('/') + "/chat/completions";
        CompletionsUri = completions.Uri;
        _model = model;
        _apiKey = string.IsNullOrEmpty(apiKey) ? null : apiKey;
        _http = httpClient;
        _ownsHttp = ownsHttpClient;
        _metadata = new ChatClientMetadata(ProviderName, endpoint, model);
    }

    /// <summary>The URL requests go to: the endpoint + <c>/chat/completions</c>.</summary>
    public Uri CompletionsUri { get; }

    /// <summary>The time limit of one attempt, from sending the request to the end of the answer (default 100 s).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>The largest answer body read (default <see cref="DefaultMaxResponseBytes"/>); a larger one is an error.</summary>
    public int MaxResponseBytes { get; init; } = DefaultMaxResponseBytes;

    /// <summary>Retries after a 408, 429 or 5xx answer (except 501) or a connection failure (default 2).</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>The first back-off when the server sends no <c>Retry-After</c>; doubled on each retry (default 1 s).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        List<ChatMessage> list = [.. messages];
        byte[] body = WriteRequest(list, options, _model);
        for (int attempt = 0; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            TimeSpan? retryAfter;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, CompletionsUri);
                request.Content = new ByteArrayContent(body);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
                if (_apiKey is not null)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
                }

                HttpResponseMessage response;
                try
                {
                    response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                }
                catch (HttpRequestException) when (attempt < MaxRetries)
                {
                    // Connection refused or reset: retried like a 503 (the OpenAI SDK does the same).
                    await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
                    continue;
                }

                using (response)
                {
                    if (response.IsSuccessStatusCode)
                    {
                        (byte[] bytes, bool complete) = response.Content.Headers.ContentLength > MaxResponseBytes
                            ? ([], false)
                            : await ReadBoundedAsync(response.Content, MaxResponseBytes, timeout.Token).ConfigureAwait(false);
                        if (!complete)
                        {
                            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                                $"The chat endpoint's answer is larger than the limit of {MaxResponseBytes} bytes."));
                        }

                        return ParseResponse(bytes);
                    }

                    if (attempt >= MaxRetries || !IsRetryable(response.StatusCode))
                    {
                        (byte[] bytes, _) = await ReadBoundedAsync(response.Content, ErrorBodyBytes, timeout.Token).ConfigureAwait(false);
                        throw new HttpRequestException(ErrorMessage(response, bytes, list), null, response.StatusCode);
                    }

                    retryAfter = RetryAfter(response.Headers.RetryAfter);
                }
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Our time limit (or the caller's HttpClient.Timeout), not the caller's cancellation.
                throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                    $"The chat endpoint did not answer within {Timeout.TotalSeconds:0.###} s."), ex);
            }

            await Task.Delay(retryAfter ?? Backoff(attempt), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Not streaming: makes the same request as <see cref="GetResponseAsync"/> and yields its answer as updates.</summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ChatResponse response = await GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        foreach (ChatResponseUpdate update in response.ToChatResponseUpdates())
        {
            yield return update;
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>Disposes the <see cref="HttpClient"/> when this client created it.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            if (_ownsHttp)
            {
                _http.Dispose();
            }
        }
    }

    /// <summary>The request body: model, messages and the options that are set.</summary>
    internal static byte[] WriteRequest(IReadOnlyList<ChatMessage> messages, ChatOptions? options, string model)
    {
        if (options?.Tools is { Count: > 0 })
        {
            throw new NotSupportedException("This chat client does not support tools.");
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", string.IsNullOrEmpty(options?.ModelId) ? model : options.ModelId);
            json.WriteStartArray("messages");
            foreach (ChatMessage message in messages)
            {
                ArgumentNullException.ThrowIfNull(message, nameof(messages));
                if (message.Contents.Any(c => c is not TextContent))
                {
                    throw new NotSupportedException("This chat client sends text messages only.");
                }

                json.WriteStartObject();
                json.WriteString("role", message.Role.Value);
                json.WriteString("content", message.Text);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            if (options?.Temperature is float temperature)
            {
                json.WriteNumber("temperature", temperature);
            }

            if (options?.TopP is float topP)
            {
                json.WriteNumber("top_p", topP);
            }

            if (options?.MaxOutputTokens is int maxTokens)
            {
                json.WriteNumber("max_tokens", maxTokens);
            }

            if (options?.StopSequences is { Count: > 0 } stop)
            {
                json.WriteStartArray("stop");
                foreach (string s in stop)
                {
                    json.WriteStringValue(s);
                }

                json.WriteEndArray();
            }

            if (options?.Seed is long seed)
            {
                json.WriteNumber("seed", seed);
            }

            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A chat-completions answer as a <see cref="ChatResponse"/> (first choice only).</summary>
    internal static ChatResponse ParseResponse(byte[] body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"The chat endpoint's answer is not valid JSON ({body.Length} bytes): {ex.Message}"), ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("choices", out JsonElement choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0
                || choices[0].ValueKind != JsonValueKind.Object
                || !choices[0].TryGetProperty("message", out JsonElement message) || message.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("The chat endpoint's answer is not a chat completion: it has no choices[0].message.");
            }

            string text = ReadContent(message);
            ChatRole role = message.TryGetProperty("role", out JsonElement r) && r.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(r.GetString())
                ? new ChatRole(r.GetString()!)
                : ChatRole.Assistant;
            string? id = OptionalString(root, "id");
            var response = new ChatResponse(new ChatMessage(role, text) { MessageId = id })
            {
                ResponseId = id,
                ModelId = OptionalString(root, "model"),
                FinishReason = OptionalString(choices[0], "finish_reason") switch
                {
                    null => null,
                    "stop" => ChatFinishReason.Stop,
                    "length" => ChatFinishReason.Length,
                    "content_filter" => ChatFinishReason.ContentFilter,
                    "tool_calls" or "function_call" => ChatFinishReason.ToolCalls,
                    string other => new ChatFinishReason(other),
                },
            };
            if (root.TryGetProperty("created", out JsonElement created) && created.ValueKind == JsonValueKind.Number && created.TryGetInt64(out long seconds)
                && seconds > 0 && seconds < 253_402_300_800)
            {
                response.CreatedAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
            }

            if (root.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind == JsonValueKind.Object)
            {
                long? input = OptionalInt64(usage, "prompt_tokens");
                long? output = OptionalInt64(usage, "completion_tokens");
                response.Usage = new UsageDetails
                {
                    InputTokenCount = input,
                    OutputTokenCount = output,
                    TotalTokenCount = OptionalInt64(usage, "total_tokens") ?? (input + output),
                };
            }

            return response;
        }
    }

    /// <summary>The message text: a string, or an array of parts whose <c>text</c> parts are joined; null is empty.</summary>
    private static string ReadContent(JsonElement message)
    {
        if (!message.TryGetProperty("content", out JsonElement content) || content.ValueKind == JsonValueKind.Null)
        {
            return "";
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        if (content.ValueKind == JsonValueKind.Array)
        {
            var text = new StringBuilder();
            foreach (JsonElement part in content.EnumerateArray())
            {
                if (part.ValueKind == JsonValueKind.Object && OptionalString(part, "type") is "text" or null
                    && part.TryGetProperty("text", out JsonElement t) && t.ValueKind == JsonValueKind.String)
                {
                    text.Append(t.GetString());
                }
            }

            return text.ToString();
        }

        throw new InvalidDataException("The chat endpoint's answer has a choices[0].message.content that is neither text nor an array of parts.");
    }

    private static string? OptionalString(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long? OptionalInt64(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n : null;

    /// <summary>Reads at most <paramref name="limit"/> bytes; <c>Complete</c> is false when the body is longer.</summary>
    private static async Task<(byte[] Bytes, bool Complete)> ReadBoundedAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        Stream stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            byte[] chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                int keep = (int)Math.Min(read, limit - buffer.Length);
                buffer.Write(chunk, 0, keep);
                if (keep < read)
                {
                    return (buffer.ToArray(), false);
                }
            }

            return (buffer.ToArray(), true);
        }
    }

    /// <summary>"The chat endpoint answered 500 (Internal Server Error): …" with at most <see cref="ErrorExcerptChars"/> characters of the body.</summary>
    private static string ErrorMessage(HttpResponseMessage response, byte[] body, IReadOnlyList<ChatMessage> messages)
    {
        string text = Encoding.UTF8.GetString(body);

        // Prefer the OpenAI error shape's message: {"error": {"message": "…"}} (or "error": "…").
        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out JsonElement error))
            {
                text = error.ValueKind == JsonValueKind.String ? error.GetString()!
                    : error.ValueKind == JsonValueKind.Object && OptionalString(error, "message") is string m ? m
                    : text;
            }
        }
        catch (JsonException)
        {
            // Not JSON: quote the body as text.
        }

        // A server may echo the request: never put the prompt into an error message (and from there into logs).
        foreach (ChatMessage message in messages)
        {
            string sent = message.Text;
            if (sent.Length > 0)
            {
                text = text.Replace(sent, "[request text]", StringComparison.Ordinal);
            }
        }

        var excerpt = new StringBuilder(Math.Min(text.Length, ErrorExcerptChars) + 1);
        foreach (char c in text)
        {
            if (excerpt.Length == ErrorExcerptChars)
            {
                excerpt.Append('…');
                break;
            }

            excerpt.Append(char.IsControl(c) ? ' ' : c);
        }

        string detail = excerpt.ToString().Trim();
        return string.Create(CultureInfo.InvariantCulture,
            $"The chat endpoint answered {(int)response.StatusCode} ({response.ReasonPhrase ?? response.StatusCode.ToString()}){(detail.Length > 0 ? ": " + detail : ".")}");
    }

    private static bool IsRetryable(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
        || ((int)status >= 500 && status != HttpStatusCode.NotImplemented && status != HttpStatusCode.HttpVersionNotSupported);

    private static TimeSpan? RetryAfter(RetryConditionHeaderValue? header)
    {
        TimeSpan? delay = header?.Delta ?? (header?.Date is DateTimeOffset date ? date - DateTimeOffset.UtcNow : null);
        return delay is null ? null
            : delay < TimeSpan.Zero ? TimeSpan.Zero
            : delay > MaxRetryAfter ? MaxRetryAfter
            : delay;
    }

    private TimeSpan Backoff(int attempt) => RetryDelay * Math.Pow(2, Math.Min(attempt, 10));
}
