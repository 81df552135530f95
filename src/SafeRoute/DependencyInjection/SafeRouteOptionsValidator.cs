using Microsoft.Extensions.Options;

namespace SafeRoute.DependencyInjection;

/// <summary>Validates <see cref="SafeRouteOptions"/> at startup; messages name the setting by its configuration path
/// and show model paths resolved against the given base directory (see <see cref="ModelPaths"/>).</summary>
/// <remarks>Runs after <see cref="DefaultModels.Apply"/>: a model setting still empty then means either that nothing
/// was configured and the default models are missing, or that another model setting switched the defaults off.</remarks>
internal sealed class SafeRouteOptionsValidator(string sectionPath, bool customLargeGuard, string? baseDirectory = null) : IValidateOptions<SafeRouteOptions>
{
    private const string DefaultsRule = "the default models are used only when no model is configured at all";

    public ValidateOptionsResult Validate(string? name, SafeRouteOptions options)
    {
        var failures = new List<string>();
        string P(string setting) => string.IsNullOrEmpty(sectionPath) ? setting : $"{sectionPath}:{setting}";
        string List(IEnumerable<string> settings)
        {
            string[] names = [.. settings.Select(P)];
            return names.Length == 1 ? names[0] : $"{string.Join(", ", names[..^1])} and {names[^1]}";
        }

        RouterOptions router = options.Router ?? new RouterOptions();
        List<string> configured = DefaultModels.ConfiguredSettings(options);
        string missingBecause = configured.Count == 0 ? "" : $"because {List(configured)} {(configured.Count == 1 ? "is" : "are")} set ({DefaultsRule})";
        if (configured.Count == 0)
        {
            List<string> required = ["SmallModel:Path"];
            if (!customLargeGuard)
            {
                required.Add("LargeModel:Path");
            }

            if (router.Kind == RouterKind.Mlp)
            {
                required.Add("Router:Path");
            }

            failures.Add($"No model is configured and the default models were not found in '{DefaultModels.Directory}': reference the SafeRoute.Models.Default package, whose models are used when no model is configured at all, or set {List(required)}.");
        }

        ValidateModel(options.SmallModel, "SmallModel");
        if (!customLargeGuard)
        {
            ValidateModel(options.LargeModel, "LargeModel");
        }

        switch (router.Kind)
        {
            case RouterKind.Mlp:
                if (string.IsNullOrWhiteSpace(router.Path))
                {
                    if (configured.Count > 0)
                    {
                        failures.Add($"{P("Router:Path")} is required {missingBecause} and {P("Router:Kind")} is Mlp. Set it to the trained router's safetensors file, or choose Router:Kind = Entropy, which needs no trained router.");
                    }
                }
                else
                {
                    string routerPath = ModelPaths.Resolve(router.Path, baseDirectory);
                    if (!File.Exists(routerPath))
                    {
                        failures.Add($"{P("Router:Path")}: the router file '{routerPath}' does not exist.");
                    }
                }

                break;
            case not RouterKind.Mlp when !string.IsNullOrWhiteSpace(router.Path):
                // A baseline router file (saferoute calibrate --router entropy|ts|cc|bc) carries its own parameters.
                if (!File.Exists(ModelPaths.Resolve(router.Path, baseDirectory)))
                {
                    failures.Add($"{P("Router:Path")}: the router file '{ModelPaths.Resolve(router.Path, baseDirectory)}' does not exist.");
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

        if (options.LengthAwareRouting == true && router.Kind != RouterKind.Mlp)
        {
            failures.Add($"{P("LengthAwareRouting")} is true, but {P("Router:Kind")} is {router.Kind}: only an MLP router file calibrated with a reference length ('length_reference' metadata) supports it.");
        }

        if (options.Threshold is { } threshold && !float.IsFinite(threshold))
        {
            failures.Add($"{P("Threshold")} must be a finite number.");
        }

        if (!Enum.IsDefined(options.FailurePolicy))
        {
            failures.Add($"{P("FailurePolicy")} has the unknown value {(int)options.FailurePolicy}; use FailClosed, FallBackToSmall or Throw.");
        }

        if (options.LargeGuardTimeout is { } timeout && !RoutedSafetyGuardOptions.IsValidLargeGuardTimeout(timeout))
        {
            failures.Add($"{P("LargeGuardTimeout")} must be greater than zero and at most {RoutedSafetyGuardOptions.MaxLargeGuardTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture)} when set (it is {timeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture)}); leave it unset for no timeout.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void ValidateModel(GuardModelOptions? model, string key)
        {
            if (model is null || string.IsNullOrWhiteSpace(model.Path))
            {
                if (configured.Count > 0)
                {
                    failures.Add($"{P(key + ":Path")} is required {missingBecause}. Set it to the folder that holds the guard's {Models.GuardManifest.FileName}.");
                }

                return;
            }

            string folder = ModelPaths.Resolve(model.Path, baseDirectory);
            if (!Directory.Exists(folder))
            {
                failures.Add($"{P(key + ":Path")}: the model folder '{folder}' does not exist.");
            }
            else if (!File.Exists(Path.Combine(folder, Models.GuardManifest.FileName)))
            {
                failures.Add($"{P(key + ":Path")}: the model folder '{folder}' has no {Models.GuardManifest.FileName}.");
            }

            // The same checks OnnxSafetyGuard.Create makes, named by configuration path.
            foreach (OptionProblem problem in model.Problems())
            {
                failures.Add(problem.ToConfigurationText(P(key + ":")));
            }
        }
    }
}
