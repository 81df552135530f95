using System.Text;
using System.Text.Json;
using Onnx;
using SafeRoute.Models;

namespace SafeRoute.Tests.TestModels;

/// <summary>
/// A tiny BERT-shaped sequence classifier with the inputs and outputs an Optimum <c>text-classification</c> export has:
/// <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c> → <c>logits</c> [batch, labels] and a features output
/// (<c>pooled_output</c> [batch, D], or <c>last_hidden_state</c> [batch, seq, D] whose first token is read). The body is
/// word + token-type embeddings, a masked mean over the sequence, then a linear head; <see cref="Reference"/> computes
/// the same in double precision. The word "bomb" pushes hard toward the last unsafe label.
/// </summary>
internal sealed class TinyClassifierModel
{
    public const int Dim = 8;

    public static readonly string[] Vocabulary =
    [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
        "hello", "how", "do", "i", "bake", "bread", "kill", "a", "python", "process", "bomb", "make", "the", "to",
        "?", ".", ",", "!", "weather", "is", "nice", "today", "build", "attack", "[", "]", "sep", "cls", "##s", "##ing",
        "tell", "me", "about", "autumn", "leaves", "sure", "here", "recipe", "it", "no",
    ];

    private TinyClassifierModel(string directory, string[] labels, string[] unsafeLabels, bool multiLabel, bool sequenceFeatures, int seed)
    {
        Directory = directory;
        Labels = labels;
        UnsafeLabels = unsafeLabels;
        MultiLabel = multiLabel;
        SequenceFeatures = sequenceFeatures;
        var random = new Random(seed);
        Embedding = Fill(random, Vocabulary.Length * Dim, 0.3);
        TypeEmbedding = Fill(random, 2 * Dim, 0.3);
        Weight = Fill(random, Dim * labels.Length, 0.5);
        Bias = new float[labels.Length];

        // "bomb" drives dimension 0, which feeds only the last (unsafe) label: a window that contains it is unsafe.
        int bomb = Array.IndexOf(Vocabulary, "bomb");
        Embedding[(bomb * Dim) + 0] = 40f;
        for (int l = 0; l < labels.Length; l++)
        {
            Weight[(0 * labels.Length) + l] = l == labels.Length - 1 ? 1f : 0f;
        }

        Bias[0] = 1.5f; // label 0 ("safe") leads otherwise
    }

    public string Directory { get; }

    public string[] Labels { get; }

    public string[] UnsafeLabels { get; }

    public bool MultiLabel { get; }

    public bool SequenceFeatures { get; }

    public float[] Embedding { get; }

    public float[] TypeEmbedding { get; }

    public float[] Weight { get; }

    public float[] Bias { get; }

    public string FeaturesOutput => SequenceFeatures ? "last_hidden_state" : "pooled_output";

    public static TinyClassifierModel Create(string directory, int maxSequenceLength = 32, int maxWindows = 4, string[]? labels = null, string[]? unsafeLabels = null, bool multiLabel = false, bool sequenceFeatures = false, bool withTokenTypes = true, int seed = 7, Action<GuardManifest>? editManifest = null)
    {
        System.IO.Directory.CreateDirectory(directory);
        labels ??= ["safe", "unsafe"];
        unsafeLabels ??= [labels[^1]];
        var model = new TinyClassifierModel(Path.GetFullPath(directory), labels, unsafeLabels, multiLabel, sequenceFeatures, seed);
        model.Build(withTokenTypes).Save(Path.Combine(directory, "model.onnx"));
        File.WriteAllText(Path.Combine(directory, "vocab.txt"), string.Join('\n', Vocabulary) + "\n", new UTF8Encoding(false));
        var manifest = new GuardManifest
        {
            Name = "tiny-classifier",
            KindName = "classifier",
            Onnx = "model.onnx",
            Tokenizer = new TokenizerManifest { Kind = "wordpiece", Path = "vocab.txt", LowerCase = true },
            Classifier = new ClassifierManifest
            {
                LogitsOutput = "logits",
                FeaturesOutput = model.FeaturesOutput,
                Labels = labels,
                UnsafeLabels = unsafeLabels,
                Activation = multiLabel ? "sigmoid" : "softmax",
                ReportCategories = labels.Length > 2,
                MaxWindows = maxWindows,
            },
            Inputs = new InputsManifest { InputIds = "input_ids", AttentionMask = "attention_mask", PositionIds = null, TokenTypeIds = "token_type_ids" },
            HiddenStateOutput = null,
            MaxSequenceLength = maxSequenceLength,
            PadTokenId = 0,
            HiddenSize = Dim,
        };
        editManifest?.Invoke(manifest);
        File.WriteAllText(Path.Combine(directory, GuardManifest.FileName), JsonSerializer.Serialize(manifest, GuardManifestJsonContext.Default.GuardManifest), new UTF8Encoding(false));
        return model;
    }

    /// <summary>The reference forward pass for one unpadded row: features (the masked mean) and logits.</summary>
    public (double[] Features, double[] Logits) Reference(IReadOnlyList<int> ids, IReadOnlyList<int>? types)
    {
        double[] mean = new double[Dim];
        for (int t = 0; t < ids.Count; t++)
        {
            int type = types?[t] ?? 0;
            for (int k = 0; k < Dim; k++)
            {
                mean[k] += Embedding[(ids[t] * Dim) + k] + TypeEmbedding[(type * Dim) + k];
            }
        }

        for (int k = 0; k < Dim; k++)
        {
            mean[k] /= ids.Count;
        }

        double[] logits = new double[Labels.Length];
        for (int l = 0; l < Labels.Length; l++)
        {
            logits[l] = Bias[l];
            for (int k = 0; k < Dim; k++)
            {
                logits[l] += mean[k] * Weight[(k * Labels.Length) + l];
            }
        }

        // Sequence features: the first token's own vector is the mean in this model's last_hidden_state output.
        return (mean, logits);
    }

    /// <summary>p(unsafe) as the library defines it for this head.</summary>
    public double UnsafeProbability(double[] logits, ISet<string>? ignored = null)
    {
        if (MultiLabel)
        {
            double best = double.NegativeInfinity;
            for (int l = 0; l < Labels.Length; l++)
            {
                if (Array.IndexOf(UnsafeLabels, Labels[l]) >= 0 && ignored?.Contains(Labels[l]) != true)
                {
                    best = Math.Max(best, 1 / (1 + Math.Exp(-logits[l])));
                }
            }

            return best;
        }

        double max = logits.Max();
        double total = logits.Sum(z => Math.Exp(z - max));
        double unsafeMass = 0;
        for (int l = 0; l < Labels.Length; l++)
        {
            if (Array.IndexOf(UnsafeLabels, Labels[l]) >= 0 && ignored?.Contains(Labels[l]) != true)
            {
                unsafeMass += Math.Exp(logits[l] - max);
            }
        }

        return unsafeMass / total;
    }

    private OnnxGraphBuilder Build(bool withTokenTypes)
    {
        const TensorProto.Types.DataType I64 = TensorProto.Types.DataType.Int64;
        const TensorProto.Types.DataType F32 = TensorProto.Types.DataType.Float;
        var g = new OnnxGraphBuilder("tiny_classifier");
        g.Input("input_ids", I64, "batch", "seq").Input("attention_mask", I64, "batch", "seq");
        if (withTokenTypes)
        {
            g.Input("token_type_ids", I64, "batch", "seq");
        }

        g.FloatInitializer("E", [Vocabulary.Length, Dim], Embedding)
         .FloatInitializer("T", [2, Dim], TypeEmbedding)
         .FloatInitializer("W", [Dim, Labels.Length], Weight)
         .FloatInitializer("B", [Labels.Length], Bias)
         .FloatScalar("one", 1f)
         .Int64Vector("seq_axis", 1)
         .Int64Vector("last_axis", 2);
        string e = g.Op("Gather", ["E", "input_ids"], "word", ("axis", 0));
        if (withTokenTypes)
        {
            string t = g.Op("Gather", ["T", "token_type_ids"], "type", ("axis", 0));
            e = g.Op("Add", [e, t], "embedded");
        }
        else
        {
            // Without token types every token gets type 0's vector, as the reference does.
            g.Int64Initializer("zero_index", [], [0]);
            string t0 = g.Op("Gather", ["T", "zero_index"], "type0", ("axis", 0));
            e = g.Op("Add", [e, t0], "embedded");
        }

        string mask = g.Op("Cast", ["attention_mask"], "mask_f", ("to", (int)F32));
        string mask3 = g.Op("Unsqueeze", [mask, "last_axis"], "mask3");
        string masked = g.Op("Mul", [e, mask3], "masked");
        string sum = g.Op("ReduceSum", [masked, "seq_axis"], "sum", ("keepdims", 0));
        string count = g.Op("ReduceSum", [mask3, "seq_axis"], "count", ("keepdims", 0));
        string denominator = g.Op("Max", [count, "one"], "count_at_least_1");
        string pooled = g.Op("Div", [sum, denominator], "mean");
        string z = g.Op("MatMul", [pooled, "W"], "head");
        g.Node("Add", [z, "B"], ["logits"]);
        g.Output("logits", F32, "batch", Labels.Length);
        if (SequenceFeatures)
        {
            // [batch, seq, D]: the mean broadcast over the sequence (the first token is what the library reads).
            string mean3 = g.Op("Unsqueeze", [pooled, "seq_axis"], "mean3");
            string zeros = g.Op("Mul", [e, "zero_f"], "zeros");
            g.FloatScalar("zero_f", 0f);
            g.Node("Add", [zeros, mean3], ["last_hidden_state"]);
            g.Output("last_hidden_state", F32, "batch", "seq", Dim);
        }
        else
        {
            g.Node("Identity", [pooled], ["pooled_output"]);
            g.Output("pooled_output", F32, "batch", Dim);
        }

        return g;
    }

    private static float[] Fill(Random random, int count, double scale)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(((random.NextDouble() * 2) - 1) * scale);
        }

        return values;
    }
}
