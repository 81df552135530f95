using System.ComponentModel.DataAnnotations;

namespace SafeRoute.Training;

/// <summary>Settings of <see cref="BayesianRouterTrainer"/>. The defaults are the SafeRoute paper's recipe.</summary>
public sealed class BayesianRouterTrainerOptions
{
    /// <summary>Gets or sets the number of passes over the training split.</summary>
    /// <value>The default is 1000 (the paper).</value>
    [Range(1, int.MaxValue)]
    public int Epochs { get; set; } = 1000;

    /// <summary>Gets or sets the width of both hidden layers.</summary>
    /// <value>The default is 512 (the paper).</value>
    [Range(1, 65536)]
    public int HiddenSize { get; set; } = 512;

    /// <summary>Gets or sets the minibatch size.</summary>
    /// <value>The default is 512.</value>
    [Range(1, 65536)]
    public int BatchSize { get; set; } = 512;

    /// <summary>Gets or sets AdamW's peak learning rate.</summary>
    /// <value>The default is 1e-3.</value>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Gets or sets AdamW's decoupled weight decay.</summary>
    /// <value>The default is 0.01 (PyTorch's AdamW default).</value>
    public double WeightDecay { get; set; } = 0.01;

    /// <summary>Gets or sets AdamW's β₁.</summary>
    /// <value>The default is 0.9.</value>
    public double Beta1 { get; set; } = 0.9;

    /// <summary>Gets or sets AdamW's β₂.</summary>
    /// <value>The default is 0.999.</value>
    public double Beta2 { get; set; } = 0.999;

    /// <summary>Gets or sets AdamW's ε.</summary>
    /// <value>The default is 1e-8.</value>
    public double AdamEpsilon { get; set; } = 1e-8;

    /// <summary>Gets or sets the number of linear warm-up steps; the learning rate then decays linearly to 0 at the last step.</summary>
    /// <value>The default is 100.</value>
    [Range(0, int.MaxValue)]
    public int WarmupSteps { get; set; } = 100;

    /// <summary>Gets or sets the weight of the KL term (KL summed over all weights and biases, divided by their count).</summary>
    /// <value>The default is 0.01.</value>
    public double KlWeight { get; set; } = 0.01;

    /// <summary>Gets or sets σ of the Gaussian prior N(0, σ²) on every weight and bias.</summary>
    /// <value>The default is 0.1.</value>
    public double PriorSigma { get; set; } = 0.1;

    /// <summary>Gets or sets the initial posterior σ (log σ is initialised to its logarithm).</summary>
    /// <value>The default is 0.1.</value>
    public double InitialSigma { get; set; } = 0.1;

    /// <summary>Gets or sets the share of each hard-label class held out for validation (stratified).</summary>
    /// <value>The default is 0.1. Zero trains on everything.</value>
    [Range(0.0, 0.9)]
    public double ValidationFraction { get; set; } = 0.1;

    /// <summary>Gets or sets the seed of every random choice (initialisation, split, sampling, weight noise).</summary>
    /// <value>The default is 0.</value>
    public int Seed { get; set; }

    /// <summary>
    /// Gets or sets how many threads a minibatch's matrix products may use. Results are bit-identical for every value:
    /// each output element is reduced by one thread in a fixed order.
    /// </summary>
    /// <value>The default is 1 (single-threaded).</value>
    [Range(1, 1024)]
    public int MaxDegreeOfParallelism { get; set; } = 1;

    internal void Validate()
    {
        static void Check(bool ok, string name, object value, string rule)
        {
            if (!ok)
            {
                throw new ArgumentOutOfRangeException(name, value, $"The 'BayesianRouterTrainerOptions' are invalid: {name} {rule}.");
            }
        }

        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Check(HiddenSize >= 1, nameof(HiddenSize), HiddenSize, "must be at least 1");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be positive");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be non-negative");
        Check(Beta1 is >= 0 and < 1, nameof(Beta1), Beta1, "must be in [0, 1)");
        Check(Beta2 is >= 0 and < 1, nameof(Beta2), Beta2, "must be in [0, 1)");
        Check(AdamEpsilon > 0, nameof(AdamEpsilon), AdamEpsilon, "must be positive");
        Check(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "must be non-negative");
        Check(KlWeight >= 0 && double.IsFinite(KlWeight), nameof(KlWeight), KlWeight, "must be non-negative");
        Check(PriorSigma > 0 && double.IsFinite(PriorSigma), nameof(PriorSigma), PriorSigma, "must be positive");
        Check(InitialSigma > 0 && double.IsFinite(InitialSigma), nameof(InitialSigma), InitialSigma, "must be positive");
        Check(ValidationFraction is >= 0 and <= 0.9, nameof(ValidationFraction), ValidationFraction, "must be in [0, 0.9]");
        Check(MaxDegreeOfParallelism >= 1, nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "must be at least 1");
    }
}
