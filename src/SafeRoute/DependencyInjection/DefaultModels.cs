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

    /// <summary>Fills in the default pair and router when the user configured no model at all.</summary>
    public static void Apply(SafeRouteOptions options)
    {
        bool nothingConfigured = string.IsNullOrWhiteSpace(options.SmallModel?.Path)
            && string.IsNullOrWhiteSpace(options.LargeModel?.Path)
            && string.IsNullOrWhiteSpace(options.Router?.Path);
        if (!nothingConfigured || !Available)
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
