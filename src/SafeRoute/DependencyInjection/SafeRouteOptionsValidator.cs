using Microsoft.Extensions.Options;

namespace SafeRoute.DependencyInjection;

/// <summary>Validates <see cref="SafeRouteOptions"/> at startup; messages name the setting by its configuration path.</summary>
internal sealed class SafeRouteOptionsValidator(string sectionPath, bool customLargeGuard) : IValidateOptions<SafeRouteOptions>
{
    public ValidateOptionsResult Validate(string? name, SafeRouteOptions options)
    {
        var failures = new List<string>();
        string P(string setting) => string.IsNullOrEmpty(sectionPath) ? setting : $"{sectionPath}:{setting}";

        ValidateModel(options.SmallModel, "SmallModel");
        if (!customLargeGuard)
        {
            ValidateModel(options.LargeModel, "LargeModel");
        }

        RouterOptions router = options.Router ?? new RouterOptions();
        switch (router.Kind)
        {
            case RouterKind.Mlp:
                if (string.IsNullOrWhiteSpace(router.Path))
                {
                    failures.Add($"{P("Router:Path")} is required when {P("Router:Kind")} is Mlp (or choose Router:Kind = Entropy, which needs no trained router).");
                }
                else if (!File.Exists(router.Path))
                {
                    failures.Add($"{P("Router:Path")}: the router file '{Path.GetFullPath(router.Path)}' does not exist.");
                }

                break;
            case RouterKind.TemperatureScaling:
                if (router.Temperature is not { } t || !float.IsFinite(t) || t <= 0)
                {
                    failures.Add($"{P("Router:Temperature")} must be a positive number when {P("Router:Kind")} is TemperatureScaling (it is {router.Temperature?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "not set"}).");
                }

                break;
            case RouterKind.BatchCalibration:
                if (router.MeanUnsafeProbability is not { } m || !(m > 0 && m < 1))
                {
                    failures.Add($"{P("Router:MeanUnsafeProbability")} must be in (0, 1) when {P("Router:Kind")} is BatchCalibration.");
                }

                break;
            case RouterKind.ContextualCalibration:
                if (router.ContentFreeUnsafeProbability is { } q && !(q > 0 && q < 1))
                {
                    failures.Add($"{P("Router:ContentFreeUnsafeProbability")} must be in (0, 1) when set.");
                }

                break;
            case RouterKind.Entropy:
                break;
            default:
                failures.Add($"{P("Router:Kind")} has the unknown value {(int)router.Kind}.");
                break;
        }

        if (options.Threshold is { } threshold && !float.IsFinite(threshold))
        {
            failures.Add($"{P("Threshold")} must be a finite number.");
        }

        if (!Enum.IsDefined(options.FailurePolicy))
        {
            failures.Add($"{P("FailurePolicy")} has the unknown value {(int)options.FailurePolicy}; use FailClosed, FallBackToSmall or Throw.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void ValidateModel(GuardModelOptions? model, string key)
        {
            if (model is null || string.IsNullOrWhiteSpace(model.Path))
            {
                failures.Add($"{P(key + ":Path")} is required: the folder that holds the guard's saferoute.json (or configure no model at all and reference the SafeRoute.Models.Default package, whose models are then used; none were found in '{DefaultModels.Directory}').");
                return;
            }

            if (!Directory.Exists(model.Path))
            {
                failures.Add($"{P(key + ":Path")}: the model folder '{Path.GetFullPath(model.Path)}' does not exist.");
            }
            else if (!File.Exists(Path.Combine(model.Path, Models.GuardManifest.FileName)))
            {
                failures.Add($"{P(key + ":Path")}: the model folder '{Path.GetFullPath(model.Path)}' has no {Models.GuardManifest.FileName}.");
            }

            if (model.MaxBatchSize < 1)
            {
                failures.Add($"{P(key + ":MaxBatchSize")} must be at least 1 (it is {model.MaxBatchSize}).");
            }

            if (model.IntraOpNumThreads is < 1)
            {
                failures.Add($"{P(key + ":IntraOpNumThreads")} must be at least 1 when set (it is {model.IntraOpNumThreads}).");
            }

            if (model.MaxSequenceLength is < 8)
            {
                failures.Add($"{P(key + ":MaxSequenceLength")} must be at least 8 when set (it is {model.MaxSequenceLength}).");
            }

            if (model.MicroBatching is null)
            {
                failures.Add($"{P(key + ":MicroBatching")} must not be null.");
            }
            else
            {
                foreach (string problem in model.MicroBatching.Problems())
                {
                    failures.Add($"{P(key + ":MicroBatching:")}{problem}");
                }
            }

            for (int i = 0; i < model.ExecutionProviders.Count; i++)
            {
                ExecutionProviderOptions? ep = model.ExecutionProviders[i];
                if (ep is null)
                {
                    failures.Add($"{P($"{key}:ExecutionProviders:{i}")} must not be null.");
                    continue;
                }

                foreach (string problem in ep.Problems())
                {
                    failures.Add($"{P($"{key}:ExecutionProviders:{i}:")}{problem}");
                }
            }
        }
    }
}
