namespace SafeRoute.Training;

/// <summary>Progress of <see cref="BayesianRouterTrainer.Train(FeatureSet, IProgress{RouterTrainingProgress}?, CancellationToken)"/>, reported after each epoch.</summary>
/// <param name="Epoch">The epoch just finished, 1-based.</param>
/// <param name="Epochs">The number of epochs.</param>
/// <param name="Loss">The epoch's mean training loss (BCE plus the weighted KL term).</param>
public readonly record struct RouterTrainingProgress(int Epoch, int Epochs, double Loss);
