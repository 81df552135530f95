using System.Globalization;
using System.Text.Json;

namespace SafeRoute.Remote;

/// <summary>The remote guard's family readers: verdict tokens of any decoder family, and the classification endpoints.</summary>
public sealed partial class RemoteSafetyGuard
{
    /// <summary>Reads the top-logprob entries of a choice's first generated token: OpenAI legacy completions
    /// (<c>logprobs.top_logprobs[0]</c>, <c>{ token: logprob }</c>) or chat style (<c>logprobs.content[0].top_logprobs</c>,
    /// <c>[{ token, logprob }]</c>). An empty list means the choice has no logprobs.</summary>
    internal static bool TryReadTopEntries(JsonElement choice, List<(string Token, double Logprob)> entries, out string? reason)
    {
        reason = null;
        if (!choice.TryGetProperty("logprobs", out JsonElement logprobs) || logprobs.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (logprobs.ValueKind != JsonValueKind.Object)
        {
            reason = "'logprobs' is not an object";
            return false;
        }

        if (logprobs.TryGetProperty("top_logprobs", out JsonElement top) && top.ValueKind == JsonValueKind.Array && top.GetArrayLength() > 0)
        {
            if (top[0].ValueKind != JsonValueKind.Object)
            {
                reason = "'top_logprobs[0]' is not an object";
                return false;
            }

            foreach (JsonProperty p in top[0].EnumerateObject())
            {
                if (!TryFinite(p.Value, out double lp))
                {
                    reason = "a top logprob is not a finite number";
                    return false;
                }

                entries.Add((p.Name, lp));
            }
        }
        else if (logprobs.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.Array && content.GetArrayLength() > 0
            && content[0].ValueKind == JsonValueKind.Object
            && content[0].TryGetProperty("top_logprobs", out JsonElement chatTop) && chatTop.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement e in chatTop.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object
                    || !e.TryGetProperty("token", out JsonElement tok) || tok.ValueKind != JsonValueKind.String
                    || !e.TryGetProperty("logprob", out JsonElement lpElement) || !TryFinite(lpElement, out double lp))
                {
                    reason = "a top logprob entry has no string 'token' and finite 'logprob'";
                    return false;
                }

                entries.Add((tok.GetString()!, lp));
            }
        }

        return true;
    }

    private SafetyVerdict[] ParseClassify(byte[] body, int count)
    {
        using JsonDocument document = ParseJson(body);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out JsonElement data) || data.ValueKind != JsonValueKind.Array)
        {
            throw Unreadable("there is no 'data' array");
        }

        CheckModel(root);
        string n = count.ToString(CultureInfo.InvariantCulture);
        var verdicts = new SafetyVerdict?[count];
        int position = 0;
        IList<string> labels = _options.ClassifierLabels;
        foreach (JsonElement item in data.EnumerateArray())
        {
            int index = ReadIndex(item, position++, count, verdicts);
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("probs", out JsonElement probs) || probs.ValueKind != JsonValueKind.Array)
            {
                throw Unreadable($"a result has no 'probs' array (input {index.ToString(CultureInfo.InvariantCulture)} of {n})");
            }

            if (probs.GetArrayLength() != labels.Count
                || (item.TryGetProperty("num_classes", out JsonElement classes) && classes.ValueKind != JsonValueKind.Null
                    && (classes.ValueKind != JsonValueKind.Number || !classes.TryGetInt32(out int c) || c != labels.Count)))
            {
                throw Unreadable($"a result has {probs.GetArrayLength().ToString(CultureInfo.InvariantCulture)} probabilities, not one per configured label ({labels.Count.ToString(CultureInfo.InvariantCulture)}) (input {index.ToString(CultureInfo.InvariantCulture)} of {n})");
            }

            var scores = new List<(string Label, double Score)>(labels.Count);
            int i = 0;
            foreach (JsonElement prob in probs.EnumerateArray())
            {
                if (!TryFinite(prob, out double value))
                {
                    throw Unreadable($"a probability is not a finite number (input {index.ToString(CultureInfo.InvariantCulture)} of {n})");
                }

                scores.Add((labels[i++], value));
            }

            verdicts[index] = ClassifierVerdict(scores, index, count);
        }

        return Complete(verdicts, "no result answers input");
    }

    private SafetyVerdict[] ParsePredict(byte[] body, int count)
    {
        using JsonDocument document = ParseJson(body);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() != count)
        {
            throw Unreadable($"the answer is not an array of one prediction list per input ({count.ToString(CultureInfo.InvariantCulture)})");
        }

        var verdicts = new SafetyVerdict?[count];
        int index = 0;
        foreach (JsonElement list in root.EnumerateArray())
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                throw Unreadable($"prediction {index.ToString(CultureInfo.InvariantCulture)} is not an array of {{score, label}}");
            }

            var scores = new List<(string Label, double Score)>();
            foreach (JsonElement e in list.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object
                    || !e.TryGetProperty("label", out JsonElement label) || label.ValueKind != JsonValueKind.String
                    || !e.TryGetProperty("score", out JsonElement score) || !TryFinite(score, out double value))
                {
                    throw Unreadable($"a prediction has no string 'label' and finite 'score' (input {index.ToString(CultureInfo.InvariantCulture)} of {count.ToString(CultureInfo.InvariantCulture)})");
                }

                string name = label.GetString()!;
                if (scores.Exists(s => s.Label == name))
                {
                    throw Unreadable($"a prediction lists a label twice (input {index.ToString(CultureInfo.InvariantCulture)} of {count.ToString(CultureInfo.InvariantCulture)})");
                }

                scores.Add((name, value));
            }

            IEnumerable<string> required = _options.ClassifierLabels.Count > 0 ? _options.ClassifierLabels : _options.UnsafeLabels;
            if (required.Any(l => !scores.Exists(s => s.Label == l)))
            {
                throw Unreadable($"a prediction lacks a configured label (input {index.ToString(CultureInfo.InvariantCulture)} of {count.ToString(CultureInfo.InvariantCulture)})");
            }

            verdicts[index] = ClassifierVerdict(scores, index, count);
            index++;
        }

        return Complete(verdicts, "no prediction answers input");
    }

    private SafetyVerdict ClassifierVerdict(List<(string Label, double Score)> scores, int index, int count)
    {
        string where = $"input {index.ToString(CultureInfo.InvariantCulture)} of {count.ToString(CultureInfo.InvariantCulture)}";
        if (scores.Exists(s => s.Score is < 0 or > 1))
        {
            throw Unreadable($"a score is outside [0, 1], so it is not a probability (the server returns raw scores?) ({where})");
        }

        double p;
        if (_options.MultiLabel)
        {
            p = scores.Where(s => _options.UnsafeLabels.Contains(s.Label)).Max(s => s.Score);
        }
        else
        {
            double sum = scores.Sum(s => s.Score);
            if (Math.Abs(sum - 1) > 1e-3)
            {
                throw Unreadable($"the probabilities sum to {sum.ToString("0.####", CultureInfo.InvariantCulture)}, not 1, so they are not one softmax (set MultiLabel for sigmoid scores) ({where})");
            }

            p = scores.Where(s => _options.UnsafeLabels.Contains(s.Label)).Sum(s => s.Score);
        }

        float probability = (float)Math.Clamp(p, 0, 1);
        if (probability == SafetyVerdict.DecisionThreshold)
        {
            throw Unreadable($"p(unsafe) is exactly the decision threshold (a tie) ({where})");
        }

        return new SafetyVerdict
        {
            IsUnsafe = probability > SafetyVerdict.DecisionThreshold,
            UnsafeProbability = probability,
            DecidedBy = _options.Tier,
            ModelName = _options.Model,
            Categories = _options.MultiLabel
                ? [.. scores.Where(s => _options.UnsafeLabels.Contains(s.Label)).Select(s => new CategoryScore(s.Label, (float)s.Score, s.Score > SafetyVerdict.DecisionThreshold))]
                : null,
        };
    }

    private void WriteClassifyBody(Utf8JsonWriter w, SafetyRequest[] requests)
    {
        if (Array.Exists(requests, r => r.HasResponse))
        {
            throw new SafeRouteException($"The remote classifier '{_options.Model}' on vLLM's /classify scores one text per input, so it cannot check a response; serve it with Text Embeddings Inference (/predict takes prompt-response pairs) or check prompts only.");
        }

        // vLLM /classify: {"model", "input": [texts]} -> {"data": [{"index", "label", "probs", "num_classes"}]}.
        w.WriteString("model", _options.Model);
        w.WriteStartArray("input");
        foreach (SafetyRequest r in requests)
        {
            w.WriteStringValue(SafetyText.ReplaceLoneSurrogates(r.Prompt));
        }

        w.WriteEndArray();
    }

    private static void WritePredictBody(Utf8JsonWriter w, SafetyRequest[] requests)
    {
        // Text Embeddings Inference /predict: a batch is [[text], [text, pair], ...] (a flat [a, b] would be one pair);
        // raw_scores false asks for probabilities. The answer is one [{score, label}] list per input.
        w.WriteStartArray("inputs");
        foreach (SafetyRequest r in requests)
        {
            w.WriteStartArray();
            w.WriteStringValue(SafetyText.ReplaceLoneSurrogates(r.Prompt));
            if (r.HasResponse)
            {
                w.WriteStringValue(SafetyText.ReplaceLoneSurrogates(r.Response!));
            }

            w.WriteEndArray();
        }

        w.WriteEndArray();
        w.WriteBoolean("raw_scores", false);
    }

    private JsonDocument ParseJson(byte[] body)
    {
        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            throw Unreadable("the body is not JSON", ex);
        }
    }

    private void CheckModel(JsonElement root)
    {
        if (root.TryGetProperty("model", out JsonElement model) && model.ValueKind != JsonValueKind.Null
            && (model.ValueKind != JsonValueKind.String || !string.Equals(model.GetString(), _options.Model, StringComparison.Ordinal)))
        {
            throw Unreadable($"the answer names another model than '{_options.Model}' (the server runs a different model, or RemoteSafetyGuardOptions.Model is not the name it reports)");
        }
    }

    /// <summary>The input an answer item is for: its <c>index</c> when it has one, else its position; out of range or
    /// repeated is unreadable. <paramref name="item"/>/<paramref name="inputs"/> name them in messages ("choice"/"prompt(s)"
    /// for completions, "result"/"input(s)" for the classification APIs).</summary>
    private int ReadIndex(JsonElement element, int position, int count, SafetyVerdict?[] verdicts, string item = "result", string inputs = "input(s)")
    {
        string n = count.ToString(CultureInfo.InvariantCulture);
        int index = position;
        if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("index", out JsonElement ix) && ix.ValueKind != JsonValueKind.Null)
        {
            if (ix.ValueKind != JsonValueKind.Number || !ix.TryGetInt32(out index))
            {
                throw Unreadable($"a {item}'s 'index' is not an integer");
            }
        }

        if (index < 0 || index >= count)
        {
            throw Unreadable($"{item} index {index.ToString(CultureInfo.InvariantCulture)} is out of range for {n} {inputs}");
        }

        if (verdicts[index] is not null)
        {
            throw Unreadable($"{item} index {index.ToString(CultureInfo.InvariantCulture)} appears more than once for {n} {inputs}");
        }

        return index;
    }

    private SafetyVerdict[] Complete(SafetyVerdict?[] verdicts, string missing)
    {
        var result = new SafetyVerdict[verdicts.Length];
        for (int i = 0; i < verdicts.Length; i++)
        {
            result[i] = verdicts[i] ?? throw Unreadable($"{missing} {i.ToString(CultureInfo.InvariantCulture)} of {verdicts.Length.ToString(CultureInfo.InvariantCulture)}");
        }

        return result;
    }
}

/// <summary>
/// A decoder family's verdict tokens as the server names them, and how a choice's logprobs become p(unsafe): the
/// normalised softmax mass of the unsafe tokens (and of the controversial ones when strict) over the verdict tokens.
/// </summary>
internal sealed class VerdictTokens
{
    private const byte Safe = 0;
    private const byte Unsafe = 1;
    private const byte Controversial = 2;

    private readonly string[] _tokens;
    private readonly byte[] _labels;
    private readonly bool _controversialIsUnsafe;

    public VerdictTokens(GuardPromptFormat format, bool controversialIsUnsafe, int[] ids)
    {
        _tokens = [.. format.SafeTokens, .. format.UnsafeTokens, .. format.ControversialTokens];
        _labels = [.. format.SafeTokens.Select(_ => Safe), .. format.UnsafeTokens.Select(_ => Unsafe), .. format.ControversialTokens.Select(_ => Controversial)];
        _controversialIsUnsafe = controversialIsUnsafe;
        Ids = ids;
    }

    /// <summary>Gets the exact token ids (empty for top-k reading).</summary>
    public int[] Ids { get; }

    public bool Exact => Ids.Length > 0;

    /// <summary>
    /// Reads p(unsafe) from one choice. Exact ids: every id must be listed (as <c>token_id:&lt;id&gt;</c>); p is the exact
    /// softmax over them. Top k: tokens are matched to the verdict strings exactly after mapping the byte-level and
    /// SentencePiece space markers (<c>Ġ</c>, <c>▁</c>) to a space, so case and leading-space variants count only when the
    /// format lists them (as the local guard reads only the listed ids); the most likely listed token must be a verdict
    /// token; a side (safe or unsafe, controversial by strict/loose) missing from the list is bounded by the smallest
    /// listed logprob; p exactly at the decision threshold is a tie. Without logprobs the generated text decides when it
    /// is exactly a verdict token (optionally followed by white space). Anything else is unreadable.
    /// </summary>
    public bool TryRead(JsonElement choice, out float probability, out string? reason)
    {
        probability = float.NaN;
        if (choice.ValueKind != JsonValueKind.Object)
        {
            reason = "a choice is not a JSON object";
            return false;
        }

        var entries = new List<(string Token, double Logprob)>();
        if (!RemoteSafetyGuard.TryReadTopEntries(choice, entries, out reason))
        {
            return false;
        }

        var best = new double?[_tokens.Length];
        if (Exact)
        {
            foreach ((string token, double lp) in entries)
            {
                if (token.StartsWith("token_id:", StringComparison.Ordinal)
                    && int.TryParse(token.AsSpan("token_id:".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                {
                    int at = Array.IndexOf(Ids, id);
                    if (at >= 0)
                    {
                        best[at] = Math.Max(best[at] ?? double.NegativeInfinity, lp);
                    }
                }
            }

            if (Array.Exists(best, b => b is null))
            {
                reason = "the answer lacks the logprob of a verdict token id (the server does not honour logprob_token_ids)";
                return false;
            }

            return Finish(best, double.NegativeInfinity, out probability, out reason);
        }

        if (entries.Count > 0)
        {
            double other = double.NegativeInfinity;
            double min = double.PositiveInfinity;
            foreach ((string token, double lp) in entries)
            {
                min = Math.Min(min, lp);
                int at = Array.IndexOf(_tokens, Normalize(token));
                if (at >= 0)
                {
                    best[at] = Math.Max(best[at] ?? double.NegativeInfinity, lp);
                }
                else
                {
                    other = Math.Max(other, lp);
                }
            }

            if (Array.TrueForAll(best, b => b is null))
            {
                reason = "no verdict token is among the top logprobs";
                return false;
            }

            if (other >= best.Max(b => b ?? double.NegativeInfinity))
            {
                reason = "the most likely next token is not a verdict token";
                return false;
            }

            return Finish(best, min, out probability, out reason);
        }

        if (!choice.TryGetProperty("text", out JsonElement text) || text.ValueKind != JsonValueKind.String)
        {
            reason = "the choice has neither top logprobs nor a text";
            return false;
        }

        string generated = Normalize(text.GetString()!);
        for (int i = 0; i < _tokens.Length; i++)
        {
            string t = _tokens[i];
            if (generated.StartsWith(t, StringComparison.Ordinal) && (generated.Length == t.Length || char.IsWhiteSpace(generated[t.Length])))
            {
                probability = IsUnsafe(i) ? 1f : 0f;
                reason = null;
                return true;
            }
        }

        reason = "the choice has no top logprobs and its text is not a verdict token";
        return false;
    }

    private static string Normalize(string token) => token.Replace('Ġ', ' ').Replace('▁', ' ');

    private bool IsUnsafe(int i) => _labels[i] == Unsafe || (_labels[i] == Controversial && _controversialIsUnsafe);

    private bool Finish(double?[] best, double missingSide, out float probability, out string? reason)
    {
        double max = best.Max(b => b ?? double.NegativeInfinity);
        double safe = 0;
        double @unsafe = 0;
        bool anySafe = false;
        bool anyUnsafe = false;
        for (int i = 0; i < best.Length; i++)
        {
            if (best[i] is not double lp)
            {
                continue;
            }

            double e = Math.Exp(lp - max);
            if (IsUnsafe(i))
            {
                @unsafe += e;
                anyUnsafe = true;
            }
            else
            {
                safe += e;
                anySafe = true;
            }
        }

        // A side absent from the top k is bounded by the smallest listed logprob (one token's worth).
        if (!anySafe)
        {
            safe = Math.Exp(missingSide - max);
        }

        if (!anyUnsafe)
        {
            @unsafe = Math.Exp(missingSide - max);
        }

        float p = (float)(@unsafe / (@unsafe + safe));
        if (!float.IsFinite(p))
        {
            probability = float.NaN;
            reason = "p(unsafe) is not a finite number";
            return false;
        }

        if (p == SafetyVerdict.DecisionThreshold)
        {
            probability = float.NaN;
            reason = "the safe and unsafe sides tie (p(unsafe) is exactly the decision threshold)";
            return false;
        }

        probability = p;
        reason = null;
        return true;
    }
}
