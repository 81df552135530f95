using System.Numerics.Tensors;
using SafeRoute.Models;
using SafeRoute.Routing;

namespace SafeRoute.Onnx;

/// <summary>
/// Category scores of a decoder guard (Llama Guard 3): after an unsafe verdict the guard runs once more on its prompt
/// followed by the tokens it writes before the category number (<c>unsafe</c>, <c>\n</c>, <c>S</c>); the last hidden
/// state times the category rows gives one logit per category token, and q = their softmax is the distribution of the
/// first category given "unsafe". Only the first listed category is read (the model may list more, comma-separated).
/// </summary>
internal sealed class CategoryHead
{
    private readonly float[] _rows; // [categories, H]
    private readonly string[] _names;
    private readonly bool[] _ignored;
    private readonly float[] _thresholds;

    private CategoryHead(float[] rows, int hiddenSize, string[] names, int[] prefix, CategoryOptions options)
    {
        _rows = rows;
        HiddenSize = hiddenSize;
        _names = names;
        PrefixTokenIds = prefix;
        _ignored = [.. names.Select(options.Ignore.Contains)];
        _thresholds = [.. names.Select(options.ThresholdOf)];
    }

    public int HiddenSize { get; }

    /// <summary>The ids appended after the prompt before the category logits are read.</summary>
    public int[] PrefixTokenIds { get; }

    public static CategoryHead Load(GuardManifest manifest, CategoryOptions options, Text.PromptEncoder encoder)
    {
        CategoriesManifest categories = manifest.Categories!;
        long vocabularySize = encoder.VocabularySize;
        if (manifest.Verdict!.Source != VerdictSource.LmHeadRows)
        {
            throw new SafeRouteException($"The manifest '{manifest.FilePath}' is invalid: 'categories' needs verdict.source 'lmHeadRows' (the category pass reads the hidden state).");
        }

        int[] prefixIds = categories.Prefix is { } prefixText ? encoder.EncodeTrusted(prefixText) : categories.PrefixTokenIds!;
        foreach (string token in categories.Tokens ?? [])
        {
            if (encoder.EncodeTrusted(token) is not { Length: 1 })
            {
                throw new SafeRouteException($"The manifest '{manifest.FilePath}' is invalid: 'categories.tokens' has \"{VerdictLabelsManifest.Escape(token)}\", which is not exactly one token of the guard's tokenizer (list the category's first token).");
            }
        }

        foreach (int id in prefixIds.Concat(categories.TokenIds ?? []))
        {
            if (id >= vocabularySize)
            {
                throw new SafeRouteException($"The manifest '{manifest.FilePath}' is invalid: category token id {id} is outside the tokenizer's vocabulary of {vocabularySize} ids.");
            }
        }

        string path = manifest.Resolve(categories.Rows!);
        if (!File.Exists(path))
        {
            throw new SafeRouteException($"The category rows file '{path}' named by '{manifest.FilePath}' does not exist.");
        }

        var (tensors, _) = Safetensors.Read(path);
        if (!tensors.TryGetValue("category_rows", out SafetensorsTensor? tensor))
        {
            throw new SafeRouteException($"The category rows file '{path}' has no tensor 'category_rows' (found: {string.Join(", ", tensors.Keys)}).");
        }

        int n = categories.Names!.Length;
        if (tensor.Shape.Length != 2 || tensor.Shape[0] != n || tensor.Shape[1] < 1)
        {
            throw new SafeRouteException($"The tensor 'category_rows' in '{path}' has shape [{string.Join(", ", tensor.Shape)}]; expected [{n}, H] (one row per name in categories.names).");
        }

        if (Array.Exists(tensor.Data, v => !float.IsFinite(v)))
        {
            throw new SafeRouteException($"The tensor 'category_rows' in '{path}' contains non-finite values.");
        }

        return new CategoryHead(tensor.Data, tensor.Shape[1], categories.Names, prefixIds, options);
    }

    /// <summary>The prompt's ids followed by <see cref="PrefixTokenIds"/>.</summary>
    public int[] Extend(int[] ids) => [.. ids, .. PrefixTokenIds];

    /// <summary>Scores the categories from the hidden state after the prefix and applies the options: returns the
    /// categories and p(unsafe) with the ignored categories' share taken out.</summary>
    public (CategoryScore[] Categories, float UnsafeProbability) Score(ReadOnlySpan<float> hidden, float unsafeProbability)
    {
        int n = _names.Length;
        Span<float> logits = n <= 64 ? stackalloc float[n] : new float[n];
        for (int c = 0; c < n; c++)
        {
            logits[c] = TensorPrimitives.Dot(hidden, _rows.AsSpan(c * HiddenSize, HiddenSize));
        }

        TensorPrimitives.SoftMax(logits, logits);
        var scores = new CategoryScore[n];
        double ignoredMass = 0;
        for (int c = 0; c < n; c++)
        {
            scores[c] = new CategoryScore(_names[c], logits[c], !_ignored[c] && logits[c] >= _thresholds[c]);
            if (_ignored[c])
            {
                ignoredMass += logits[c];
            }
        }

        return (scores, (float)(unsafeProbability * Math.Clamp(1 - ignoredMass, 0, 1)));
    }
}
