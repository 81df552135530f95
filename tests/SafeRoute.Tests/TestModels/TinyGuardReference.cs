namespace SafeRoute.Tests.TestModels;

/// <summary>
/// The weights of a tiny test guard and a double-precision reference of its graph.
/// <para>Math (B batch, S seq, D embedding dim, H hidden size, V' = V + 1 model vocabulary incl. &lt;|bos|&gt;):</para>
/// <code>
/// e  = E[input_ids]                                   [B,S,D]
/// e += P[position_ids]              (only with position_ids)
/// m  = float(attention_mask)[..., None]               [B,S,1]
/// c  = CumSum(e·m, 1) / Max(CumSum(m, 1), 1)          causal masked mean; 0 for fully masked prefixes
/// h  = Tanh(c·W1 + b1)                                [B,S,H]  = last_hidden_state
/// logits = h · Wout                                   [B,S,V'] (logits variants)
/// z_safe = R[0]·h, z_unsafe = R[1]·h;  p(unsafe) = σ(z_unsafe − z_safe) = σ(G·h[0])
/// </code>
/// <para>Dimension roles: E[:,0] is the unsafe score (trigger +1, benign −1, borderline
/// insight·(±1 by true label) − (1 − insight)·0.005, everything else 0); E[:,1] is 1 for borderline words, else 0;
/// E[:,2..] is N(0, 0.5²) noise for every id. P[:,0..1] = 0 and P[:,2..] = N(0, 0.25²), so position ids change the
/// hidden state but never the verdict. W1[0,0] = 200 and W1[1,1] = 50 (nothing else feeds h[0], h[1]);
/// W1[2..,2..] random, b1[0] = b1[1] = 0. R[0] = u − (G/2)·e₀, R[1] = u + (G/2)·e₀ with a shared random u on dims
/// 2.. (so the two logits are not symmetric but their difference is G·h[0]); G = 6·Strength. Wout's columns for the
/// safe/unsafe ids are R[0]/R[1]; the others are random. The Slow chain adds exactly 0 and is not modelled here.</para>
/// </summary>
internal sealed class TinyGuardReference
{
    public const double UnsafeGain = 200.0;
    public const double BorderlineGain = 50.0;
    public const double BaseVerdictGain = 6.0;
    public const double SmallBorderlineLean = -0.005;

    private TinyGuardReference(TestGuardOptions options, int safeId, int unsafeId)
    {
        Options = options;
        HiddenSize = options.HiddenSize;
        EmbeddingDim = options.EmbeddingDim;
        ModelVocabSize = TinyGuardVocabulary.VocabSize + 1;
        SafeTokenId = safeId;
        UnsafeTokenId = unsafeId;
        VerdictGain = BaseVerdictGain * options.Strength;
        Embedding = new float[ModelVocabSize * EmbeddingDim];
        PositionTable = new float[options.MaxSequenceLength * EmbeddingDim];
        W1 = new float[EmbeddingDim * HiddenSize];
        B1 = new float[HiddenSize];
        VerdictRows = new float[2 * HiddenSize];
        OutputProjection = new float[HiddenSize * ModelVocabSize];
    }

    public TestGuardOptions Options { get; }

    public int HiddenSize { get; }

    public int EmbeddingDim { get; }

    /// <summary>V + 1: rows of E and width of the logits output (the &lt;|bos|&gt; id V included).</summary>
    public int ModelVocabSize { get; }

    public int SafeTokenId { get; }

    public int UnsafeTokenId { get; }

    public bool UsesPositionIds => Options.WithPositionIds;

    /// <summary>G: z_unsafe − z_safe = G · h[0].</summary>
    public double VerdictGain { get; }

    /// <summary>E, row-major [V+1, D].</summary>
    public float[] Embedding { get; }

    /// <summary>P, row-major [MaxSequenceLength, D] (used only with position ids).</summary>
    public float[] PositionTable { get; }

    /// <summary>W1, row-major [D, H].</summary>
    public float[] W1 { get; }

    public float[] B1 { get; }

    /// <summary>R, row-major [2, H]: row 0 safe, row 1 unsafe (the content of verdict_rows.safetensors).</summary>
    public float[] VerdictRows { get; }

    /// <summary>Wout, row-major [H, V+1] (logits = h · Wout).</summary>
    public float[] OutputProjection { get; }

    public static TinyGuardReference Create(TestGuardOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.HiddenSize < 4 || options.EmbeddingDim < 4)
        {
            throw new ArgumentException("HiddenSize and EmbeddingDim must be at least 4.", nameof(options));
        }

        if (options.MaxSequenceLength < 8)
        {
            throw new ArgumentException("MaxSequenceLength must be at least 8.", nameof(options));
        }

        int safeId = TinyGuardVocabulary.IdOf(TinyGuardVocabulary.SafeWord);
        int unsafeId = TinyGuardVocabulary.IdOf(TinyGuardVocabulary.UnsafeWord);
        var r = new TinyGuardReference(options, safeId, unsafeId);
        var rng = new Random(options.Seed);
        int d = r.EmbeddingDim;
        int h = r.HiddenSize;

        // Embeddings: noise on dims 2.. for every id, then the decisive dims 0 and 1.
        for (int id = 0; id < r.ModelVocabSize; id++)
        {
            for (int k = 2; k < d; k++)
            {
                r.Embedding[(id * d) + k] = (float)(0.5 * Gaussian(rng));
            }
        }

        foreach (string word in TinyGuardVocabulary.AllWords)
        {
            double score;
            float borderline = 0f;
            if (TinyGuardVocabulary.TriggerWords.Contains(word))
            {
                score = 1.0;
            }
            else if (TinyGuardVocabulary.BenignWords.Contains(word))
            {
                score = -1.0;
            }
            else if (TinyGuardVocabulary.BorderlineIsUnsafe.TryGetValue(word, out bool isUnsafe))
            {
                score = (options.BorderlineInsight * (isUnsafe ? 1.0 : -1.0)) + ((1.0 - options.BorderlineInsight) * SmallBorderlineLean);
                borderline = 1f;
            }
            else
            {
                continue; // verdict words are neutral
            }

            foreach (string variant in new[] { word, " " + word })
            {
                int id = TinyGuardVocabulary.IdOf(variant);
                r.Embedding[id * d] = (float)score;
                r.Embedding[(id * d) + 1] = borderline;
            }
        }

        for (int pos = 0; pos < options.MaxSequenceLength; pos++)
        {
            for (int k = 2; k < d; k++)
            {
                r.PositionTable[(pos * d) + k] = (float)(0.25 * Gaussian(rng));
            }
        }

        r.W1[0] = (float)UnsafeGain;               // W1[0,0]
        r.W1[h + 1] = (float)BorderlineGain;       // W1[1,1]
        double scale = 1.5 / Math.Sqrt(d - 2);
        for (int k = 2; k < d; k++)
        {
            for (int j = 2; j < h; j++)
            {
                r.W1[(k * h) + j] = (float)(scale * Gaussian(rng));
            }
        }

        for (int j = 2; j < h; j++)
        {
            r.B1[j] = (float)(0.1 * Gaussian(rng));
        }

        for (int j = 2; j < h; j++)
        {
            float u = (float)(0.5 * Gaussian(rng));
            r.VerdictRows[j] = u;
            r.VerdictRows[h + j] = u;
        }

        r.VerdictRows[0] = (float)(-r.VerdictGain / 2);
        r.VerdictRows[h] = (float)(r.VerdictGain / 2);

        for (int j = 0; j < h; j++)
        {
            for (int v = 0; v < r.ModelVocabSize; v++)
            {
                r.OutputProjection[(j * r.ModelVocabSize) + v] = (float)(0.5 * Gaussian(rng));
            }

            r.OutputProjection[(j * r.ModelVocabSize) + safeId] = r.VerdictRows[j];
            r.OutputProjection[(j * r.ModelVocabSize) + unsafeId] = r.VerdictRows[h + j];
        }

        return r;
    }

    /// <summary>
    /// Hidden states of an UNPADDED sequence at every position, [n][H]. Position ids default to 0..n−1 (what a
    /// correct runner feeds for an unpadded or left-padded row); pass others to model a wrong runner.
    /// </summary>
    public double[][] HiddenStates(IReadOnlyList<int> ids, IReadOnlyList<long>? positionIds = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (positionIds is not null && positionIds.Count != ids.Count)
        {
            throw new ArgumentException("positionIds must have one entry per id.", nameof(positionIds));
        }

        int d = EmbeddingDim;
        double[] sum = new double[d];
        var result = new double[ids.Count][];
        for (int t = 0; t < ids.Count; t++)
        {
            int id = ids[t];
            if (id < 0 || id >= ModelVocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {id} is outside [0, {ModelVocabSize}).");
            }

            for (int k = 0; k < d; k++)
            {
                sum[k] += Embedding[(id * d) + k];
            }

            if (UsesPositionIds)
            {
                long pos = positionIds?[t] ?? t;
                for (int k = 0; k < d; k++)
                {
                    sum[k] += PositionTable[(pos * d) + k];
                }
            }

            double[] c = new double[d];
            for (int k = 0; k < d; k++)
            {
                c[k] = sum[k] / (t + 1);
            }

            result[t] = Hidden(c);
        }

        return result;
    }

    /// <summary>The hidden state at the last position of an unpadded sequence (the router's feature vector).</summary>
    public double[] LastHiddenState(IReadOnlyList<int> ids, IReadOnlyList<long>? positionIds = null)
    {
        if (ids is null || ids.Count == 0)
        {
            throw new ArgumentException("At least one token id is needed.", nameof(ids));
        }

        return HiddenStates(ids, positionIds)[^1];
    }

    /// <summary>The hidden state of a row whose mask is all zero: Tanh(b1).</summary>
    public double[] FullyMaskedHiddenState() => Hidden(new double[EmbeddingDim]);

    /// <summary>(z_safe, z_unsafe) at the last position: the lm_head rows applied to the last hidden state.</summary>
    public (double Safe, double Unsafe) VerdictLogits(IReadOnlyList<int> ids) => VerdictLogitsOf(LastHiddenState(ids));

    public (double Safe, double Unsafe) VerdictLogitsOf(IReadOnlyList<double> hidden)
    {
        double safe = 0;
        double @unsafe = 0;
        for (int j = 0; j < HiddenSize; j++)
        {
            safe += VerdictRows[j] * hidden[j];
            @unsafe += VerdictRows[HiddenSize + j] * hidden[j];
        }

        return (safe, @unsafe);
    }

    /// <summary>p(unsafe) = softmax([z_safe, z_unsafe])[1] at the last position.</summary>
    public double UnsafeProbability(IReadOnlyList<int> ids)
    {
        (double safe, double @unsafe) = VerdictLogits(ids);
        return UnsafeProbability(safe, @unsafe);
    }

    public static double UnsafeProbability(double safeLogit, double unsafeLogit) => 1.0 / (1.0 + Math.Exp(safeLogit - unsafeLogit));

    /// <summary>The full logits row (width V + 1) at the last position, as the logits variants output it.</summary>
    public double[] Logits(IReadOnlyList<int> ids)
    {
        double[] hidden = LastHiddenState(ids);
        double[] logits = new double[ModelVocabSize];
        for (int j = 0; j < HiddenSize; j++)
        {
            for (int v = 0; v < ModelVocabSize; v++)
            {
                logits[v] += hidden[j] * OutputProjection[(j * ModelVocabSize) + v];
            }
        }

        return logits;
    }

    private double[] Hidden(double[] c)
    {
        double[] hidden = new double[HiddenSize];
        for (int j = 0; j < HiddenSize; j++)
        {
            double z = B1[j];
            for (int k = 0; k < EmbeddingDim; k++)
            {
                z += c[k] * W1[(k * HiddenSize) + j];
            }

            hidden[j] = Math.Tanh(z);
        }

        return hidden;
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble();
        double u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
