namespace SafeRoute;

/// <summary>
/// Where the default demonstration models are on disk. Referencing this package copies them next to the app
/// (<c>saferoute-models/default/</c>), and <c>services.AddSafeRoute()</c> with no model settings uses them.
/// </summary>
/// <remarks>Demonstration models, not a production safety filter; trained on data that is partly CC-BY-NC-4.0
/// (non-commercial). See <c>MODEL_CARD.md</c> beside them.</remarks>
public static class DefaultGuardModels
{
    /// <summary>Gets the folder that holds <c>small/</c>, <c>large/</c> and <c>router.safetensors</c>.</summary>
    public static string Directory { get; } = Path.Combine(AppContext.BaseDirectory, "saferoute-models", "default");

    /// <summary>Gets the small guard's model folder.</summary>
    public static string SmallModelPath => Path.Combine(Directory, "small");

    /// <summary>Gets the large guard's model folder.</summary>
    public static string LargeModelPath => Path.Combine(Directory, "large");

    /// <summary>Gets the trained router's safetensors file.</summary>
    public static string RouterPath => Path.Combine(Directory, "router.safetensors");
}
