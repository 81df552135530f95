namespace SafeRoute.Tests.TestModels;

/// <summary>Which verdict outputs the test guard's graph has, and what its manifest's verdict source is.</summary>
internal enum TestVerdictOutputs
{
    /// <summary>Graph output <c>last_hidden_state</c> only; manifest verdict source "lmHeadRows" (verdict_rows.safetensors).</summary>
    LmHeadRows,

    /// <summary>Graph output <c>logits</c> [batch, seq, V+1] only; manifest verdict source "logits", hiddenStateOutput null.</summary>
    Logits,

    /// <summary>Graph outputs <c>last_hidden_state</c> AND <c>logits</c>; manifest verdict source "logits" with hiddenStateOutput set.</summary>
    LogitsAndHidden,
}

/// <summary>A deliberate defect in the written guard folder, for the library's error-path tests.</summary>
internal enum TestGuardFault
{
    None,

    /// <summary>model.onnx is garbage bytes.</summary>
    CorruptOnnx,

    /// <summary>The graph outputs its hidden states as <c>hidden_states</c>; the manifest still names <c>last_hidden_state</c>.</summary>
    MissingHiddenStateOutput,

    /// <summary>verdict_rows.safetensors holds "lm_head_rows" of shape [2, H + 1] (the graph and manifest say H).</summary>
    RowsHiddenSizeMismatch,

    /// <summary>The manifest's hiddenSize is H + 1 (the graph and the rows say H).</summary>
    ManifestHiddenSizeMismatch,

    /// <summary>
    /// The embedding rows of "poison" and " poison" are NaN: any input containing the word gets non-finite verdict
    /// logits (the guard refuses it), every other input is unaffected.
    /// </summary>
    PoisonedWord,
}

/// <summary>Options of <see cref="TestGuardFactory.Create"/>. Every field has a small, fast default.</summary>
internal sealed record TestGuardOptions
{
    /// <summary>H: the width of <c>last_hidden_state</c> and of the lm_head rows. At least 4.</summary>
    public int HiddenSize { get; init; } = 16;

    /// <summary>D: the embedding width. At least 4.</summary>
    public int EmbeddingDim { get; init; } = 8;

    /// <summary>Seed of every random weight (noise dimensions only; the decisive dimensions are fixed).</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>Whether the graph has a <c>position_ids</c> input (which then changes the hidden state, not the verdict).</summary>
    public bool WithPositionIds { get; init; } = true;

    public TestVerdictOutputs VerdictOutputs { get; init; } = TestVerdictOutputs.LmHeadRows;

    /// <summary>Manifest maxSequenceLength; also the number of rows of the position table (position ids must be below it).</summary>
    public int MaxSequenceLength { get; init; } = 256;

    /// <summary>Multiplies the verdict gain G = 6 · Strength (the unsafe-minus-safe logit is G · h[0]).</summary>
    public double Strength { get; init; } = 1.0;

    /// <summary>
    /// 0: borderline words carry almost no unsafe score (p(unsafe) ≈ 0.5, leaning safe). 1: they carry ±1 like trigger /
    /// benign words according to their true label (<see cref="TinyGuardVocabulary.BorderlineIsUnsafe"/>).
    /// </summary>
    public double BorderlineInsight { get; init; }

    /// <summary>Appends a chain of <see cref="SlowLayers"/> MatMul+Tanh over [batch, <see cref="SlowRows"/>, 512] that adds exactly 0 to the output.</summary>
    public bool Slow { get; init; }

    /// <summary>
    /// Like <see cref="Slow"/>, but the MatMul+Tanh step runs in a Loop of <see cref="long.MaxValue"/> iterations: a run
    /// never finishes by itself, only RunOptions.Terminate (cancellation) ends it. The model file stays small.
    /// </summary>
    public bool Endless { get; init; }

    public int SlowLayers { get; init; } = 60;

    public int SlowRows { get; init; } = 2048;

    public TestGuardFault Fault { get; init; } = TestGuardFault.None;

    /// <summary>Manifest "name".</summary>
    public string Name { get; init; } = "tiny-guard-small";

    /// <summary>The SMALL guard: H 16, D 8, borderline words undecided (p ≈ 0.5).</summary>
    public static TestGuardOptions Small => new();

    /// <summary>The LARGE guard: H 24, D 12, twice the gain, knows the true label of borderline words.</summary>
    public static TestGuardOptions Large => new()
    {
        HiddenSize = 24,
        EmbeddingDim = 12,
        Seed = 4321,
        Strength = 2.0,
        BorderlineInsight = 1.0,
        Name = "tiny-guard-large",
    };
}
