using System.Text.Json;

namespace SafeRoute.Tests.Integrations;

/// <summary>
/// Answers a <see cref="RawHttpServer"/> request the way vLLM (and Text Embeddings Inference) do, from a test-supplied
/// model: <c>/v1/completions</c> with one generated token and its top logprobs (<c>top_logprobs[0]</c> as
/// <c>{token: logprob}</c>, the legacy OpenAI shape vLLM returns), <c>/classify</c> with <c>data[i].probs</c>, and TEI
/// <c>/predict</c> with one <c>[{score, label}]</c> list per input.
/// </summary>
internal static class FakeVllm
{
    /// <summary>Answers a completions request; <paramref name="model"/> maps each prompt to its first-token top logprobs.</summary>
    public static RawReply Completions(RawRequest request, string modelName, Func<string, IReadOnlyDictionary<string, double>> model)
    {
        using JsonDocument doc = JsonDocument.Parse(request.Body);
        JsonElement prompt = doc.RootElement.GetProperty("prompt");
        string[] prompts = prompt.ValueKind == JsonValueKind.String ? [prompt.GetString()!] : [.. prompt.EnumerateArray().Select(p => p.GetString()!)];
        var choices = prompts.Select((p, i) =>
        {
            IReadOnlyDictionary<string, double> top = model(p);
            string best = top.MaxBy(kv => kv.Value).Key;
            return new
            {
                index = i,
                text = best,
                logprobs = new { tokens = new[] { best }, token_logprobs = new[] { top[best] }, top_logprobs = new[] { top }, text_offset = new[] { 0 } },
                finish_reason = "length",
            };
        }).ToArray();
        return RawReply.Json(JsonSerializer.Serialize(new { id = "cmpl-1", @object = "text_completion", created = 0, model = modelName, choices }));
    }

    /// <summary>Answers a vLLM <c>/classify</c> request; <paramref name="model"/> maps each input to its probabilities.</summary>
    public static RawReply Classify(RawRequest request, string modelName, Func<string, double[]> model)
    {
        using JsonDocument doc = JsonDocument.Parse(request.Body);
        string[] inputs = [.. doc.RootElement.GetProperty("input").EnumerateArray().Select(p => p.GetString()!)];
        var data = inputs.Select((text, i) =>
        {
            double[] probs = model(text);
            return new { index = i, label = "LABEL_" + Array.IndexOf(probs, probs.Max()), probs, num_classes = probs.Length };
        }).ToArray();
        return RawReply.Json(JsonSerializer.Serialize(new { id = "classify-1", @object = "list", created = 0, model = modelName, data, usage = new { prompt_tokens = 1, total_tokens = 1 } }));
    }

    /// <summary>Answers a TEI <c>/predict</c> batch (<c>[[text], [text, pair]]</c>); <paramref name="model"/> maps each
    /// input (prompt, optional response) to its labelled scores.</summary>
    public static RawReply Predict(RawRequest request, Func<string, string?, (string Label, double Score)[]> model)
    {
        using JsonDocument doc = JsonDocument.Parse(request.Body);
        var lists = doc.RootElement.GetProperty("inputs").EnumerateArray().Select(item =>
        {
            string[] texts = [.. item.EnumerateArray().Select(t => t.GetString()!)];
            return model(texts[0], texts.Length > 1 ? texts[1] : null).OrderByDescending(s => s.Score).Select(s => new { score = s.Score, label = s.Label }).ToArray();
        }).ToArray();
        return RawReply.Json(JsonSerializer.Serialize(lists));
    }

    /// <summary>The softmax of <paramref name="logit"/> among <paramref name="logits"/>.</summary>
    public static double Share(double logit, params double[] logits) => Math.Exp(logit) / logits.Sum(Math.Exp);
}
