namespace SafeRoute.DependencyInjection;

/// <summary>
/// Finds the default demonstration models that the SafeRoute.Models.Default package copies next to the app
/// (<c>saferoute-models/default/{small,large,router.safetensors}</c> under the app's base directory).
/// </summary>
internal static class DefaultModels
{
    public const string RelativeDirectory = "saferoute-models/default";

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "saferoute-models", "default");

    public static string Small => Path.Combine(Directory, "small");

    public static string Large => Path.Combine(Directory, "large");

    public static string Router => Path.Combine(Directory, "router.safetensors");

    public static bool Available => File.Exists(Path.Combine(Small, Models.GuardManifest.FileName))
        && File.Exists(Path.Combine(Large, Models.GuardManifest.FileName))
        && File.Exists(Router);

    /// <summary>The model settings that are set, by configuration name (<c>SmallModel:Path</c>, <c>LargeModel:Path</c>,
    /// <c>Router:Path</c>). The default models are used only when none is: setting any of them switches them off.</summary>
    public static List<string> ConfiguredSettings(SafeRouteOptions options)
    {
        var configured = new List<string>(3);
        if (!string.IsNullOrWhiteSpace(options.SmallModel?.Path))
        {
            configured.Add("SmallModel:Path");
        }

        if (!string.IsNullOrWhiteSpace(options.LargeModel?.Path))
        {
            configured.Add("LargeModel:Path");
        }

        if (!string.IsNullOrWhiteSpace(options.Router?.Path))
        {
            configured.Add("Router:Path");
        }

        return configured;
    }

    /// <summary>Fills in the default pair and router when the user configured no model at all.</summary>
    public static void Apply(SafeRouteOptions options)
    {
        if (ConfiguredSettings(options).Count > 0 || !Available)
        {
            return;
        }

        options.SmallModel ??= new GuardModelOptions();
        options.LargeModel ??= new GuardModelOptions();
        options.Router ??= new RouterOptions();
        options.SmallModel.Path = Small;
        options.LargeModel.Path = Large;
        if (options.Router.Kind == RouterKind.Mlp)
        {
            options.Router.Path = Router;
        }
    }
}
