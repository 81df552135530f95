using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SafeRoute.Models;

namespace SafeRoute.Onnx;

/// <summary>
/// Reads a sequence classifier's logits [batch, labels]: p(unsafe) = the softmax mass of the unsafe labels (as the two
/// log-sum-exp logits of the safe and unsafe label sets, which give exactly that p), or, for a multi-label (sigmoid)
/// head, the largest sigmoid among the unsafe labels (as the logits 0 and that label's logit). Ignored categories are
/// left out of the unsafe set.
/// </summary>
internal sealed class ClassifierHead
{
    private readonly string[] _labels;
    private readonly bool[] _unsafe;
    private readonly bool[] _ignored;
    private readonly float[] _thresholds;
    private readonly bool _multiLabel;
    private readonly bool _report;
    private readonly int _unsafeCount;

    public ClassifierHead(ClassifierManifest manifest, CategoryOptions options)
    {
        _labels = manifest.Labels!;
        _unsafe = [.. _labels.Select(l => Array.IndexOf(manifest.UnsafeLabels!, l) >= 0)];
        _ignored = [.. _labels.Select(options.Ignore.Contains)];
        _thresholds = [.. _labels.Select(options.ThresholdOf)];
        _multiLabel = manifest.MultiLabel;
        _report = manifest.MultiLabel || manifest.ReportCategories;
        _unsafeCount = _unsafe.Count(u => u);
        Labels = _labels.Length;
    }

    public int Labels { get; }

    /// <summary>The verdict logits and categories of one row of logits.</summary>
    public (float Safe, float Unsafe, CategoryScore[]? Categories) Score(ReadOnlySpan<float> logits)
    {
        CategoryScore[]? categories = _report ? new CategoryScore[_unsafeCount] : null;
        if (_multiLabel)
        {
            float best = float.NegativeInfinity;
            int k = 0;
            for (int i = 0; i < logits.Length; i++)
            {
                if (!_unsafe[i])
                {
                    continue;
                }

                float q = Sigmoid(logits[i]);
                categories![k++] = new CategoryScore(_labels[i], q, !_ignored[i] && q >= _thresholds[i]);
                if (!_ignored[i])
                {
                    best = Math.Max(best, logits[i]);
                }
            }

            // Every unsafe label ignored: nothing can make the input unsafe.
            return float.IsNegativeInfinity(best) ? (0f, -30f, categories) : (0f, best, categories);
        }

        double max = double.NegativeInfinity;
        foreach (float z in logits)
        {
            max = Math.Max(max, z);
        }

        double safeSum = 0;
        double unsafeSum = 0;
        double total = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double e = Math.Exp(logits[i] - max);
            total += e;
            if (_unsafe[i] && !_ignored[i])
            {
                unsafeSum += e;
            }
            else
            {
                safeSum += e;
            }
        }

        if (categories is not null)
        {
            int k = 0;
            for (int i = 0; i < logits.Length; i++)
            {
                if (_unsafe[i])
                {
                    float q = (float)(Math.Exp(logits[i] - max) / total);
                    categories[k++] = new CategoryScore(_labels[i], q, !_ignored[i] && q >= _thresholds[i]);
                }
            }
        }

        // log-sum-exp of each set (relative to the max): softmax([safe, unsafe])[1] is the unsafe set's mass.
        float safeLogit = safeSum > 0 ? (float)Math.Max(Math.Log(safeSum), -80) : -80f;
        float unsafeLogit = unsafeSum > 0 ? (float)Math.Max(Math.Log(unsafeSum), -80) : -80f;
        return (safeLogit, unsafeLogit, categories);
    }

    private static float Sigmoid(float z) => (float)(1.0 / (1.0 + Math.Exp(-(double)z)));

    /// <summary>Checks a classifier graph against its manifest; returns the feature size when the graph states it.</summary>
    public static int? ValidateGraph(GuardManifest manifest, InferenceSession session, string onnxPath, int? hiddenSize)
    {
        IReadOnlyDictionary<string, NodeMetadata> inputs = session.InputMetadata;
        IReadOnlyDictionary<string, NodeMetadata> outputs = session.OutputMetadata;
        ClassifierManifest head = manifest.Classifier!;
        string Names(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));

        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (string? name in (string?[])[manifest.Inputs.InputIds, manifest.Inputs.AttentionMask, manifest.Inputs.TokenTypeIds])
        {
            if (name is null || !inputs.TryGetValue(name, out NodeMetadata? meta))
            {
                if (name == manifest.Inputs.InputIds || (name is not null && name == manifest.Inputs.AttentionMask))
                {
                    throw new SafeRouteException($"The ONNX model '{onnxPath}' has no input '{name}' (inputs: {Names(inputs.Keys)}), which '{manifest.FilePath}' names.");
                }

                continue;
            }

            if (meta.ElementDataType != TensorElementType.Int64)
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}': input '{name}' is {meta.ElementDataType}; expected int64.");
            }

            known.Add(name);
        }

        string[] unknown = [.. inputs.Keys.Where(k => !known.Contains(k))];
        if (unknown.Length > 0)
        {
            throw new SafeRouteException($"The ONNX model '{onnxPath}' has inputs SafeRoute cannot feed: {Names(unknown)}. A classifier takes input ids and, optionally, an attention mask and token type ids (Optimum task 'text-classification').");
        }

        if (!outputs.TryGetValue(head.LogitsOutput, out NodeMetadata? logits))
        {
            throw new SafeRouteException($"The ONNX model '{onnxPath}' has no output '{head.LogitsOutput}' (outputs: {Names(outputs.Keys)}), which '{manifest.FilePath}' names as classifier.logitsOutput.");
        }

        if (logits.ElementDataType != TensorElementType.Float || logits.Dimensions.Length != 2)
        {
            throw new SafeRouteException($"The ONNX model '{onnxPath}': output '{head.LogitsOutput}' must be float [batch, labels]; it is {logits.ElementDataType} of rank {logits.Dimensions.Length}.");
        }

        if (logits.Dimensions[1] > 0 && logits.Dimensions[1] != head.Labels!.Length)
        {
            throw new SafeRouteException($"The ONNX model '{onnxPath}': output '{head.LogitsOutput}' has {logits.Dimensions[1]} labels, but '{manifest.FilePath}' lists {head.Labels.Length} in classifier.labels.");
        }

        if (head.FeaturesOutput is { } featuresName)
        {
            if (!outputs.TryGetValue(featuresName, out NodeMetadata? features))
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}' has no output '{featuresName}' (outputs: {Names(outputs.Keys)}), which '{manifest.FilePath}' names as classifier.featuresOutput.");
            }

            int[] dims = features.Dimensions;
            if (features.ElementDataType != TensorElementType.Float || dims.Length is not (2 or 3))
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}': output '{featuresName}' must be float [batch, H] or [batch, seq, H]; it is {features.ElementDataType} of rank {dims.Length}.");
            }

            if (dims[^1] > 0)
            {
                if (hiddenSize is { } h && h != dims[^1])
                {
                    throw new SafeRouteException($"The ONNX model '{onnxPath}': output '{featuresName}' has {dims[^1]} features, but '{manifest.FilePath}' declares hiddenSize {h}.");
                }

                hiddenSize = dims[^1];
            }
        }

        return hiddenSize;
    }
}
