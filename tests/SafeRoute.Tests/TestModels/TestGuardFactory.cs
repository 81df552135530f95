using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using SafeRoute.Models;
using SafeRoute.Routing;

namespace SafeRoute.Tests.TestModels;

/// <summary>A written test guard folder and everything a test needs to know about it.</summary>
internal sealed class TestGuard
{
    public const string OnnxFileName = "model.onnx";
    public const string TokenizerFileName = "tokenizer.tiktoken";
    public const string RowsFileName = "verdict_rows.safetensors";
    public const string RowsTensorName = "lm_head_rows";

    public const string PromptOnlyTemplate = "<|bos|>Check the user message.\nUser: {prompt}\nVerdict:";
    public const string PromptAndResponseTemplate = "<|bos|>Check the agent reply.\nUser: {prompt}\nAgent: {response}\nVerdict:";

    internal TestGuard(string directory, TestGuardOptions options, TinyGuardReference reference)
    {
        Directory = directory;
        Options = options;
        Reference = reference;
    }

    /// <summary>The model folder (full path).</summary>
    public string Directory { get; }

    public TestGuardOptions Options { get; }

    /// <summary>Double-precision reference of the graph in this folder.</summary>
    public TinyGuardReference Reference { get; }

    public string OnnxPath => Path.Combine(Directory, OnnxFileName);

    public string TokenizerPath => Path.Combine(Directory, TokenizerFileName);

    public string RowsPath => Path.Combine(Directory, RowsFileName);

    public string ManifestPath => Path.Combine(Directory, GuardManifest.FileName);

    /// <summary>V: lines of the tiktoken file.</summary>
    public int VocabSize { get; } = TinyGuardVocabulary.VocabSize;

    /// <summary>The &lt;|bos|&gt; id (= V, beyond the file).</summary>
    public int BosTokenId { get; } = TinyGuardVocabulary.VocabSize;

    /// <summary>V + 1: embedding rows and logits width.</summary>
    public int ModelVocabSize => Reference.ModelVocabSize;

    public int HiddenSize => Options.HiddenSize;

    public int SafeTokenId => Reference.SafeTokenId;

    public int UnsafeTokenId => Reference.UnsafeTokenId;

    public const int PadTokenId = 0;

    public static IReadOnlyList<string> TriggerWords => TinyGuardVocabulary.TriggerWords;

    public static IReadOnlyList<string> BenignWords => TinyGuardVocabulary.BenignWords;

    public static IReadOnlyList<string> BorderlineWords => TinyGuardVocabulary.BorderlineWords;

    /// <summary>True label of each borderline word (true = unsafe).</summary>
    public static IReadOnlyDictionary<string, bool> BorderlineIsUnsafe => TinyGuardVocabulary.BorderlineIsUnsafe;

    /// <summary>The id of a word token, with or without its leading space ("attack", " attack", "safe", …).</summary>
    public static int TokenId(string token) => TinyGuardVocabulary.IdOf(token);

    /// <summary>Ids of every trigger/benign/borderline/verdict word, both with and without leading space.</summary>
    public static IReadOnlyDictionary<string, int> TokenIds { get; } =
        TinyGuardVocabulary.AllWords.SelectMany(w => new[] { w, " " + w }).ToDictionary(w => w, TinyGuardVocabulary.IdOf, StringComparer.Ordinal);

    /// <summary>A tokenizer over this folder's tiktoken file with the GPT-2 split and NO special tokens (for user text).</summary>
    public TiktokenTokenizer CreateTokenizer()
    {
        using FileStream stream = File.OpenRead(TokenizerPath);
        return TiktokenTokenizer.Create(stream, new RegexPreTokenizer(new Regex(TinyGuardVocabulary.Gpt2Pattern, RegexOptions.Compiled), null), null, null);
    }

    /// <summary>Encodes plain text (no special tokens) with <see cref="CreateTokenizer"/>.</summary>
    public int[] EncodeText(string text) => [.. CreateTokenizer().EncodeToIds(text)];
}

/// <summary>Writes complete test guard folders (model.onnx, tokenizer.tiktoken, verdict_rows.safetensors, saferoute.json).</summary>
internal static class TestGuardFactory
{
    /// <summary>Creates <paramref name="directory"/> (if needed) and writes a guard folder described by <paramref name="options"/> into it.</summary>
    public static TestGuard Create(string directory, TestGuardOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        options ??= TestGuardOptions.Small;
        string dir = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(dir);
        TinyGuardReference reference = TinyGuardReference.Create(options);
        var guard = new TestGuard(dir, options, reference);

        if (options.Fault == TestGuardFault.CorruptOnnx)
        {
            WriteCorruptOnnx(guard.OnnxPath);
        }
        else
        {
            TinyGuardModel.Build(reference).Save(guard.OnnxPath);
        }

        File.WriteAllText(guard.TokenizerPath, TinyGuardVocabulary.TiktokenFileText(), new UTF8Encoding(false));
        WriteRows(guard);
        WriteManifest(guard);
        return guard;
    }

    /// <summary>Writes bytes that are not an ONNX model (but not empty) to <paramref name="path"/>.</summary>
    public static void WriteCorruptOnnx(string path)
    {
        byte[] garbage = new byte[512];
        new Random(97).NextBytes(garbage);
        Encoding.ASCII.GetBytes("this is not an onnx model").CopyTo(garbage, 0);
        File.WriteAllBytes(path, garbage);
    }

    /// <summary>The manifest this factory writes for <paramref name="guard"/> (before serialization).</summary>
    public static GuardManifest BuildManifest(TestGuard guard)
    {
        ArgumentNullException.ThrowIfNull(guard);
        TestGuardOptions o = guard.Options;
        bool logits = o.VerdictOutputs != TestVerdictOutputs.LmHeadRows;
        return new GuardManifest
        {
            Name = o.Name,
            Onnx = TestGuard.OnnxFileName,
            Tokenizer = new TokenizerManifest
            {
                Kind = "tiktoken",
                Path = TestGuard.TokenizerFileName,
                Preset = "custom",
                Pattern = TinyGuardVocabulary.Gpt2Pattern,
                SpecialTokens = new Dictionary<string, int> { [TinyGuardVocabulary.BosToken] = guard.BosTokenId },
            },
            Template = new TemplateManifest
            {
                Kind = "custom",
                PromptOnly = TestGuard.PromptOnlyTemplate,
                PromptAndResponse = TestGuard.PromptAndResponseTemplate,
            },
            Verdict = new VerdictManifest
            {
                SafeTokenId = guard.SafeTokenId,
                UnsafeTokenId = guard.UnsafeTokenId,
                SourceName = logits ? "logits" : "lmHeadRows",
                LmHeadRows = logits ? null : TestGuard.RowsFileName,
                LogitsOutput = logits ? TinyGuardModel.Logits : null,
            },
            HiddenStateOutput = o.VerdictOutputs == TestVerdictOutputs.Logits ? null : TinyGuardModel.LastHiddenState,
            HiddenSize = o.Fault == TestGuardFault.ManifestHiddenSizeMismatch ? o.HiddenSize + 1 : o.HiddenSize,
            MaxSequenceLength = o.MaxSequenceLength,
            PadTokenId = TestGuard.PadTokenId,
        };
    }

    private static void WriteManifest(TestGuard guard)
    {
        GuardManifest manifest = BuildManifest(guard);
        string json = JsonSerializer.Serialize(manifest, GuardManifestJsonContext.Default.GuardManifest);
        if (manifest.HiddenStateOutput is null)
        {
            // The serializer context omits nulls, and an absent "hiddenStateOutput" reads back as "last_hidden_state":
            // write the explicit null a logits-only guard needs.
            JsonNode root = JsonNode.Parse(json)!;
            root["hiddenStateOutput"] = null;
            json = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        }

        File.WriteAllText(guard.ManifestPath, json, new UTF8Encoding(false));
    }

    /// <summary>Always written (also for logits variants); [2, H], or [2, H + 1] for <see cref="TestGuardFault.RowsHiddenSizeMismatch"/>.</summary>
    private static void WriteRows(TestGuard guard)
    {
        int h = guard.HiddenSize;
        float[] rows = guard.Reference.VerdictRows;
        int width = h;
        if (guard.Options.Fault == TestGuardFault.RowsHiddenSizeMismatch)
        {
            width = h + 1;
            float[] wide = new float[2 * width];
            Array.Copy(rows, 0, wide, 0, h);
            Array.Copy(rows, h, wide, width, h);
            rows = wide;
        }

        Safetensors.Write(guard.RowsPath, [(TestGuard.RowsTensorName, new[] { 2, width }, rows)], new Dictionary<string, string> { ["producer"] = "SafeRoute.Tests" });
    }
}
