using System.Buffers;
using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SafeRoute.Models;
using SafeRoute.Onnx;
using SafeRoute.Routing;
using SafeRoute.Text;

namespace SafeRoute;

/// <summary>
/// A guard model run with ONNX Runtime from a model folder (<c>saferoute.json</c>, the ONNX graph, the tokenizer and,
/// usually, the lm_head rows of the verdict tokens). Works with Llama Guard 3 1B/8B exports, Qwen3Guard-Gen and
/// WildGuard-style prefill guards, ShieldGemma and Granite Guardian (one pass per policy), and any graph that follows the
/// same contract. p(unsafe) is the softmax over the two verdict logits at the last position (or, for a family with several
/// verdict tokens, the normalised softmax mass of its unsafe tokens; for a per-policy family, the largest p(violation)
/// over its policies); the same forward pass yields the last-token hidden state that a router reads (per-policy: the mean
/// over the policy passes).
/// </summary>
/// <remarks>
/// Safe for concurrent use: one ONNX Runtime session serves all callers. Safe to dispose while calls are in flight
/// (as a DI container does at host shutdown): disposal refuses new calls, ends the runs in flight (their callers get
/// <see cref="ObjectDisposedException"/>; a run that already finished returns its verdict), waits for them to leave the
/// session and only then releases it. Later calls throw <see cref="ObjectDisposedException"/>.
/// Model runs are CPU- or device-bound and execute on the calling thread; the returned task completes when the run
/// does. A cancelled token terminates a run in flight and the call throws <see cref="OperationCanceledException"/>.
/// With <see cref="GuardModelOptions.MicroBatching"/> enabled, single calls are queued and run in batches on the thread
/// pool instead; a cancelled token then removes the call from the queue (a batch already running is not stopped).
/// Batches are sorted by length and run in groups of similar length; verdicts keep the callers' order.
/// </remarks>
public sealed class OnnxSafetyGuard : IScoringSafetyGuard, IDisposable, IAsyncDisposable
{
    private const string WarmUpText = "Hello, how are you today?";

    private readonly InferenceSession _session;
    private readonly IPromptEncoder _encoder;
    private readonly ClassifierHead? _classifier;
    private readonly CategoryHead? _categories;
    private readonly PolicyHead? _policies;
    private readonly float _softcap; // > 0: verdict logits from lm_head rows become cap * tanh(z / cap)
    private readonly GuardManifest _manifest;
    private readonly float[]? _verdictRows; // [n, H]: one lm_head row per verdict token, in _verdict.TokenIds order
    private readonly VerdictHead? _verdict;
    private readonly string _inputIdsName;
    private readonly string? _attentionMaskName;
    private readonly string? _positionIdsName; // decoder: position ids; classifier: token type ids
    private readonly string[] _outputNames;
    private readonly string[] _inputNames;
    private readonly RunOptions _sharedRunOptions = new();
    private readonly MicroBatcher? _batcher;

    // Disposal under load: every use of a native object (OrtValues, RunOptions, the session) happens inside _calls;
    // disposal closes it, terminates the runs in flight (_sharedRunOptions directly, the cancellable calls' own
    // RunOptions through _terminate), waits for it to drain and only then releases the native objects, once.
    private readonly InFlightGate _calls = new();
    private readonly CancellationTokenSource _terminate = new();
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [ThreadStatic]
    private static OrtValue?[]?[]? t_inputValues;

    [ThreadStatic]
    private static long[]? t_shape;
    private readonly int _hiddenOutputIndex;
    private readonly int _logitsOutputIndex;
    private readonly int _maxBatchSize;
    private int? _hiddenSize;
    private long _runCount;

    private OnnxSafetyGuard(GuardManifest manifest, IPromptEncoder encoder, InferenceSession session, VerdictHead? verdict, float[]? verdictRows, int? hiddenSize, GuardTier tier, GuardModelOptions options, ExecutionProvider provider, CategoryHead? categories, PolicyHead? policies)
    {
        _verdict = verdict;
        _categories = categories;
        _policies = policies;
        if (manifest.Verdict?.Source == VerdictSource.LmHeadRows)
        {
            FamilyTemplates.TryGet(manifest.Template?.Kind, out FamilyTemplate? family);
            _softcap = (float)(manifest.Verdict.LogitSoftcap ?? family?.LogitSoftcap ?? 0);
        }

        _manifest = manifest;
        _encoder = encoder;
        _session = session;
        _verdictRows = verdictRows;
        _hiddenSize = hiddenSize;
        Tier = tier;
        Provider = provider;
        _maxBatchSize = options.MaxBatchSize;
        Name = string.IsNullOrWhiteSpace(manifest.Name) ? Path.GetFileName(manifest.Directory) : manifest.Name!;
        ModelDirectory = manifest.Directory;

        IReadOnlyDictionary<string, NodeMetadata> inputs = session.InputMetadata;
        _inputIdsName = manifest.Inputs.InputIds;
        _attentionMaskName = manifest.Inputs.AttentionMask is { } am && inputs.ContainsKey(am) ? am : null;
        string? thirdInput = manifest.ModelKind == GuardModelKind.Classifier ? manifest.Inputs.TokenTypeIds : manifest.Inputs.PositionIds;
        _positionIdsName = thirdInput is { } pi && inputs.ContainsKey(pi) ? pi : null;

        var outputs = new List<string>(2);
        _hiddenOutputIndex = -1;
        _logitsOutputIndex = -1;
        if (manifest.Classifier is { } head)
        {
            _classifier = new ClassifierHead(head, options.Categories);
            _logitsOutputIndex = outputs.Count;
            outputs.Add(head.LogitsOutput);
            if (head.FeaturesOutput is { } featuresName && session.OutputMetadata.ContainsKey(featuresName))
            {
                _hiddenOutputIndex = outputs.Count;
                outputs.Add(featuresName);
            }
        }
        else if (manifest.HiddenStateOutput is { } hiddenName && session.OutputMetadata.ContainsKey(hiddenName))
        {
            _hiddenOutputIndex = outputs.Count;
            outputs.Add(hiddenName);
        }

        if (manifest.Verdict?.Source == VerdictSource.Logits)
        {
            _logitsOutputIndex = outputs.Count;
            outputs.Add(manifest.Verdict.LogitsOutput!);
        }

        _outputNames = [.. outputs];
        var inputNames = new List<string>(3) { _inputIdsName };
        if (_attentionMaskName is not null)
        {
            inputNames.Add(_attentionMaskName);
        }

        if (_positionIdsName is not null)
        {
            inputNames.Add(_positionIdsName);
        }

        _inputNames = [.. inputNames];
        if (options.MicroBatching.Enabled)
        {
            // Up to one batch per core at once: unbatched calls would use every core too.
            int concurrency = Environment.ProcessorCount;
            _batcher = new MicroBatcher((prompts, wantFeatures) => Forward(prompts, wantFeatures, CancellationToken.None), Name, options.MicroBatching, options.TimeProvider, concurrency);
        }
    }

    /// <summary>Gets the model's name (the manifest's <c>name</c>, else the folder name).</summary>
    public string Name { get; }

    /// <summary>Gets the full path of the model folder.</summary>
    public string ModelDirectory { get; }

    /// <summary>Gets the tier this guard reports in its verdicts.</summary>
    public GuardTier Tier { get; }

    /// <summary>Gets the execution provider the session runs on.</summary>
    public ExecutionProvider Provider { get; }

    /// <summary>Gets the size of the last-token hidden state (the router's feature vector), or <see langword="null"/>
    /// when the graph exposes no hidden state or its size is not known before the first run.</summary>
    public int? HiddenSize => _hiddenSize;

    /// <summary>Gets the context length in tokens; longer inputs are truncated (see <see cref="SafetyVerdict.WasTruncated"/>).</summary>
    public int MaxSequenceLength => _encoder.MaxSequenceLength;

    /// <inheritdoc/>
    /// <remarks>The hidden size when the graph exposes a hidden state (its last position for a decoder), else <see langword="null"/>.</remarks>
    [System.Diagnostics.CodeAnalysis.Experimental(DiagnosticIds.Scoring)]
    public int? FeatureSize => HasFeatures ? _hiddenSize : null;

    internal bool HasFeatures => _hiddenOutputIndex >= 0;

    /// <summary>How many ONNX Runtime runs this guard has started (diagnostics and tests).</summary>
    internal long RunCount => Interlocked.Read(ref _runCount);

    /// <summary>Called with the batch size just before each ONNX Runtime run (tests and diagnostics).</summary>
    internal Action<int>? RunObserver { get; set; }

    internal IPromptEncoder Encoder => _encoder;

    /// <summary>Gets the kind of model this guard runs.</summary>
    [System.Diagnostics.CodeAnalysis.Experimental(DiagnosticIds.Scoring)]
    public GuardModelKind Kind => _classifier is null ? GuardModelKind.Decoder : GuardModelKind.Classifier;

    /// <summary>Gets the micro-batcher, or <see langword="null"/> when micro-batching is off.</summary>
    internal MicroBatcher? Batcher => _batcher;

    /// <summary>Loads a guard from a model folder.</summary>
    /// <param name="modelDirectory">The folder that holds <c>saferoute.json</c>. A relative path is resolved against
    /// <see cref="AppContext.BaseDirectory"/>, not the current directory; an absolute path is used as is.</param>
    /// <param name="options">How to run it; <see langword="null"/> for the defaults (CPU).</param>
    /// <param name="tier">The tier to report in verdicts.</param>
    /// <returns>The loaded guard. The caller owns it and must dispose it.</returns>
    /// <exception cref="ArgumentException"><paramref name="modelDirectory"/> is null or white space, an option is out of
    /// range, or <see cref="GuardModelOptions.ControversialAsUnsafe"/> is set for a guard without controversial verdict tokens.</exception>
    /// <exception cref="SafeRouteException">The folder, manifest, tokenizer, ONNX graph or lm_head rows are missing, corrupt or
    /// inconsistent (among them: a file that does not match its <c>sha256</c> entry in the manifest, verdict token ids outside
    /// the tokenizer's vocabulary, a verdict token string that is not exactly one token or is listed twice, equal verdict rows, a context longer than the graph declares it supports), no configured
    /// execution provider is available, or ONNX Runtime's native library could not be loaded (the app references no
    /// native ONNX Runtime package). The message names the file and the mismatch.</exception>
    public static OnnxSafetyGuard Create(string modelDirectory, GuardModelOptions? options = null, GuardTier tier = GuardTier.Small)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        options ??= new GuardModelOptions();
        if (options.Problems() is { Count: > 0 } problems)
        {
            // Null sub-options and ignored settings are argument errors; numbers out of range are range errors.
            string message = string.Join(" ", problems.Select(p => p.ToApiText()));
            throw problems.Exists(p => p.Kind != OptionProblemKind.OutOfRange)
                ? new ArgumentException(message, nameof(options))
                : new ArgumentOutOfRangeException(nameof(options), message);
        }

        GuardManifest manifest = GuardManifest.Load(modelDirectory);
        manifest.VerifyFileHashes();
        bool lengthOverridden = false;
        if (options.MaxSequenceLength is { } length)
        {
            manifest.MaxSequenceLength = length;
            lengthOverridden = true;
        }

        string modelName = string.IsNullOrWhiteSpace(manifest.Name) ? manifest.Directory : manifest.Name!;
        IPromptEncoder encoder;
        VerdictHead? verdict = null;
        PolicyHead? policyHead = null;
        if (manifest.ModelKind == GuardModelKind.Classifier)
        {
            if (options.ControversialAsUnsafe is not null)
            {
                throw new ArgumentException($"GuardModelOptions.ControversialAsUnsafe is set, but '{manifest.FilePath}' describes a classifier, which has no controversial verdict tokens.", nameof(options));
            }

            encoder = ClassifierEncoder.Create(manifest);
        }
        else
        {
            ResolvedPolicy[]? policies = PolicySet.Resolve(manifest);
            var promptEncoder = PromptEncoder.Create(manifest, policies?[0], null);
            verdict = VerdictHead.Create(manifest, promptEncoder, options.ControversialAsUnsafe);
            if (options.ControversialAsUnsafe is not null && !verdict.HasControversial)
            {
                throw new ArgumentException($"GuardModelOptions.ControversialAsUnsafe is set, but the guard of '{manifest.FilePath}' has no 'controversial' verdict tokens.", nameof(options));
            }

            encoder = promptEncoder;
            if (policies is not null)
            {
                var encoders = new PromptEncoder[policies.Length];
                encoders[0] = promptEncoder;
                for (int i = 1; i < encoders.Length; i++)
                {
                    encoders[i] = PromptEncoder.Create(manifest, policies[i], promptEncoder);
                }

                encoder = new PolicyPromptEncoder(encoders);
                policyHead = new PolicyHead(policies, options.Categories);
            }
        }

        float[]? rows = null;
        int? hiddenSize = manifest.HiddenSize;
        CategoryHead? categoryHead = null;
        if (manifest.Categories is not null && options.Categories.Enabled)
        {
            categoryHead = CategoryHead.Load(manifest, options.Categories, (PromptEncoder)encoder);
            if (hiddenSize is { } declaredHidden && declaredHidden != categoryHead.HiddenSize)
            {
                throw new SafeRouteException($"The manifest '{manifest.FilePath}' declares hiddenSize {declaredHidden} but the category rows have {categoryHead.HiddenSize} columns.");
            }

            hiddenSize = categoryHead.HiddenSize;
        }

        if (manifest.Verdict?.Source == VerdictSource.LmHeadRows)
        {
            (rows, int rowsHidden) = LoadVerdictRows(manifest, verdict!.Count);
            if (hiddenSize is { } declared && declared != rowsHidden)
            {
                throw new SafeRouteException($"The manifest '{manifest.FilePath}' declares hiddenSize {declared} but the lm_head rows in '{manifest.Resolve(manifest.Verdict.LmHeadRows!)}' have {rowsHidden} columns.");
            }

            hiddenSize = rowsHidden;
        }

        string onnxPath = manifest.Resolve(manifest.Onnx);
        if (!File.Exists(onnxPath))
        {
            throw new SafeRouteException($"The ONNX model '{onnxPath}' named by '{manifest.FilePath}' does not exist.");
        }

        (SessionOptions sessionOptions, ExecutionProvider provider) = OnnxSessionFactory.CreateSessionOptions(options, modelName);
        InferenceSession session;
        try
        {
            session = new InferenceSession(onnxPath, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new SafeRouteException($"The ONNX model '{onnxPath}' could not be loaded: {ex.Message}", ex);
        }
        finally
        {
            sessionOptions.Dispose();
        }

        try
        {
            hiddenSize = manifest.ModelKind == GuardModelKind.Classifier
                ? ClassifierHead.ValidateGraph(manifest, session, onnxPath, hiddenSize)
                : ValidateGraph(manifest, verdict!, session, onnxPath, hiddenSize);
            ValidateContextLength(manifest, session, onnxPath, lengthOverridden);
            return new OnnxSafetyGuard(manifest, encoder, session, verdict, rows, hiddenSize, tier, options, provider, categoryHead, policyHead);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public ValueTask<SafetyVerdict> EvaluateAsync(SafetyRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_calls.IsClosed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (_batcher is not null)
        {
            return EvaluateBatchedAsync(_batcher.EnqueueAsync(_encoder.Encode(request, cancellationToken), wantFeatures: false, cancellationToken));
        }

        if (_encoder is not PromptEncoder promptEncoder || _categories is not null)
        {
            // Classifiers (windows) and guards with a category pass take the batch path.
            return new ValueTask<SafetyVerdict>(ToVerdict(ForwardBatch([request], wantFeatures: false, cancellationToken)[0]));
        }

        // The ids stay in this thread's encoder buffer: nothing between encoding and the run encodes again.
        ReadOnlySpan<int> ids = promptEncoder.EncodeTransient(request, out bool truncated, cancellationToken);
        GuardOutput output = default;
        RunChunk([], ids, truncated, new Span<GuardOutput>(ref output), wantFeatures: false, cancellationToken);
        return new ValueTask<SafetyVerdict>(ToVerdict(output));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SafetyVerdict>> EvaluateBatchAsync(IReadOnlyList<SafetyRequest> requests, CancellationToken cancellationToken = default)
    {
        GuardOutput[] outputs = ForwardBatch(requests, wantFeatures: false, cancellationToken);
        var verdicts = new SafetyVerdict[outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            verdicts[i] = ToVerdict(outputs[i]);
        }

        return new ValueTask<IReadOnlyList<SafetyVerdict>>(verdicts);
    }

    /// <inheritdoc/>
    [System.Diagnostics.CodeAnalysis.Experimental(DiagnosticIds.Scoring)]
    public ValueTask<IReadOnlyList<GuardScore>> ScoreBatchAsync(IReadOnlyList<SafetyRequest> requests, bool includeFeatures, CancellationToken cancellationToken = default)
    {
        ValueTask<GuardOutput[]> pending = ForwardBatchAsync(requests, includeFeatures, cancellationToken);
        return pending.IsCompletedSuccessfully ? new ValueTask<IReadOnlyList<GuardScore>>(ToScores(pending.Result)) : AwaitScoresAsync(pending);

        static async ValueTask<IReadOnlyList<GuardScore>> AwaitScoresAsync(ValueTask<GuardOutput[]> pending) => ToScores(await pending.ConfigureAwait(false));
    }

    private static GuardScore[] ToScores(GuardOutput[] outputs)
    {
        var scores = new GuardScore[outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            scores[i] = outputs[i].ToScore();
        }

        return scores;
    }

    /// <summary>Runs the model once on a fixed benign input so that the first real request does not pay for
    /// ONNX Runtime's lazy initialisation (memory planning, kernel selection).</summary>
    /// <param name="cancellationToken">Cancels the warm-up run.</param>
    /// <returns>A task that completes when the warm-up run has.</returns>
    /// <exception cref="ObjectDisposedException">The guard has been disposed.</exception>
    /// <exception cref="SafeRouteException">The model failed to run.</exception>
    public async ValueTask WarmUpAsync(CancellationToken cancellationToken = default)
    {
        _ = await EvaluateAsync(new SafetyRequest(WarmUpText), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>Safe while calls are in flight: new calls fail with <see cref="ObjectDisposedException"/>, runs in flight
    /// are terminated (their callers get <see cref="ObjectDisposedException"/>, a run that already finished returns its
    /// verdict), and this method blocks until every one of them has left the session; then it releases the session. A
    /// second or concurrent call waits for the first one to finish.</remarks>
    public void Dispose()
    {
        if (!BeginDispose())
        {
            _released.Task.Wait();
            return;
        }

        try
        {
            // The batcher first: it fails queued callers and waits for the batches in flight (terminated above).
            _batcher?.Dispose();
            _calls.Drained.Wait();
            ReleaseRuntime();
        }
        finally
        {
            _released.TrySetResult();
        }
    }

    /// <inheritdoc/>
    /// <remarks>Like <see cref="Dispose"/>, but waits for the calls and batches in flight without blocking a thread.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (!BeginDispose())
        {
            await _released.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            if (_batcher is not null)
            {
                await _batcher.DisposeAsync().ConfigureAwait(false);
            }

            await _calls.Drained.ConfigureAwait(false);
            ReleaseRuntime();
        }
        finally
        {
            _released.TrySetResult();
        }
    }

    /// <summary>Refuses new calls and terminates the runs in flight; false when disposal had already begun.</summary>
    private bool BeginDispose()
    {
        if (!_calls.Close())
        {
            return false;
        }

        // Runs in flight end at their next node with an ONNX Runtime error, which RunChunk reports as
        // ObjectDisposedException. The RunOptions stay alive until the gate has drained.
        _sharedRunOptions.Terminate = true;
        _terminate.Cancel();
        return true;
    }

    /// <summary>Releases the ONNX Runtime objects, once no call uses them any more.</summary>
    private void ReleaseRuntime()
    {
        _session.Dispose();
        _sharedRunOptions.Dispose();
        _terminate.Dispose();
    }

    private ObjectDisposedException DisposedWhileRunning(Exception inner) =>
        new($"Guard model '{Name}' was disposed while this call was running.", inner);

    /// <inheritdoc/>
    public override string ToString() => $"OnnxSafetyGuard {{ Name = {Name}, Tier = {Tier}, Provider = {Provider} }}";

    internal GuardOutput[] ForwardBatch(IReadOnlyList<SafetyRequest> requests, bool wantFeatures, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ObjectDisposedException.ThrowIf(_calls.IsClosed, this);
        cancellationToken.ThrowIfCancellationRequested();
        var encoded = new EncodedPrompt[requests.Count];
        for (int i = 0; i < encoded.Length; i++)
        {
            SafetyRequest request = requests[i] ?? throw new ArgumentNullException(nameof(requests), $"requests[{i}] is null.");
            encoded[i] = _encoder.Encode(request, cancellationToken);
        }

        return Forward(encoded, wantFeatures, cancellationToken);
    }

    /// <summary>Like <see cref="ForwardBatch"/>, but a single request goes through the micro-batcher when it is on.</summary>
    internal ValueTask<GuardOutput[]> ForwardBatchAsync(IReadOnlyList<SafetyRequest> requests, bool wantFeatures, CancellationToken cancellationToken)
    {
        if (_batcher is null || requests is not { Count: 1 })
        {
            return new ValueTask<GuardOutput[]>(ForwardBatch(requests, wantFeatures, cancellationToken));
        }

        ObjectDisposedException.ThrowIf(_calls.IsClosed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (wantFeatures && !HasFeatures)
        {
            throw new InvalidOperationException($"Guard model '{Name}' exposes no hidden-state output ('hiddenStateOutput' in its manifest), so a feature router cannot read it.");
        }

        SafetyRequest request = requests[0] ?? throw new ArgumentNullException(nameof(requests), "requests[0] is null.");
        return OneBatchedAsync(_batcher.EnqueueAsync(_encoder.Encode(request, cancellationToken), wantFeatures, cancellationToken));

        static async ValueTask<GuardOutput[]> OneBatchedAsync(Task<GuardOutput> pending) => [await pending.ConfigureAwait(false)];
    }

    internal GuardOutput ForwardRaw(string prompt, string? response, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_calls.IsClosed, this);
        return ForwardOne(_encoder.EncodeRaw(prompt, response, cancellationToken), wantFeatures: false, cancellationToken);
    }

    /// <summary>Runs one encoded prompt (no arrays allocated around it).</summary>
    internal GuardOutput ForwardOne(EncodedPrompt encoded, bool wantFeatures, CancellationToken cancellationToken)
    {
        if (wantFeatures && !HasFeatures)
        {
            throw new InvalidOperationException($"Guard model '{Name}' exposes no hidden-state output ('hiddenStateOutput' in its manifest), so a feature router cannot read it.");
        }

        if (_policies is not null)
        {
            // One row per policy: the per-policy path (contextual calibration's content-free input, too).
            return Forward([encoded], wantFeatures, cancellationToken)[0];
        }

        GuardOutput output = default;
        RunChunk(new ReadOnlySpan<EncodedPrompt>(in encoded), default, false, new Span<GuardOutput>(ref output), wantFeatures, cancellationToken);
        return output;
    }

    internal GuardOutput[] Forward(EncodedPrompt[] encoded, bool wantFeatures, CancellationToken cancellationToken)
    {
        if (wantFeatures && !HasFeatures)
        {
            throw new InvalidOperationException($"Guard model '{Name}' exposes no hidden-state output ('hiddenStateOutput' in its manifest), so a feature router cannot read it.");
        }

        if (_policies is not null)
        {
            return ForwardPolicies(encoded, wantFeatures, cancellationToken);
        }

        GuardOutput[] results = Array.Exists(encoded, e => e.MoreWindows is not null)
            ? ForwardWindows(encoded, wantFeatures, cancellationToken)
            : ForwardRows(encoded, wantFeatures, cancellationToken);
        return _categories is null ? results : AddCategories(encoded, results, cancellationToken);
    }

    /// <summary>
    /// Per-policy guards: every policy of every input is one row, and all rows go through the usual length-sorted
    /// batching together (one ONNX Runtime run when they fit <see cref="GuardModelOptions.MaxBatchSize"/> and the padding
    /// rule; otherwise in groups of similar length, as any batch). The prompt prefix
    /// the policies share is computed once per row, not once per input: the exports SafeRoute runs take no
    /// past_key_values (a "-with-past" export would need key/value inputs and outputs per layer, a second graph or
    /// branch for the prefix, and its cache tiled across the policy rows), so sharing it is left to a later change.
    /// </summary>
    /// <remarks>The router features of an input are the mean, over all its policies (ignored ones included), of each
    /// pass's last-token hidden state: a fixed-size summary of every pass, independent of policy order and of which
    /// categories a deployment ignores, so that a router trained on them sees the same features whatever the category
    /// options. A router must be trained with the same policy list it is used with.</remarks>
    private GuardOutput[] ForwardPolicies(EncodedPrompt[] encoded, bool wantFeatures, CancellationToken cancellationToken)
    {
        int n = _policies!.Count;
        var rows = new EncodedPrompt[encoded.Length * n];
        for (int i = 0; i < encoded.Length; i++)
        {
            EncodedPrompt[] policyRows = encoded[i].PolicyRows ?? throw new InvalidOperationException("A per-policy guard got a prompt without policy rows.");
            policyRows.CopyTo(rows, i * n);
        }

        GuardOutput[] outputs = ForwardRows(rows, wantFeatures, cancellationToken);
        var results = new GuardOutput[encoded.Length];
        for (int i = 0; i < encoded.Length; i++)
        {
            ReadOnlySpan<GuardOutput> passes = outputs.AsSpan(i * n, n);
            float[]? features = null;
            if (wantFeatures)
            {
                var sum = new double[passes[0].Features!.Length];
                foreach (GuardOutput pass in passes)
                {
                    float[] h = pass.Features!;
                    for (int j = 0; j < sum.Length; j++)
                    {
                        sum[j] += h[j];
                    }
                }

                features = new float[sum.Length];
                for (int j = 0; j < sum.Length; j++)
                {
                    features[j] = (float)(sum[j] / n);
                }
            }

            (float safe, float @unsafe, CategoryScore[] categories) = _policies.Score(passes);
            results[i] = new GuardOutput(safe, @unsafe, features, encoded[i].Truncated, categories);
        }

        return results;
    }

    /// <summary>Classifiers: every window of every input in one batch; per input, the window with the highest p(unsafe) decides.</summary>
    private GuardOutput[] ForwardWindows(EncodedPrompt[] encoded, bool wantFeatures, CancellationToken cancellationToken)
    {
        var rows = new List<EncodedPrompt>(encoded.Length * 2);
        var owners = new List<int>(encoded.Length * 2);
        for (int i = 0; i < encoded.Length; i++)
        {
            rows.Add(encoded[i] with { MoreWindows = null });
            owners.Add(i);
            foreach (EncodedPrompt window in encoded[i].MoreWindows ?? [])
            {
                rows.Add(window);
                owners.Add(i);
            }
        }

        GuardOutput[] outputs = ForwardRows([.. rows], wantFeatures, cancellationToken);
        var results = new GuardOutput[encoded.Length];
        var seen = new bool[encoded.Length];
        for (int r = 0; r < outputs.Length; r++)
        {
            int i = owners[r];
            if (!seen[i] || outputs[r].UnsafeProbability > results[i].UnsafeProbability)
            {
                results[i] = outputs[r];
                seen[i] = true;
            }
        }

        for (int i = 0; i < results.Length; i++)
        {
            if (encoded[i].Truncated && !results[i].Truncated)
            {
                GuardOutput o = results[i];
                results[i] = new GuardOutput(o.SafeLogit, o.UnsafeLogit, o.Features, truncated: true, o.Categories);
            }
        }

        return results;
    }

    /// <summary>Llama Guard 3 categories: one more pass, over the unsafe rows only, with the category prefix appended.</summary>
    private GuardOutput[] AddCategories(EncodedPrompt[] encoded, GuardOutput[] results, CancellationToken cancellationToken)
    {
        List<int>? unsafeRows = null;
        for (int i = 0; i < results.Length; i++)
        {
            if (results[i].UnsafeProbability > VerdictMath.DecisionThreshold)
            {
                (unsafeRows ??= []).Add(i);
            }
        }

        if (unsafeRows is null)
        {
            return results;
        }

        var extended = new EncodedPrompt[unsafeRows.Count];
        for (int k = 0; k < extended.Length; k++)
        {
            extended[k] = new EncodedPrompt(_categories!.Extend(encoded[unsafeRows[k]].TokenIds), false);
        }

        GuardOutput[] hidden = ForwardRows(extended, wantFeatures: true, cancellationToken);
        for (int k = 0; k < extended.Length; k++)
        {
            int i = unsafeRows[k];
            GuardOutput o = results[i];
            (CategoryScore[] categories, float p) = _categories!.Score(hidden[k].Features, o.UnsafeProbability);
            // Ignored categories lower p: the verdict logits become its log-odds; otherwise the model's own logits stay.
            (float safe, float @unsafe) = p == o.UnsafeProbability ? (o.SafeLogit, o.UnsafeLogit) : LogOdds(p);
            results[i] = new GuardOutput(safe, @unsafe, o.Features, o.Truncated, categories);
        }

        return results;
    }

    private static (float Safe, float Unsafe) LogOdds(float p)
    {
        GuardScore score = GuardScore.FromProbability(p);
        return (score.SafeLogit, score.UnsafeLogit);
    }

    private GuardOutput[] ForwardRows(EncodedPrompt[] encoded, bool wantFeatures, CancellationToken cancellationToken)
    {
        var results = new GuardOutput[encoded.Length];
        if (encoded.Length == 1)
        {
            RunChunk(encoded, default, false, results, wantFeatures, cancellationToken);
            return results;
        }

        // Rows sorted by length and cut into runs of similar length: padding every row to the longest of a random
        // mix (chat inputs range from a few to hundreds of tokens) would cost more than the batching saves.
        int[] order = new int[encoded.Length];
        int[] lengths = new int[encoded.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
            lengths[i] = encoded[i].TokenIds.Length;
        }

        Array.Sort(lengths, order);
        var sorted = new EncodedPrompt[encoded.Length];
        for (int i = 0; i < order.Length; i++)
        {
            sorted[i] = encoded[order[i]];
        }

        var sortedResults = new GuardOutput[encoded.Length];
        int start = 0;
        while (start < sorted.Length)
        {
            int count = 1;
            long tokens = lengths[start];
            while (start + count < sorted.Length && count < _maxBatchSize)
            {
                int next = lengths[start + count];
                if ((long)(count + 1) * next > (PaddingSlack * (tokens + next)) + PaddingAllowance)
                {
                    break;
                }

                tokens += next;
                count++;
            }

            RunChunk(sorted.AsSpan(start, count), default, false, sortedResults.AsSpan(start, count), wantFeatures, cancellationToken);
            start += count;
        }

        for (int i = 0; i < order.Length; i++)
        {
            results[order[i]] = sortedResults[i];
        }

        return results;
    }

    /// <summary>A run's padded size (rows × longest row) may be up to this factor of its real tokens (plus
    /// <see cref="PaddingAllowance"/>); a longer row starts the next run.</summary>
    private const double PaddingSlack = 2.0;

    private const int PaddingAllowance = 16;

    /// <summary>Runs one padded batch: the rows of <paramref name="rows"/>, or, when it is empty, the single row
    /// <paramref name="singleIds"/> (which may live in the encoder's per-thread buffer).</summary>
    private void RunChunk(ReadOnlySpan<EncodedPrompt> rows, ReadOnlySpan<int> singleIds, bool singleTruncated, Span<GuardOutput> results, bool wantFeatures, CancellationToken cancellationToken)
    {
        // Every native object a run touches (its OrtValues, RunOptions, the session, the outputs) is used inside the
        // gate, so disposal cannot release the session under a run.
        if (!_calls.TryEnter())
        {
            throw new ObjectDisposedException(GetType().FullName, $"Guard model '{Name}' has been disposed.");
        }

        try
        {
            RunChunkInGate(rows, singleIds, singleTruncated, results, wantFeatures, cancellationToken);
        }
        finally
        {
            _calls.Exit();
        }
    }

    private void RunChunkInGate(ReadOnlySpan<EncodedPrompt> rows, ReadOnlySpan<int> singleIds, bool singleTruncated, Span<GuardOutput> results, bool wantFeatures, CancellationToken cancellationToken)
    {
        bool single = rows.IsEmpty;
        int batch = single ? 1 : rows.Length;
        int seq = Math.Max(1, singleIds.Length);
        foreach (EncodedPrompt row in rows)
        {
            seq = Math.Max(seq, row.TokenIds.Length);
        }

        // Left padding: the last position is a real token in every row. Buffers come from the pool and ONNX Runtime
        // reads them in place (pinned for the run), so a call allocates no tensor memory of its own.
        int total = batch * seq;
        long[] ids = ArrayPool<long>.Shared.Rent(total);
        long[] mask = ArrayPool<long>.Shared.Rent(total);
        long[] positions = ArrayPool<long>.Shared.Rent(total);
        // Per-thread shape and input arrays: ONNX Runtime copies the shape, and the run ends before this method does.
        OrtValue?[] inputValues = (t_inputValues ??= new OrtValue?[4][])[_inputNames.Length] ??= new OrtValue?[_inputNames.Length];
        long[] shape = t_shape ??= new long[2];
        RunOptions? ownRunOptions = null;
        try
        {
            long pad = _manifest.PadTokenId;
            for (int r = 0; _classifier is not null && r < batch; r++)
            {
                // Classifiers: right padding, token type ids in the third buffer.
                EncodedPrompt row = rows[r];
                int rowStart = r * seq;
                int length = row.TokenIds.Length;
                for (int j = 0; j < length; j++)
                {
                    ids[rowStart + j] = row.TokenIds[j];
                    mask[rowStart + j] = 1;
                    positions[rowStart + j] = row.TypeIds is { } types ? types[j] : 0;
                }

                ids.AsSpan(rowStart + length, seq - length).Fill(pad);
                mask.AsSpan(rowStart + length, seq - length).Clear();
                positions.AsSpan(rowStart + length, seq - length).Clear();
            }

            for (int r = 0; _classifier is null && r < batch; r++)
            {
                ReadOnlySpan<int> tokens = single ? singleIds : rows[r].TokenIds;
                int offset = seq - tokens.Length;
                int rowStart = r * seq;
                ids.AsSpan(rowStart, offset).Fill(pad);
                mask.AsSpan(rowStart, offset).Clear();
                positions.AsSpan(rowStart, offset).Clear();
                for (int j = 0; j < tokens.Length; j++)
                {
                    ids[rowStart + offset + j] = tokens[j];
                    mask[rowStart + offset + j] = 1;
                    positions[rowStart + offset + j] = j;
                }
            }

            shape[0] = batch;
            shape[1] = seq;
            inputValues[0] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<long>(ids, 0, total), shape);
            int next = 1;
            if (_attentionMaskName is not null)
            {
                inputValues[next++] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<long>(mask, 0, total), shape);
            }

            if (_positionIdsName is not null)
            {
                inputValues[next] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<long>(positions, 0, total), shape);
            }

            // One RunOptions per cancellable call (Terminate is per RunOptions); calls that cannot be cancelled share one.
            RunOptions runOptions = cancellationToken.CanBeCanceled ? (ownRunOptions = new RunOptions()) : _sharedRunOptions;
            IDisposableReadOnlyCollection<OrtValue> outputs;
            using (cancellationToken.CanBeCanceled ? cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, runOptions) : default)
            using (ownRunOptions is not null ? _terminate.Token.UnsafeRegister(static state => ((RunOptions)state!).Terminate = true, ownRunOptions) : default)
            {
                try
                {
                    Interlocked.Increment(ref _runCount);
                    RunObserver?.Invoke(batch);
                    outputs = _session.Run(runOptions, _inputNames, inputValues!, _outputNames);
                }
                catch (OnnxRuntimeException ex) when (cancellationToken.IsCancellationRequested)
                {
                    // RunOptions.Terminate stopped the run in flight.
                    throw new OperationCanceledException($"The run of guard model '{Name}' was cancelled.", ex, cancellationToken);
                }
                catch (OnnxRuntimeException ex) when (_calls.IsClosed)
                {
                    // Disposal terminated the run in flight.
                    throw DisposedWhileRunning(ex);
                }
                catch (OnnxRuntimeException ex)
                {
                    throw new SafeRouteException($"Guard model '{Name}' failed to run: {ex.Message}", ex);
                }
            }

            using (outputs)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ReadOutputs(outputs, rows, singleTruncated, results, batch, seq, wantFeatures);
            }
        }
        finally
        {
            for (int i = 0; i < inputValues.Length; i++)
            {
                inputValues[i]?.Dispose();
                inputValues[i] = null;
            }

            ownRunOptions?.Dispose();
            ArrayPool<long>.Shared.Return(ids);
            ArrayPool<long>.Shared.Return(mask);
            ArrayPool<long>.Shared.Return(positions);
        }
    }

    private void ReadOutputs(IDisposableReadOnlyCollection<OrtValue> outputs, ReadOnlySpan<EncodedPrompt> rows, bool singleTruncated, Span<GuardOutput> results, int batch, int seq, bool wantFeatures)
    {
        if (_classifier is not null)
        {
            ReadClassifierOutputs(outputs, rows, results, batch, seq, wantFeatures);
            return;
        }

        ReadOnlySpan<float> hidden = default;
        int hiddenSize = 0;
        if (_hiddenOutputIndex >= 0)
        {
            OrtValue hiddenValue = outputs[_hiddenOutputIndex];
            ReadOnlySpan<float> data = hiddenValue.GetTensorDataAsSpan<float>();
            if (_hiddenSize is { } expectedHidden && data.Length == (long)batch * seq * expectedHidden)
            {
                // The usual case, checked without asking ONNX Runtime for the shape (which allocates): the element
                // count matches [batch, seq, H] with the known H.
                hiddenSize = expectedHidden;
                hidden = data;
            }
            else
            {
                ReadHiddenShape(hiddenValue, batch, seq, ref hiddenSize, ref hidden);
            }
        }

        ReadOnlySpan<float> logits = default;
        int vocab = 0;
        if (_logitsOutputIndex >= 0)
        {
            OrtValue logitsValue = outputs[_logitsOutputIndex];
            long[] logitsShape = logitsValue.GetTensorTypeAndShape().Shape;
            if (logitsShape.Length != 3 || logitsShape[0] != batch || logitsShape[1] != seq)
            {
                throw new SafeRouteException($"Guard model '{Name}': output '{_manifest.Verdict!.LogitsOutput}' has shape [{string.Join(", ", logitsShape)}]; expected [{batch}, {seq}, vocab].");
            }

            vocab = (int)logitsShape[2];
            if (_verdict!.MaxTokenId >= vocab)
            {
                throw new SafeRouteException($"Guard model '{Name}': the verdict token ids ({_verdict.Describe()}) are outside the logits' vocabulary of {vocab}.");
            }

            logits = logitsValue.GetTensorDataAsSpan<float>();
        }

        VerdictHead head = _verdict!;
        int[] tokenIds = head.TokenIds;
        Span<float> z = tokenIds.Length <= 64 ? stackalloc float[tokenIds.Length] : new float[tokenIds.Length];
        for (int r = 0; r < batch; r++)
        {
            ReadOnlySpan<float> h = hiddenSize > 0 ? hidden.Slice(((r * seq) + seq - 1) * hiddenSize, hiddenSize) : default;
            if (_logitsOutputIndex >= 0)
            {
                ReadOnlySpan<float> last = logits.Slice(((r * seq) + seq - 1) * vocab, vocab);
                for (int t = 0; t < tokenIds.Length; t++)
                {
                    z[t] = last[tokenIds[t]];
                }
            }
            else
            {
                for (int t = 0; t < tokenIds.Length; t++)
                {
                    z[t] = TensorPrimitives.Dot(h, _verdictRows.AsSpan(t * hiddenSize, hiddenSize));
                }

                if (_softcap > 0)
                {
                    // Gemma 2's final_logit_softcapping, as its head applies it to every logit before the softmax.
                    for (int t = 0; t < tokenIds.Length; t++)
                    {
                        z[t] = _softcap * MathF.Tanh(z[t] / _softcap);
                    }
                }
            }

            (float safe, float @unsafe) = head.Combine(z);

            if (!float.IsFinite(safe) || !float.IsFinite(@unsafe))
            {
                throw new SafeRouteException($"Guard model '{Name}' produced non-finite verdict logits ({safe}, {@unsafe}); refusing to return a verdict.");
            }

            results[r] = new GuardOutput(safe, @unsafe, wantFeatures ? h.ToArray() : null, rows.IsEmpty ? singleTruncated : rows[r].Truncated);
        }
    }

    private void ReadClassifierOutputs(IDisposableReadOnlyCollection<OrtValue> outputs, ReadOnlySpan<EncodedPrompt> rows, Span<GuardOutput> results, int batch, int seq, bool wantFeatures)
    {
        OrtValue logitsValue = outputs[_logitsOutputIndex];
        ReadOnlySpan<float> logits = logitsValue.GetTensorDataAsSpan<float>();
        int labels = _classifier!.Labels;
        if (logits.Length != (long)batch * labels)
        {
            long[] shape = logitsValue.GetTensorTypeAndShape().Shape;
            throw new SafeRouteException($"Guard model '{Name}': output '{_manifest.Classifier!.LogitsOutput}' has shape [{string.Join(", ", shape)}]; expected [{batch}, {labels}].");
        }

        ReadOnlySpan<float> features = default;
        int featureSize = 0;
        int featureStride = 0;
        if (wantFeatures)
        {
            OrtValue featuresValue = outputs[_hiddenOutputIndex];
            long[] shape = featuresValue.GetTensorTypeAndShape().Shape;
            bool pooled = shape.Length == 2 && shape[0] == batch;
            bool sequence = shape.Length == 3 && shape[0] == batch && shape[1] == seq;
            if (!pooled && !sequence)
            {
                throw new SafeRouteException($"Guard model '{Name}': output '{_manifest.Classifier!.FeaturesOutput}' has shape [{string.Join(", ", shape)}]; expected [{batch}, H] or [{batch}, {seq}, H].");
            }

            featureSize = (int)shape[^1];
            if (_hiddenSize is { } known && known != featureSize)
            {
                throw new SafeRouteException($"Guard model '{Name}': output '{_manifest.Classifier!.FeaturesOutput}' has {featureSize} features, but {known} were expected.");
            }

            _hiddenSize ??= featureSize;
            featureStride = pooled ? featureSize : seq * featureSize; // [batch, seq, H]: the first token of each row
            features = featuresValue.GetTensorDataAsSpan<float>();
        }

        for (int r = 0; r < batch; r++)
        {
            ReadOnlySpan<float> row = logits.Slice(r * labels, labels);
            foreach (float z in row)
            {
                if (!float.IsFinite(z))
                {
                    throw new SafeRouteException($"Guard model '{Name}' produced non-finite logits; refusing to return a verdict.");
                }
            }

            (float safe, float @unsafe, CategoryScore[]? categories) = _classifier.Score(row);
            float[]? f = wantFeatures ? features.Slice(r * featureStride, featureSize).ToArray() : null;
            results[r] = new GuardOutput(safe, @unsafe, f, rows[r].Truncated, categories);
        }
    }

    private void ReadHiddenShape(OrtValue hiddenValue, int batch, int seq, ref int hiddenSize, ref ReadOnlySpan<float> hidden)
    {
        long[] hiddenShape = hiddenValue.GetTensorTypeAndShape().Shape;
        if (hiddenShape.Length != 3 || hiddenShape[0] != batch || hiddenShape[1] != seq)
        {
            throw new SafeRouteException($"Guard model '{Name}': output '{_manifest.HiddenStateOutput}' has shape [{string.Join(", ", hiddenShape)}]; expected [{batch}, {seq}, H].");
        }

        hiddenSize = (int)hiddenShape[2];
        if (_hiddenSize is { } known && known != hiddenSize)
        {
            throw new SafeRouteException($"Guard model '{Name}': output '{_manifest.HiddenStateOutput}' has hidden size {hiddenSize}, but {known} was expected from the manifest and lm_head rows.");
        }

        _hiddenSize ??= hiddenSize;
        hidden = hiddenValue.GetTensorDataAsSpan<float>();
    }

    private async ValueTask<SafetyVerdict> EvaluateBatchedAsync(Task<GuardOutput> pending) => ToVerdict(await pending.ConfigureAwait(false));

    private SafetyVerdict ToVerdict(GuardOutput output)
    {
        float p = output.UnsafeProbability;
        return new SafetyVerdict
        {
            IsUnsafe = p > VerdictMath.DecisionThreshold,
            UnsafeProbability = p,
            DecidedBy = Tier,
            WasTruncated = output.Truncated,
            ModelName = Name,
            Categories = output.Categories,
        };
    }

    private static (float[] Rows, int HiddenSize) LoadVerdictRows(GuardManifest manifest, int count)
    {
        string path = manifest.Resolve(manifest.Verdict!.LmHeadRows!);
        if (!File.Exists(path))
        {
            throw new SafeRouteException($"The lm_head rows file '{path}' named by '{manifest.FilePath}' does not exist.");
        }

        var (tensors, _) = Safetensors.Read(path);
        if (!tensors.TryGetValue("lm_head_rows", out SafetensorsTensor? tensor))
        {
            throw new SafeRouteException($"The lm_head rows file '{path}' has no tensor 'lm_head_rows' (found: {string.Join(", ", tensors.Keys)}).");
        }

        if (tensor.Shape.Length != 2 || tensor.Shape[0] != count || tensor.Shape[1] < 1)
        {
            string rows = count == 2 ? "row 0: safe token, row 1: unsafe token" : "one row per verdict token, in the manifest's order: safe tokens, then unsafe, then controversial";
            throw new SafeRouteException($"The tensor 'lm_head_rows' in '{path}' has shape [{string.Join(", ", tensor.Shape)}]; expected [{count}, H] ({rows}).");
        }

        foreach (float value in tensor.Data)
        {
            if (!float.IsFinite(value))
            {
                throw new SafeRouteException($"The tensor 'lm_head_rows' in '{path}' contains non-finite values.");
            }
        }

        int h = tensor.Shape[1];
        bool allEqual = true;
        for (int row = 1; row < count && allEqual; row++)
        {
            allEqual = tensor.Data.AsSpan(0, h).SequenceEqual(tensor.Data.AsSpan(row * h, h));
        }

        if (allEqual)
        {
            string which = Array.TrueForAll(tensor.Data, v => v == 0f) ? (count == 2 ? "are both all zero" : "are all zero") : (count == 2 ? "are equal" : "are all equal");
            string rowsName = count == 2 ? "safe and unsafe rows" : "verdict rows";
            throw new SafeRouteException($"The tensor 'lm_head_rows' in '{path}' is degenerate: its {rowsName} {which}, so every verdict would be {(count == 2 ? "p = 0.5" : "the same p")}.");
        }

        return (tensor.Data, tensor.Shape[1]);
    }

    /// <summary>The ONNX metadata key (model <c>metadata_props</c>) through which an exporter states how many positions
    /// the graph supports (the rows of its position table, or its trained context).</summary>
    internal const string MaxPositionsMetadataKey = "max_position_embeddings";

    /// <summary>Rejects a context longer than the graph supports, where the graph says so: a fixed sequence dimension on
    /// an input, or the <see cref="MaxPositionsMetadataKey"/> metadata entry. A graph that says neither (dynamic
    /// sequence axes, no entry) is not checked: ONNX Runtime's metadata does not expose initializer shapes.</summary>
    private static void ValidateContextLength(GuardManifest manifest, InferenceSession session, string onnxPath, bool lengthOverridden)
    {
        int length = manifest.MaxSequenceLength;
        string source = lengthOverridden ? "GuardModelOptions.MaxSequenceLength" : $"'maxSequenceLength' in '{manifest.FilePath}'";
        foreach (KeyValuePair<string, NodeMetadata> input in session.InputMetadata)
        {
            int[] dims = input.Value.Dimensions;
            if (dims.Length >= 2 && dims[1] > 0 && length > dims[1])
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}': input '{input.Key}' has a fixed sequence length of {dims[1]}, but {source} is {length}.");
            }
        }

        Dictionary<string, string> metadata = session.ModelMetadata.CustomMetadataMap;

        if (metadata.TryGetValue(MaxPositionsMetadataKey, out string? value))
        {
            if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long positions) || positions < 1)
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}' has metadata '{MaxPositionsMetadataKey}' = '{value}', which is not a positive integer.");
            }

            if (length > positions)
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}' supports {positions} positions (metadata '{MaxPositionsMetadataKey}'), but {source} is {length}.");
            }
        }
    }

    private static int? ValidateGraph(GuardManifest manifest, VerdictHead verdict, InferenceSession session, string onnxPath, int? hiddenSize)
    {
        IReadOnlyDictionary<string, NodeMetadata> inputs = session.InputMetadata;
        IReadOnlyDictionary<string, NodeMetadata> outputs = session.OutputMetadata;
        string Names(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));

        if (!inputs.TryGetValue(manifest.Inputs.InputIds, out NodeMetadata? idsMeta))
        {
            throw new SafeRouteException($"The ONNX model '{onnxPath}' has no input '{manifest.Inputs.InputIds}' (inputs: {Names(inputs.Keys)}).");
        }

        if (idsMeta.ElementDataType != TensorElementType.Int64)
        {
            throw new SafeRouteException($"The ONNX model '{onnxPath}': input '{manifest.Inputs.InputIds}' is {idsMeta.ElementDataType}; expected int64.");
        }

        var known = new HashSet<string>(StringComparer.Ordinal) { manifest.Inputs.InputIds };
        if (manifest.Inputs.AttentionMask is { } maskName)
        {
            if (!inputs.ContainsKey(maskName))
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}' has no input '{maskName}' (inputs: {Names(inputs.Keys)}); batches need an attention mask. Set inputs.attentionMask to null in '{manifest.FilePath}' only if the graph takes none.");
            }

            known.Add(maskName);
        }

        if (manifest.Inputs.PositionIds is { } posName)
        {
            known.Add(posName);
        }

        string[] unknown = [.. inputs.Keys.Where(k => !known.Contains(k))];
        if (unknown.Length > 0)
        {
            throw new SafeRouteException($"The ONNX model '{onnxPath}' has inputs SafeRoute cannot feed: {Names(unknown)}. Export the guard without past key values (Optimum task 'feature-extraction' or 'text-generation', not '-with-past').");
        }

        if (manifest.Verdict!.Source == VerdictSource.LmHeadRows)
        {
            if (!outputs.TryGetValue(manifest.HiddenStateOutput!, out NodeMetadata? hiddenMeta))
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}' has no output '{manifest.HiddenStateOutput}' (outputs: {Names(outputs.Keys)}), which '{manifest.FilePath}' names as hiddenStateOutput.");
            }

            CheckHidden(hiddenMeta);
        }
        else
        {
            if (!outputs.TryGetValue(manifest.Verdict.LogitsOutput!, out NodeMetadata? logitsMeta))
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}' has no output '{manifest.Verdict.LogitsOutput}' (outputs: {Names(outputs.Keys)}), which '{manifest.FilePath}' names as verdict.logitsOutput.");
            }

            int[] dims = logitsMeta.Dimensions;
            if (dims.Length != 3)
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}': output '{manifest.Verdict.LogitsOutput}' has rank {dims.Length}; expected [batch, seq, vocab].");
            }

            if (dims[2] > 0 && verdict.MaxTokenId >= dims[2])
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}': the verdict token ids ({verdict.Describe()}) are outside its vocabulary of {dims[2]}.");
            }

            if (manifest.HiddenStateOutput is { } hiddenName && outputs.TryGetValue(hiddenName, out NodeMetadata? hiddenMeta))
            {
                CheckHidden(hiddenMeta);
            }
        }

        return hiddenSize;

        void CheckHidden(NodeMetadata meta)
        {
            int[] dims = meta.Dimensions;
            if (meta.ElementDataType != TensorElementType.Float || dims.Length != 3)
            {
                throw new SafeRouteException($"The ONNX model '{onnxPath}': output '{manifest.HiddenStateOutput}' must be float [batch, seq, H]; it is {meta.ElementDataType} of rank {dims.Length}.");
            }

            if (dims[2] > 0)
            {
                if (hiddenSize is { } h && h != dims[2])
                {
                    throw new SafeRouteException($"The ONNX model '{onnxPath}': output '{manifest.HiddenStateOutput}' has hidden size {dims[2]}, but the manifest and lm_head rows of '{manifest.FilePath}' give {h}.");
                }

                hiddenSize = dims[2];
            }
        }
    }
}
