using System.Globalization;
using System.Text.Json;
using SafeRoute.Remote;

namespace SafeRoute.GuardServer;

/// <summary>
/// Serves any <see cref="ISafetyGuard"/> over the OpenAI-compatible completions contract that
/// <see cref="RemoteSafetyGuard"/> speaks (and that vLLM, TGI and llama.cpp serve for a real Llama Guard 3):
/// <c>POST /v1/completions</c> takes a Llama Guard 3 prompt (or an array of them), reads the conversation back out of it,
/// runs the guard and answers one token, <c>safe</c> or <c>unsafe</c>, with the two tokens' logprobs as
/// <c>top_logprobs</c> when <c>logprobs</c> is asked for. <c>GET /v1/models</c> lists the model; <c>GET /health</c> answers 200.
/// Other families: <see cref="MapDecoder"/> serves any decoder family's prompt (<see cref="GuardPromptFormat"/>) the same
/// way, and <see cref="MapClassifier"/> serves a classifier on vLLM's <c>/classify</c> and Text Embeddings Inference's
/// <c>/predict</c>.
/// </summary>
public static class GuardServerEndpoints
{
    /// <summary>Maps the endpoints.</summary>
    /// <param name="endpoints">The app.</param>
    /// <param name="guard">The guard to serve (for example an <see cref="OnnxSafetyGuard"/> over a model folder).</param>
    /// <param name="modelName">The model name the server answers to.</param>
    /// <returns>The app.</returns>
    public static IEndpointRouteBuilder Map(IEndpointRouteBuilder endpoints, ISafetyGuard guard, string modelName)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(guard);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);
        endpoints.MapGet("/health", () => Results.Ok(new { status = "ok", model = modelName }));
        endpoints.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = new[] { new { id = modelName, @object = "model", owned_by = "saferoute" } } }));
        endpoints.MapPost("/v1/completions", (HttpContext context, CancellationToken cancellationToken) => CompleteAsync(context, guard, modelName, cancellationToken));
        return endpoints;
    }

    private static async Task<IResult> CompleteAsync(HttpContext context, ISafetyGuard guard, string modelName, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return Error(400, "The body is not JSON.");
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("prompt", out JsonElement promptElement))
            {
                return Error(400, "'prompt' is required.");
            }

            if (root.TryGetProperty("model", out JsonElement model) && model.ValueKind == JsonValueKind.String && model.GetString() != modelName)
            {
                return Error(404, $"The model '{model.GetString()}' does not exist; this server serves '{modelName}'.");
            }

            var prompts = new List<string>();
            if (promptElement.ValueKind == JsonValueKind.String)
            {
                prompts.Add(promptElement.GetString()!);
            }
            else if (promptElement.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement p in promptElement.EnumerateArray())
                {
                    if (p.ValueKind != JsonValueKind.String)
                    {
                        return Error(400, "'prompt' must be a string or an array of strings.");
                    }

                    prompts.Add(p.GetString()!);
                }
            }
            else
            {
                return Error(400, "'prompt' must be a string or an array of strings.");
            }

            int topLogprobs = root.TryGetProperty("logprobs", out JsonElement lp) && lp.ValueKind == JsonValueKind.Number ? lp.GetInt32() : 0;
            var requests = new SafetyRequest[prompts.Count];
            for (int i = 0; i < prompts.Count; i++)
            {
                if (!LlamaGuard3Prompt.TryParse(prompts[i], out SafetyRequest? request))
                {
                    return Error(400, $"Prompt {i.ToString(CultureInfo.InvariantCulture)} is not a Llama Guard 3 prompt.");
                }

                requests[i] = request;
            }

            IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync(requests, cancellationToken).ConfigureAwait(false);
            return CompletionsAnswer(verdicts, modelName, topLogprobs, "safe", "unsafe");
        }
    }

    /// <summary>Maps the endpoints for a decoder guard of any family: <c>POST /v1/completions</c> takes prompts rendered in
    /// <paramref name="format"/> (as <see cref="RemoteSafetyGuard"/> with <see cref="RemoteSafetyGuardOptions.PromptFormat"/>
    /// sends them), reads each conversation back, runs the guard and answers one token, the format's first safe or unsafe
    /// token string, with both tokens' logprobs (log p(unsafe) and log(1 − p(unsafe))) as <c>top_logprobs</c>.</summary>
    /// <remarks>The guard reports p(unsafe) only, so a three-way family's controversial mass is already on the side its
    /// local strict/loose setting puts it; the answer lists no controversial token.</remarks>
    /// <param name="endpoints">The app.</param>
    /// <param name="guard">The guard to serve.</param>
    /// <param name="modelName">The model name the server answers to.</param>
    /// <param name="format">The family's prompt format (<see cref="GuardPromptFormat.FromModelFolder"/> of the served folder).</param>
    /// <returns>The app.</returns>
    public static IEndpointRouteBuilder MapDecoder(IEndpointRouteBuilder endpoints, ISafetyGuard guard, string modelName, GuardPromptFormat format)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(guard);
        ArgumentNullException.ThrowIfNull(format);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);
        MapCommon(endpoints, modelName);
        endpoints.MapPost("/v1/completions", (HttpContext context, CancellationToken cancellationToken) => CompleteAsync(context, guard, modelName, format, cancellationToken));
        return endpoints;
    }

    /// <summary>Maps the endpoints for a classifier guard: <c>POST /classify</c> (vLLM: <c>{"model", "input"}</c> →
    /// <c>data[i].probs</c>) and <c>POST /predict</c> (Text Embeddings Inference: <c>{"inputs": [[text], [text, pair]]}</c> →
    /// one <c>[{score, label}]</c> list per input). The guard reports p(unsafe) only, so the served head has two labels,
    /// <c>safe</c> and <c>unsafe</c> (probabilities 1 − p and p): configure the remote guard with
    /// <see cref="ClassifierLabels"/> and <c>UnsafeLabels = ["unsafe"]</c>.</summary>
    /// <param name="endpoints">The app.</param>
    /// <param name="guard">The guard to serve (for example an <see cref="OnnxSafetyGuard"/> over a classifier folder).</param>
    /// <param name="modelName">The model name the server answers to.</param>
    /// <returns>The app.</returns>
    public static IEndpointRouteBuilder MapClassifier(IEndpointRouteBuilder endpoints, ISafetyGuard guard, string modelName)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(guard);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);
        MapCommon(endpoints, modelName);
        endpoints.MapPost("/classify", (HttpContext context, CancellationToken cancellationToken) => ClassifyAsync(context, guard, modelName, cancellationToken));
        endpoints.MapPost("/predict", (HttpContext context, CancellationToken cancellationToken) => PredictAsync(context, guard, cancellationToken));
        return endpoints;
    }

    /// <summary>The labels <see cref="MapClassifier"/> serves, in order.</summary>
    public static IReadOnlyList<string> ClassifierLabels { get; } = ["safe", "unsafe"];

    private static void MapCommon(IEndpointRouteBuilder endpoints, string modelName)
    {
        endpoints.MapGet("/health", () => Results.Ok(new { status = "ok", model = modelName }));
        endpoints.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = new[] { new { id = modelName, @object = "model", owned_by = "saferoute" } } }));
    }

    private static async Task<IResult> CompleteAsync(HttpContext context, ISafetyGuard guard, string modelName, GuardPromptFormat format, CancellationToken cancellationToken)
    {
        using JsonDocument? document = await ReadJsonAsync(context, cancellationToken).ConfigureAwait(false);
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("prompt", out JsonElement promptElement))
        {
            return Error(400, "The body must be a JSON object with 'prompt'.");
        }

        JsonElement root = document.RootElement;
        if (root.TryGetProperty("model", out JsonElement model) && model.ValueKind == JsonValueKind.String && model.GetString() != modelName)
        {
            return Error(404, $"The model '{model.GetString()}' does not exist; this server serves '{modelName}'.");
        }

        if (!TryStrings(promptElement, out List<string>? prompts))
        {
            return Error(400, "'prompt' must be a string or an array of strings.");
        }

        var requests = new SafetyRequest[prompts.Count];
        for (int i = 0; i < prompts.Count; i++)
        {
            if (!format.TryParse(prompts[i], out SafetyRequest? request))
            {
                return Error(400, $"Prompt {i.ToString(CultureInfo.InvariantCulture)} is not a '{format.Kind}' prompt.");
            }

            requests[i] = request;
        }

        int topLogprobs = root.TryGetProperty("logprobs", out JsonElement lp) && lp.ValueKind == JsonValueKind.Number ? lp.GetInt32() : 0;
        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync(requests, cancellationToken).ConfigureAwait(false);
        return CompletionsAnswer(verdicts, modelName, topLogprobs, format.SafeTokens[0], format.UnsafeTokens[0]);
    }

    /// <summary>A <c>/v1/completions</c> answer: one choice per verdict whose one generated token is the verdict token, with
    /// the two verdict tokens' logprobs as <c>top_logprobs</c> when <paramref name="topLogprobs"/> asks for them.</summary>
    private static IResult CompletionsAnswer(IReadOnlyList<SafetyVerdict> verdicts, string modelName, int topLogprobs, string safeToken, string unsafeToken)
    {
        var choices = new object[verdicts.Count];
        for (int i = 0; i < verdicts.Count; i++)
        {
            double p = verdicts[i].UnsafeProbability;
            double logUnsafe = Math.Max(-1000, Math.Log(p));
            double logSafe = Math.Max(-1000, Math.Log(1 - p));
            string token = verdicts[i].IsUnsafe ? unsafeToken : safeToken;
            object? logprobs = topLogprobs > 0
                ? new
                {
                    tokens = new[] { token },
                    token_logprobs = new[] { token == unsafeToken ? logUnsafe : logSafe },
                    top_logprobs = new[] { new Dictionary<string, double> { [safeToken] = logSafe, [unsafeToken] = logUnsafe } },
                    text_offset = new[] { 0 },
                }
                : null;
            choices[i] = new { index = i, text = token, logprobs, finish_reason = "length" };
        }

        return Results.Json(new
        {
            id = "cmpl-" + Guid.NewGuid().ToString("N"),
            @object = "text_completion",
            created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            model = modelName,
            choices,
            usage = new { prompt_tokens = 0, completion_tokens = verdicts.Count, total_tokens = verdicts.Count },
        });
    }

    private static async Task<IResult> ClassifyAsync(HttpContext context, ISafetyGuard guard, string modelName, CancellationToken cancellationToken)
    {
        using JsonDocument? document = await ReadJsonAsync(context, cancellationToken).ConfigureAwait(false);
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("input", out JsonElement input)
            || !TryStrings(input, out List<string>? texts))
        {
            return Error(400, "The body must be a JSON object with 'input', a string or an array of strings.");
        }

        if (document.RootElement.TryGetProperty("model", out JsonElement model) && model.ValueKind == JsonValueKind.String && model.GetString() != modelName)
        {
            return Error(404, $"The model '{model.GetString()}' does not exist; this server serves '{modelName}'.");
        }

        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync([.. texts.Select(t => new SafetyRequest(t))], cancellationToken).ConfigureAwait(false);
        var data = verdicts.Select((v, i) => new
        {
            index = i,
            label = v.IsUnsafe ? "unsafe" : "safe",
            probs = new[] { 1.0 - v.UnsafeProbability, v.UnsafeProbability },
            num_classes = 2,
        }).ToArray();
        return Results.Json(new { id = "classify-" + Guid.NewGuid().ToString("N"), @object = "list", created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), model = modelName, data });
    }

    private static async Task<IResult> PredictAsync(HttpContext context, ISafetyGuard guard, CancellationToken cancellationToken)
    {
        using JsonDocument? document = await ReadJsonAsync(context, cancellationToken).ConfigureAwait(false);
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("inputs", out JsonElement inputs))
        {
            return Error(400, "The body must be a JSON object with 'inputs'.");
        }

        // TEI: a string, a pair [a, b], or a batch [[a], [a, b], ...]; a single input answers one flat list.
        var requests = new List<SafetyRequest>();
        bool batch = inputs.ValueKind == JsonValueKind.Array && inputs.GetArrayLength() > 0 && inputs[0].ValueKind == JsonValueKind.Array;
        foreach (JsonElement item in batch ? inputs.EnumerateArray() : new[] { inputs }.AsEnumerable())
        {
            if (item.ValueKind == JsonValueKind.String)
            {
                requests.Add(new SafetyRequest(item.GetString()!));
            }
            else if (TryStrings(item, out List<string>? pair) && pair.Count is 1 or 2)
            {
                requests.Add(new SafetyRequest(pair[0], pair.Count == 2 ? pair[1] : null));
            }
            else
            {
                return Error(422, "'inputs' must be a string, a pair of strings or a batch of single strings and pairs.");
            }
        }

        IReadOnlyList<SafetyVerdict> verdicts = await guard.EvaluateBatchAsync(requests, cancellationToken).ConfigureAwait(false);
        object[] lists = [.. verdicts.Select(v => new[]
        {
            new { score = (double)v.UnsafeProbability, label = "unsafe" },
            new { score = 1.0 - v.UnsafeProbability, label = "safe" },
        }.OrderByDescending(s => s.score).ToArray())];
        return Results.Json(batch ? lists : lists[0]);
    }

    private static async Task<JsonDocument?> ReadJsonAsync(HttpContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool TryStrings(JsonElement element, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out List<string>? strings)
    {
        strings = [];
        if (element.ValueKind == JsonValueKind.String)
        {
            strings.Add(element.GetString()!);
            return true;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        foreach (JsonElement e in element.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String)
            {
                return false;
            }

            strings.Add(e.GetString()!);
        }

        return true;
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new { error = new { message, type = "invalid_request_error", code = status } }, statusCode: status);
}
