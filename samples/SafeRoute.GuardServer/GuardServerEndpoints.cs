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
            var choices = new object[verdicts.Count];
            for (int i = 0; i < verdicts.Count; i++)
            {
                double p = verdicts[i].UnsafeProbability;
                double logUnsafe = Math.Max(-1000, Math.Log(p));
                double logSafe = Math.Max(-1000, Math.Log(1 - p));
                string token = verdicts[i].IsUnsafe ? "unsafe" : "safe";
                object? logprobs = topLogprobs > 0
                    ? new
                    {
                        tokens = new[] { token },
                        token_logprobs = new[] { token == "unsafe" ? logUnsafe : logSafe },
                        top_logprobs = new[] { new Dictionary<string, double> { ["safe"] = logSafe, ["unsafe"] = logUnsafe } },
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
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new { error = new { message, type = "invalid_request_error", code = status } }, statusCode: status);
}
