using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace SafeRoute;

/// <summary>
/// Resolves model folder and router file paths. A relative path is resolved against a base directory, never against
/// the process's current directory: <see cref="AppContext.BaseDirectory"/> (where the app's assemblies are), or, for
/// options registered with <c>services.AddSafeRoute(...)</c>, the host's content root when the container has an
/// <see cref="IHostEnvironment"/>. An absolute path is used as is.
/// </summary>
internal static class ModelPaths
{
    /// <summary>Returns the full path of <paramref name="path"/>.</summary>
    /// <param name="path">An absolute path, or one relative to <paramref name="baseDirectory"/>.</param>
    /// <param name="baseDirectory">The directory a relative path is resolved against; <see langword="null"/> for <see cref="AppContext.BaseDirectory"/>.</param>
    public static string Resolve(string path, string? baseDirectory = null) =>
        Path.GetFullPath(path, baseDirectory ?? AppContext.BaseDirectory);

    /// <summary>The base directory for options registered through DI: the content root of the registered
    /// <see cref="IHostEnvironment"/>, else <see cref="AppContext.BaseDirectory"/>.</summary>
    public static string BaseDirectory(IServiceProvider services) =>
        services.GetService<IHostEnvironment>()?.ContentRootPath is { Length: > 0 } contentRoot
            ? Path.GetFullPath(contentRoot)
            : AppContext.BaseDirectory;
}
