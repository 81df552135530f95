using SafeRoute.Routing;

namespace SafeRoute.Training;

/// <summary>A trained SafeRoute router and what the trainer measured.</summary>
public sealed class RouterTrainingResult
{
    internal RouterTrainingResult(MlpRouter router, double[] epochLosses, int[] trainIndices, int[] validationIndices, float[] validationScores, double validationLoss, BinaryCounts validationCounts, int steps)
    {
        Router = router;
        EpochLosses = epochLosses;
        TrainIndices = trainIndices;
        ValidationIndices = validationIndices;
        ValidationScores = validationScores;
        ValidationLoss = validationLoss;
        ValidationRoutingF1 = validationCounts.F1;
        ValidationRoutingPrecision = validationCounts.Precision;
        ValidationRoutingRecall = validationCounts.Recall;
        Steps = steps;
    }

    /// <summary>Gets the trained router (posterior means; deterministic at run time).</summary>
    public MlpRouter Router { get; }

    /// <summary>Gets the mean training loss of each epoch.</summary>
    public IReadOnlyList<double> EpochLosses { get; }

    /// <summary>Gets the rows of the input used for training.</summary>
    public IReadOnlyList<int> TrainIndices { get; }

    /// <summary>Gets the rows of the input held out for validation (stratified by hard label).</summary>
    public IReadOnlyList<int> ValidationIndices { get; }

    /// <summary>Gets the router's scores on the validation rows, in <see cref="ValidationIndices"/> order (for <see cref="ThresholdCalibrator"/>).</summary>
    public ReadOnlyMemory<float> ValidationScores { get; }

    /// <summary>Gets the mean BCE of the validation rows (NaN without a validation split).</summary>
    public double ValidationLoss { get; }

    /// <summary>Gets the routing F1 against the hard labels on the validation rows at threshold 0.5.</summary>
    public double ValidationRoutingF1 { get; }

    /// <summary>Gets the routing precision on the validation rows at threshold 0.5.</summary>
    public double ValidationRoutingPrecision { get; }

    /// <summary>Gets the routing recall on the validation rows at threshold 0.5.</summary>
    public double ValidationRoutingRecall { get; }

    /// <summary>Gets the number of optimiser steps taken.</summary>
    public int Steps { get; }

    /// <summary>
    /// Writes the router as a safetensors file with the reference checkpoint's tensor names (including the trained
    /// <c>*_log_sigma</c>), which <see cref="MlpRouter.Load(string)"/> and the reference Python code read.
    /// </summary>
    /// <param name="path">The file to create or overwrite.</param>
    /// <param name="threshold">The calibrated routing threshold to store, or <see langword="null"/> for none (0.5 at run time).</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is outside [0, 1].</exception>
    public void Save(string path, float? threshold = null) => Router.Save(path, threshold);
}
