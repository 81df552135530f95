using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace SafeRoute.Benchmarks;

/// <summary>
/// Target 5 in detail: managed bytes allocated per call in steady state (the minimum over 3 passes of 20 calls, on one
/// thread), split into the parts of <c>EvaluateAsync</c> on the GPT-2 decoder guard (the v1 default small guard, kept in tests/) with a 128-token input, and what of
/// it the libraries underneath allocate themselves. Writes results/allocation-breakdown.md.
/// </summary>
internal static class AllocationBreakdown
{
    public static void Run()
    {
        using OnnxSafetyGuard guard = OnnxSafetyGuard.Create(DevSet.Gpt2DecoderGuardPath, new GuardModelOptions { IntraOpNumThreads = 1 });
        SafetyRequest request = BenchmarkInputs.RequestOfTokens(guard, 128);
        TiktokenTokenizer tokenizer = TiktokenTokenizer.CreateForModel("gpt2");
        string text = request.Prompt;
        var encoded = guard.Encoder.Encode(request);
        int n = encoded.TokenIds.Length;

        using var session = new InferenceSession(Path.Combine(DevSet.Gpt2DecoderGuardPath, "model.onnx"));
        long[] ids = new long[n];
        long[] shape = [1, n];
        using OrtValue a = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using OrtValue b = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using OrtValue c = OrtValue.CreateTensorValueFromMemory(ids, shape);
        string[] inputNames = ["input_ids", "attention_mask", "position_ids"];
        string[] outputNames = ["last_hidden_state"];
        OrtValue[] values = [a, b, c];
        using var runOptions = new RunOptions();

        var rows = new (string Part, Action Call)[]
        {
            ("EvaluateAsync (whole call, verdict included)", () => Consume(guard.EvaluateAsync(request))),
            ("new SafetyVerdict (the verdict itself)", () => GC.KeepAlive(new SafetyVerdict { IsUnsafe = false, UnsafeProbability = 0.1f, DecidedBy = GuardTier.Small, ModelName = "x" })),
            ("PromptEncoder.Encode (ids copied to an exact array; not used by EvaluateAsync)", () => guard.Encoder.Encode(request)),
            ("Microsoft.ML.Tokenizers EncodeToIds on the same text (its returned list)", () => tokenizer.EncodeToIds(text)),
            ("forward pass from encoded ids (tensors + run + read)", () => guard.ForwardOne(encoded, wantFeatures: false, CancellationToken.None)),
            ("ONNX Runtime InferenceSession.Run alone (prepared inputs)", () => session.Run(runOptions, inputNames, values, outputNames).Dispose()),
        };

        var table = new StringBuilder();
        table.AppendLine("| part | bytes per call |");
        table.AppendLine("|---|---:|");
        foreach ((string part, Action call) in rows)
        {
            for (int i = 0; i < 50; i++)
            {
                call();
            }

            table.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"| {part} | {Measure(call)} |");
        }

        string report =
            "# Steady-state managed allocation per call\n\n" +
            $"Small default guard, one {n}-token input, minimum over 3 passes of 20 calls on one thread (`GC.GetAllocatedBytesForCurrentThread`). Written by `AllocationBreakdown` (`-- short` or `-- alloc`).\n\n" +
            table;
        File.WriteAllText(Path.Combine(DevSet.RepositoryRoot(), "benchmarks", "SafeRoute.Benchmarks", "results", "allocation-breakdown.md"), report);
        Console.WriteLine(report);
    }

    private static void Consume(ValueTask<SafetyVerdict> pending)
    {
        if (!pending.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("EvaluateAsync without micro-batching completes synchronously.");
        }

        GC.KeepAlive(pending.Result);
    }

    private static long Measure(Action call)
    {
        long best = long.MaxValue;
        for (int pass = 0; pass < 3; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++)
            {
                call();
            }

            best = Math.Min(best, (GC.GetAllocatedBytesForCurrentThread() - before) / 20);
        }

        return best;
    }
}
