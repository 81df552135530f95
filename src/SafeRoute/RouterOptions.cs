namespace SafeRoute;

/// <summary>Router settings for <see cref="SafeRouteOptions"/>.</summary>
public sealed class RouterOptions
{
    /// <summary>Gets or sets the kind of router.</summary>
    /// <value>The default is <see cref="RouterKind.Mlp"/>, which needs <see cref="Path"/>.</value>
    public RouterKind Kind { get; set; } = RouterKind.Mlp;

    /// <summary>Gets or sets the router file: a trained router's safetensors file (reference tensor names, see the README), or a
    /// baseline router file written by <c>saferoute calibrate --router entropy|ts|cc|bc</c> (<see cref="Routing.BaselineRouterFile"/>),
    /// which carries its kind, fitted parameter and calibrated ε (then <see cref="Kind"/> may stay <see cref="RouterKind.Mlp"/> or must name the file's kind,
    /// and the other router settings are not read).</summary>
    /// <value>The default is <see langword="null"/>; required for <see cref="RouterKind.Mlp"/>.</value>
    /// <remarks>A relative path is resolved against the host's content root (<c>IHostEnvironment.ContentRootPath</c>)
    /// when the options are registered with <c>services.AddSafeRoute(...)</c> and the container has an
    /// <c>IHostEnvironment</c>, and against <see cref="AppContext.BaseDirectory"/> otherwise (no host, or
    /// <see cref="RoutedSafetyGuard.Create"/>, <see cref="Routing.MlpRouter.Load(string)"/>); never against the current directory.
    /// An absolute path is used as is.</remarks>
    public string? Path { get; set; }

    /// <summary>Gets or sets the temperature τ for <see cref="RouterKind.TemperatureScaling"/>.</summary>
    /// <value>The default is <see langword="null"/>; required for that kind.</value>
    public float? Temperature { get; set; }

    /// <summary>Gets or sets the mean p(unsafe) of a training set for <see cref="RouterKind.BatchCalibration"/>.</summary>
    /// <value>The default is <see langword="null"/>; required for that kind.</value>
    public float? MeanUnsafeProbability { get; set; }

    /// <summary>Gets or sets the small guard's p(unsafe) for the content-free input, for <see cref="RouterKind.ContextualCalibration"/>.</summary>
    /// <value>The default is <see langword="null"/>: measured with the small guard at startup.</value>
    public float? ContentFreeUnsafeProbability { get; set; }
}
