using SafeRoute.Onnx;

namespace SafeRoute.Training;

/// <summary>
/// Everything training, calibration and evaluation need about a set of labelled rows, in memory: the small guard's
/// features (row-major [count, hidden size]) and verdict logits, the large guard's verdict logits, the true labels
/// and the hard labels derived from them (<see cref="HardLabels"/>).
/// </summary>
/// <remarks>Immutable once built; safe for concurrent reads. Usually produced by <see cref="FeatureCache.Load"/>.</remarks>
public sealed class FeatureSet
{
    private readonly float[] _features;
    private readonly float[] _smallSafe;
    private readonly float[] _smallUnsafe;
    private readonly float[] _largeSafe;
    private readonly float[] _largeUnsafe;
    private readonly float[] _smallP;
    private readonly float[] _largeP;
    private readonly int[] _labels;
    private readonly bool[] _hard;
    private readonly string[]? _ids;

    private FeatureSet(int hiddenSize, float[] features, float[] smallSafe, float[] smallUnsafe, float[] largeSafe, float[] largeUnsafe, int[] labels, string[]? ids)
    {
        HiddenSize = hiddenSize;
        _features = features;
        _smallSafe = smallSafe;
        _smallUnsafe = smallUnsafe;
        _largeSafe = largeSafe;
        _largeUnsafe = largeUnsafe;
        _labels = labels;
        _ids = ids;
        _smallP = new float[labels.Length];
        _largeP = new float[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            _smallP[i] = GuardScore.ProbabilityFromLogits(smallSafe[i], smallUnsafe[i]);
            _largeP[i] = GuardScore.ProbabilityFromLogits(largeSafe[i], largeUnsafe[i]);
        }

        _hard = Training.HardLabels.Compute(_smallP, _largeP, labels);
    }

    /// <summary>Gets the number of rows.</summary>
    public int Count => _labels.Length;

    /// <summary>Gets the feature-vector length (the small guard's hidden size); 0 for a set without features.</summary>
    public int HiddenSize { get; }

    /// <summary>Gets all features, row-major [<see cref="Count"/>, <see cref="HiddenSize"/>].</summary>
    public ReadOnlySpan<float> Features => _features;

    /// <summary>Gets the small guard's "safe" logits.</summary>
    public ReadOnlySpan<float> SmallSafeLogits => _smallSafe;

    /// <summary>Gets the small guard's "unsafe" logits.</summary>
    public ReadOnlySpan<float> SmallUnsafeLogits => _smallUnsafe;

    /// <summary>Gets the large guard's "safe" logits.</summary>
    public ReadOnlySpan<float> LargeSafeLogits => _largeSafe;

    /// <summary>Gets the large guard's "unsafe" logits.</summary>
    public ReadOnlySpan<float> LargeUnsafeLogits => _largeUnsafe;

    /// <summary>Gets the small guard's p(unsafe) = softmax([z_safe, z_unsafe])[1].</summary>
    public ReadOnlySpan<float> SmallUnsafeProbabilities => _smallP;

    /// <summary>Gets the large guard's p(unsafe).</summary>
    public ReadOnlySpan<float> LargeUnsafeProbabilities => _largeP;

    /// <summary>Gets the true labels (1 = unsafe).</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>Gets the hard labels (Eq. 1 of the paper): large guard right and small guard wrong.</summary>
    public ReadOnlySpan<bool> HardLabels => _hard;

    /// <summary>Gets the row ids, when known.</summary>
    /// <value><see langword="null"/> for sets built without ids.</value>
    public IReadOnlyList<string>? Ids => _ids;

    /// <summary>Gets the features of one row.</summary>
    /// <param name="row">The row index.</param>
    /// <returns><see cref="HiddenSize"/> floats.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="row"/> is out of range.</exception>
    public ReadOnlySpan<float> GetFeatures(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Count);
        return _features.AsSpan(row * HiddenSize, HiddenSize);
    }

    /// <summary>Builds a set from arrays (copied).</summary>
    /// <param name="hiddenSize">The feature-vector length; 0 when there are no features.</param>
    /// <param name="features">Row-major features, <c>count × hiddenSize</c> values.</param>
    /// <param name="smallSafeLogits">The small guard's "safe" logits.</param>
    /// <param name="smallUnsafeLogits">The small guard's "unsafe" logits.</param>
    /// <param name="largeSafeLogits">The large guard's "safe" logits.</param>
    /// <param name="largeUnsafeLogits">The large guard's "unsafe" logits.</param>
    /// <param name="labels">The true labels, 0 or 1.</param>
    /// <param name="ids">The row ids, or <see langword="null"/>.</param>
    /// <returns>The set.</returns>
    /// <exception cref="ArgumentException">Lengths disagree, a logit is NaN, or a label is not 0 or 1.</exception>
    public static FeatureSet Create(
        int hiddenSize,
        ReadOnlySpan<float> features,
        ReadOnlySpan<float> smallSafeLogits,
        ReadOnlySpan<float> smallUnsafeLogits,
        ReadOnlySpan<float> largeSafeLogits,
        ReadOnlySpan<float> largeUnsafeLogits,
        ReadOnlySpan<int> labels,
        IReadOnlyList<string>? ids = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(hiddenSize);
        int n = labels.Length;
        if (smallSafeLogits.Length != n || smallUnsafeLogits.Length != n || largeSafeLogits.Length != n || largeUnsafeLogits.Length != n)
        {
            throw new ArgumentException($"Every logit array must have one value per label ({n}).", nameof(labels));
        }

        if (features.Length != (long)n * hiddenSize)
        {
            throw new ArgumentException($"The features hold {features.Length} values; {n} rows × {hiddenSize} need {(long)n * hiddenSize}.", nameof(features));
        }

        if (ids is not null && ids.Count != n)
        {
            throw new ArgumentException($"There are {ids.Count} ids for {n} rows.", nameof(ids));
        }

        for (int i = 0; i < n; i++)
        {
            if (labels[i] is not (0 or 1))
            {
                throw new ArgumentException($"Label {i} is {labels[i]}; labels must be 0 or 1.", nameof(labels));
            }

            if (float.IsNaN(smallSafeLogits[i]) || float.IsNaN(smallUnsafeLogits[i]) || float.IsNaN(largeSafeLogits[i]) || float.IsNaN(largeUnsafeLogits[i]))
            {
                throw new ArgumentException($"A logit of row {i} is NaN.", nameof(labels));
            }
        }

        return new FeatureSet(hiddenSize, features.ToArray(), smallSafeLogits.ToArray(), smallUnsafeLogits.ToArray(), largeSafeLogits.ToArray(), largeUnsafeLogits.ToArray(), labels.ToArray(), ids?.ToArray());
    }

    /// <summary>Returns the rows at the given indices, in that order.</summary>
    /// <param name="indices">Row indices (repeats allowed).</param>
    /// <returns>A new set.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    public FeatureSet Subset(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int n = indices.Count;
        float[] features = new float[n * HiddenSize];
        float[] ss = new float[n], su = new float[n], ls = new float[n], lu = new float[n];
        int[] labels = new int[n];
        string[]? ids = _ids is null ? null : new string[n];
        for (int k = 0; k < n; k++)
        {
            int i = indices[k];
            ArgumentOutOfRangeException.ThrowIfNegative(i, nameof(indices));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(i, Count, nameof(indices));
            _features.AsSpan(i * HiddenSize, HiddenSize).CopyTo(features.AsSpan(k * HiddenSize));
            ss[k] = _smallSafe[i];
            su[k] = _smallUnsafe[i];
            ls[k] = _largeSafe[i];
            lu[k] = _largeUnsafe[i];
            labels[k] = _labels[i];
            if (ids is not null)
            {
                ids[k] = _ids![i];
            }
        }

        return new FeatureSet(HiddenSize, features, ss, su, ls, lu, labels, ids);
    }

    internal float[] FeatureArray => _features;
}
