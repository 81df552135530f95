using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;
using SafeRoute.Models;
using SafeRoute.Routing;

namespace SafeRoute.Benchmarks;

/// <summary>
/// Targets 1 and 5: <c>EvaluateAsync</c> on the GPT-2 decoder guard (the v1 default small guard, kept in tests/) against the same input through a plain tokenizer
/// pass plus a raw <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string})"/>
/// (the Baseline: render the template, tokenize, build the three tensors, run, read the last-token hidden state and
/// the two verdict dot products). One 128-token input, one intra-op thread for both, the same session options.
/// MemoryDiagnoser gives the steady-state managed allocation per call.
/// </summary>
[MemoryDiagnoser]
public class GuardOverheadBenchmark
{
    private OnnxSafetyGuard _guard = null!;
    private InferenceSession _raw = null!;
    private RunOptions _runOptions = null!;
    private Tokenizer _tokenizer = null!;
    private SafetyRequest _request = null!;
    private string _prefix = "";
    private string _suffix = "";
    private float[] _rows = null!;
    private int _hidden;
    private long _pad;

    [Params(128)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new GuardModelOptions { IntraOpNumThreads = 1 };
        _guard = OnnxSafetyGuard.Create(DevSet.Gpt2DecoderGuardPath, options);
        _request = BenchmarkInputs.RequestOfTokens(_guard, Tokens);

        GuardManifest manifest = GuardManifest.Load(DevSet.Gpt2DecoderGuardPath);
        string template = manifest.Template!.PromptOnly!;
        int at = template.IndexOf("{prompt}", StringComparison.Ordinal);
        _prefix = template[..at];
        _suffix = template[(at + "{prompt}".Length)..];
        _pad = manifest.PadTokenId;
        _tokenizer = TiktokenTokenizer.CreateForModel("gpt2");
        (Dictionary<string, SafetensorsTensor> tensors, _) = Safetensors.Read(manifest.Resolve(manifest.Verdict!.LmHeadRows!));
        _rows = tensors["lm_head_rows"].Data;
        _hidden = _rows.Length / 2;

        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            EnableMemoryPattern = false, // as the guard's sessions (OnnxSessionFactory): the same session options
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _raw = new InferenceSession(manifest.Resolve(manifest.Onnx), sessionOptions);
        _runOptions = new RunOptions();

        float viaGuard = Guard().AsTask().GetAwaiter().GetResult().UnsafeProbability;
        float viaRaw = RawTokenizeAndRun();
        if (Math.Abs(viaGuard - viaRaw) > 1e-4)
        {
            throw new InvalidOperationException($"The raw path computes p(unsafe) = {viaRaw}, the guard {viaGuard}: they must do the same work.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _guard.Dispose();
        _raw.Dispose();
        _runOptions.Dispose();
    }

    /// <summary>The straightforward path a user would write with the same libraries.</summary>
    [Benchmark(Baseline = true)]
    public float RawTokenizeAndRun()
    {
        IReadOnlyList<int> ids = _tokenizer.EncodeToIds(_prefix + _request.Prompt.Trim() + _suffix);
        int n = ids.Count;
        long[] input = new long[n];
        long[] mask = new long[n];
        long[] positions = new long[n];
        for (int i = 0; i < n; i++)
        {
            input[i] = ids[i];
            mask[i] = 1;
            positions[i] = i;
        }

        long[] shape = [1, n];
        using OrtValue a = OrtValue.CreateTensorValueFromMemory(input, shape);
        using OrtValue b = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using OrtValue c = OrtValue.CreateTensorValueFromMemory(positions, shape);
        using IDisposableReadOnlyCollection<OrtValue> outputs = _raw.Run(_runOptions, ["input_ids", "attention_mask", "position_ids"], [a, b, c], ["last_hidden_state"]);
        ReadOnlySpan<float> last = outputs[0].GetTensorDataAsSpan<float>().Slice((n - 1) * _hidden, _hidden);
        float safe = TensorPrimitives.Dot(last, _rows.AsSpan(0, _hidden));
        float @unsafe = TensorPrimitives.Dot(last, _rows.AsSpan(_hidden, _hidden));
        return 1f / (1f + MathF.Exp(safe - @unsafe));
    }

    [Benchmark]
    public ValueTask<SafetyVerdict> Guard() => _guard.EvaluateAsync(_request);
}
