using Onnx;

namespace SafeRoute.Tests.TestModels;

/// <summary>Builds the ONNX graph of a tiny test guard from its <see cref="TinyGuardReference"/> weights.</summary>
internal static class TinyGuardModel
{
    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string PositionIds = "position_ids";
    public const string LastHiddenState = "last_hidden_state";
    public const string Logits = "logits";

    /// <summary>The output name used instead of last_hidden_state by <see cref="TestGuardFault.MissingHiddenStateOutput"/>.</summary>
    public const string WrongHiddenStateName = "hidden_states";

    public const int SlowWidth = 512;

    /// <summary>Builds the graph for <paramref name="reference"/>'s options (outputs, position ids, slow chain, faults).</summary>
    public static OnnxGraphBuilder Build(TinyGuardReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        TestGuardOptions o = reference.Options;
        int d = reference.EmbeddingDim;
        int h = reference.HiddenSize;
        int vocab = reference.ModelVocabSize;
        const TensorProto.Types.DataType I64 = TensorProto.Types.DataType.Int64;
        const TensorProto.Types.DataType F32 = TensorProto.Types.DataType.Float;

        var g = new OnnxGraphBuilder("tiny_guard");
        g.Input(InputIds, I64, "batch", "seq")
         .Input(AttentionMask, I64, "batch", "seq");
        if (o.WithPositionIds)
        {
            g.Input(PositionIds, I64, "batch", "seq");
        }

        g.FloatInitializer("E", [vocab, d], o.Fault == TestGuardFault.PoisonedWord ? Poisoned(reference.Embedding, d) : reference.Embedding)
         .FloatInitializer("W1", [d, h], reference.W1)
         .FloatInitializer("b1", [h], reference.B1)
         .FloatScalar("one", 1f)
         .Int64Scalar("seq_axis", 1)
         .Int64Vector("last_axis", 2);

        string e = g.Op("Gather", ["E", InputIds], "embedded", ("axis", 0));
        if (o.WithPositionIds)
        {
            g.FloatInitializer("P", [o.MaxSequenceLength, d], reference.PositionTable);

            // As the exporters do: the graph states how many positions its table has, so a longer context is refused at load.
            g.Metadata("max_position_embeddings", o.MaxSequenceLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
            string p = g.Op("Gather", ["P", PositionIds], "position_embedded", ("axis", 0));
            e = g.Op("Add", [e, p], "embedded_with_positions");
        }

        string maskF = g.Op("Cast", [AttentionMask], "mask_f", ("to", (int)F32));
        string m = g.Op("Unsqueeze", [maskF, "last_axis"], "mask3");
        string em = g.Op("Mul", [e, m], "masked");
        string sum = g.Op("CumSum", [em, "seq_axis"], "prefix_sum");
        string count = g.Op("CumSum", [m, "seq_axis"], "prefix_count");
        string denominator = g.Op("Max", [count, "one"], "prefix_count_at_least_1");
        string c = g.Op("Div", [sum, denominator], "prefix_mean");
        string z = g.Op("MatMul", [c, "W1"], "pre_w1");
        string zb = g.Op("Add", [z, "b1"], "pre_act");
        string hidden = g.Op("Tanh", [zb], "hidden_core");

        if (o.Slow || o.Endless)
        {
            hidden = AppendSlowChain(g, hidden, o.SlowLayers, o.SlowRows, o.Endless);
        }

        bool wantHidden = o.VerdictOutputs != TestVerdictOutputs.Logits;
        bool wantLogits = o.VerdictOutputs != TestVerdictOutputs.LmHeadRows;
        if (wantHidden)
        {
            string name = o.Fault == TestGuardFault.MissingHiddenStateOutput ? WrongHiddenStateName : LastHiddenState;
            g.Node("Identity", [hidden], [name]);
            g.Output(name, F32, "batch", "seq", h);
        }

        if (wantLogits)
        {
            g.FloatInitializer("Wout", [h, vocab], reference.OutputProjection);
            g.Node("MatMul", [hidden, "Wout"], [Logits]);
            g.Output(Logits, F32, "batch", "seq", vocab);
        }

        return g;
    }

    /// <summary>The embedding table with the rows of "poison" and " poison" set to NaN.</summary>
    private static float[] Poisoned(float[] embedding, int d)
    {
        float[] copy = (float[])embedding.Clone();
        foreach (string token in (string[])["poison", " poison"])
        {
            if (TinyGuardVocabulary.TryGetId(token, out int id))
            {
                copy.AsSpan(id * d, d).Fill(float.NaN);
            }
        }

        return copy;
    }

    /// <summary>
    /// x0 = Tanh(Base + mean(h)) [B, rows, 512]; x ← Tanh(x · W) <paramref name="layers"/> times; then
    /// h + Floor(0.25·mean(x) + 0.5), which is exactly h + 0 because |mean(x)| &lt; 1. Base and W are generated in-graph
    /// from Range/Sin/Cos (nothing big on disk); W's gain is about 2 so the chain neither dies out into denormals nor
    /// can be skipped by the runtime. When <paramref name="endless"/>, the step runs in a Loop of <see cref="long.MaxValue"/>
    /// iterations instead (milliseconds each: hundreds of millions of years in all), so a run only ends by RunOptions.Terminate.
    /// </summary>
    private static string AppendSlowChain(OnnxGraphBuilder g, string hidden, int layers, int rows, bool endless)
    {
        const int W = SlowWidth;
        g.FloatScalar("slow_zero", 0f)
         .FloatScalar("slow_step", 1f)
         .FloatScalar("slow_w_count", W * W)
         .FloatScalar("slow_base_count", (float)rows * W)
         .FloatScalar("slow_w_freq", 0.7316f)
         .FloatScalar("slow_base_freq", 0.37f)
         .FloatScalar("slow_w_scale", (float)(2.0 * Math.Sqrt(2.0) / Math.Sqrt(W)))
         .FloatScalar("slow_quarter", 0.25f)
         .FloatScalar("slow_half", 0.5f)
         .Int64Vector("slow_w_shape", W, W)
         .Int64Vector("slow_base_shape", rows, W);

        string wRange = g.Op("Range", ["slow_zero", "slow_w_count", "slow_step"], "slow_w_range");
        string wArg = g.Op("Mul", [wRange, "slow_w_freq"], "slow_w_arg");
        string wSin = g.Op("Sin", [wArg], "slow_w_sin");
        string wScaled = g.Op("Mul", [wSin, "slow_w_scale"], "slow_w_scaled");
        string weight = g.Op("Reshape", [wScaled, "slow_w_shape"], "slow_w");

        string bRange = g.Op("Range", ["slow_zero", "slow_base_count", "slow_step"], "slow_base_range");
        string bArg = g.Op("Mul", [bRange, "slow_base_freq"], "slow_base_arg");
        string bCos = g.Op("Cos", [bArg], "slow_base_cos");
        string @base = g.Op("Reshape", [bCos, "slow_base_shape"], "slow_base");

        string t = g.Op("ReduceMean", [hidden], "slow_seed", ("axes", new long[] { 1, 2 }), ("keepdims", 1));
        string x = g.Op("Tanh", [g.Op("Add", [@base, t], "slow_x0_pre")], "slow_x0");
        if (endless)
        {
            x = AppendEndlessLoop(g, x, weight, rows);
        }
        else
        {
            for (int i = 0; i < layers; i++)
            {
                string mm = g.Op("MatMul", [x, weight], $"slow_mm_{i}");
                x = g.Op("Tanh", [mm], $"slow_x_{i + 1}");
            }
        }

        string mean = g.Op("ReduceMean", [x], "slow_mean", ("axes", new long[] { 1, 2 }), ("keepdims", 1));
        string shifted = g.Op("Add", [g.Op("Mul", [mean, "slow_quarter"], "slow_quartered"), "slow_half"], "slow_shifted");
        string zero = g.Op("Floor", [shifted], "slow_exact_zero");
        return g.Op("Add", [hidden, zero], "hidden_after_slow");
    }

    /// <summary>
    /// Loop(M = long.MaxValue, cond = true) over the carried x with body x ← Tanh(x · W) (W from the outer scope) and
    /// no scan outputs, so memory stays flat however long it runs. ONNX Runtime checks the terminate flag before each
    /// node of the body, so RunOptions.Terminate stops it within one step.
    /// </summary>
    private static string AppendEndlessLoop(OnnxGraphBuilder g, string x, string weight, int rows)
    {
        const TensorProto.Types.DataType F32 = TensorProto.Types.DataType.Float;
        const TensorProto.Types.DataType Bool = TensorProto.Types.DataType.Bool;
        var body = new OnnxGraphBuilder("slow_loop_body");
        body.Input("slow_loop_iteration", TensorProto.Types.DataType.Int64)
            .Input("slow_loop_cond_in", Bool)
            .Input("slow_loop_x_in", F32, "batch", rows, SlowWidth)
            .Node("Identity", ["slow_loop_cond_in"], ["slow_loop_cond_out"])
            .Node("MatMul", ["slow_loop_x_in", weight], ["slow_loop_mm"])
            .Node("Tanh", ["slow_loop_mm"], ["slow_loop_x_out"])
            .Output("slow_loop_cond_out", Bool)
            .Output("slow_loop_x_out", F32, "batch", rows, SlowWidth);
        foreach (NodeProto node in body.Graph.Node)
        {
            node.Name = "slow_loop_" + node.Name;
        }

        g.Int64Scalar("slow_loop_trip_count", long.MaxValue)
         .BoolScalar("slow_loop_true", true);
        return g.Op("Loop", ["slow_loop_trip_count", "slow_loop_true", x], "slow_loop_x", ("body", body.Graph));
    }
}
