using System.Globalization;

namespace SafeRoute.ModelPrep;

/// <summary>
/// Data and model preparation for the default guard pair and router (issue 3). Every tokenization goes through the
/// library's own <c>PromptEncoder</c>, and every model output through the library's <c>OnnxSafetyGuard</c>, so what
/// the Python trainer sees is exactly what the library computes. Never prints dataset text.
/// </summary>
internal static class Program
{
    private const string Usage = """
        SafeRoute.ModelPrep <verb> [--option value ...]
          tokenize  --data DIR --work DIR [--alpaca 4000] [--seed 1234] [--max-seq 256]
                    dedupe, stratified split (guard 70% / router 20% / dev 10%), tokenize every row with the library
          split     --data DIR --out DIR [--alpaca 4000] [--seed 1234]
                    write guard.jsonl, router.jsonl and dev.jsonl (dataset schema, the same split as tokenize)
          features  --data DIR --work DIR --small MODELDIR --large MODELDIR [--splits router,dev]
                    small-guard last-token features + logits and large-guard p(unsafe), through the library
          verify    --data DIR --work DIR --model MODELDIR --expected FILE.tsv
                    compare the library's p(unsafe) with PyTorch's (id<TAB>p per line); fails above 1e-4
          eval      --data DIR --work DIR --small MODELDIR --large MODELDIR --router FILE --out metrics.json
                    development-split metrics through the library, latency at 128 tokens, artefact sizes
          extract-base --assembly DLL --out DIR
                    copy model.onnx and vocab.txt out of a restored SentenceTransformers.* NuGet assembly
          tokenize-wordpiece --data DIR --work DIR --vocab FILE [--alpaca 4000] [--seed 1234] [--max-seq 128] [--out FILE] [--coverage DIR]
                    the same split with BERT WordPiece ids + token types (v2 classifier guards), plus the cut Alpaca rows as split "extra"
          check-classifier --model DIR --rows wp_rows.jsonl --expected torch_dev_p16.tsv [--float32 torch_dev_p.tsv] [--tolerance 1e-4] [--split dev] [--threads 1]
                    a v2 classifier folder's model.onnx in ONNX Runtime vs PyTorch p(unsafe) of the float16-rounded model (fails above
                    the tolerance) and vs the float32 model (fails on a verdict flip), and its 128-token latency
          vocab     --out FILE
                    the decoded text of every GPT-2 token id, one JSON string per line (for word-vector initialisation)
        """;

    public static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        if (args.Length == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        Dictionary<string, string> options = ParseOptions(args.AsSpan(1));
        try
        {
            return args[0] switch
            {
                "tokenize" => TokenizeCommand.Run(options),
                "split" => SplitCommand.Run(options),
                "features" => FeaturesCommand.Run(options),
                "verify" => VerifyCommand.Run(options),
                "eval" => EvalCommand.Run(options),
                "vocab" => VocabCommand.Run(options),
                "check-classifier" => CheckClassifierCommand.Run(options),
                "extract-base" => WordPieceCommand.Extract(options),
                "tokenize-wordpiece" => WordPieceCommand.Run(options),
                _ => Fail($"unknown verb '{args[0]}'"),
            };
        }
        catch (ArgumentException ex)
        {
            return Fail(ex.Message);
        }
    }

    internal static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        Console.Error.WriteLine(Usage);
        return 2;
    }

    internal static string Required(Dictionary<string, string> options, string name) =>
        options.TryGetValue(name, out string? value) ? value : throw new ArgumentException($"--{name} is required");

    internal static string Optional(Dictionary<string, string> options, string name, string fallback) =>
        options.TryGetValue(name, out string? value) ? value : fallback;

    private static Dictionary<string, string> ParseOptions(ReadOnlySpan<string> args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected '--name value', got '{args[i]}'");
            }

            options[args[i][2..]] = args[i + 1];
            i++;
        }

        return options;
    }
}
