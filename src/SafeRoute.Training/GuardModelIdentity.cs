using System.Security.Cryptography;

namespace SafeRoute.Training;

/// <summary>
/// Identifies a guard model folder for <see cref="FeatureCache"/>: the folder's name and the SHA-256 of its ONNX graph
/// and of its <c>saferoute.json</c> manifest. Two identities are the same model when both hashes agree (the name is
/// only for messages, so a renamed or moved folder still matches).
/// </summary>
/// <remarks>
/// External ONNX weight files (<c>*.onnx.data</c>) are not hashed; a re-export changes the graph file, and so the
/// identity, in practice. Hashing reads the whole graph once (seconds for an 8B model).
/// </remarks>
public sealed class GuardModelIdentity : IEquatable<GuardModelIdentity>
{
    /// <summary>Initializes a new instance of the <see cref="GuardModelIdentity"/> class.</summary>
    /// <param name="name">The model folder's name.</param>
    /// <param name="onnxSha256">SHA-256 of the ONNX graph file, 64 hex digits.</param>
    /// <param name="manifestSha256">SHA-256 of <c>saferoute.json</c>, 64 hex digits.</param>
    /// <exception cref="ArgumentException">A hash is not 64 hex digits, or <paramref name="name"/> is null.</exception>
    public GuardModelIdentity(string name, string onnxSha256, string manifestSha256)
    {
        ArgumentNullException.ThrowIfNull(name);
        Name = name;
        OnnxSha256 = CheckHash(onnxSha256, nameof(onnxSha256));
        ManifestSha256 = CheckHash(manifestSha256, nameof(manifestSha256));
    }

    /// <summary>Gets the model folder's name.</summary>
    public string Name { get; }

    /// <summary>Gets the SHA-256 of the ONNX graph file, lower-case hex.</summary>
    public string OnnxSha256 { get; }

    /// <summary>Gets the SHA-256 of <c>saferoute.json</c>, lower-case hex.</summary>
    public string ManifestSha256 { get; }

    /// <summary>Computes the identity of a model folder.</summary>
    /// <param name="modelDirectory">The folder that holds <c>saferoute.json</c>. As with <see cref="OnnxSafetyGuard.Create"/>, a
    /// relative path is resolved against <see cref="AppContext.BaseDirectory"/>, not the current directory.</param>
    /// <returns>The identity.</returns>
    /// <exception cref="ArgumentException"><paramref name="modelDirectory"/> is null or white space.</exception>
    /// <exception cref="SafeRouteException">The folder, manifest or ONNX file is missing or invalid.</exception>
    public static GuardModelIdentity FromModelDirectory(string modelDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        GuardModelFolder folder = GuardModelFolder.Load(modelDirectory);
        string onnx = folder.OnnxPath;

        string name = Path.GetFileName(folder.Directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        return new GuardModelIdentity(name, HashFile(onnx), HashFile(folder.ManifestPath));
    }

    /// <summary>
    /// Computes the identity of a guard that is not a local model folder, such as a model served by vLLM behind
    /// <c>SafeRoute.Remote</c>'s remote guard: both hashes are one SHA-256 of <paramref name="description"/> (UTF-8, after a fixed tag), so two
    /// identities match when their descriptions are equal, character for character.
    /// </summary>
    /// <param name="name">A short name for messages, for example the served model's name.</param>
    /// <param name="description">Everything that changes the guard's answers: for a served model, at least the
    /// endpoint, the served model name and the prompt family. A cache built with one description refuses another.</param>
    /// <returns>The identity.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> or <paramref name="description"/> is null or white space.</exception>
    public static GuardModelIdentity FromDescription(string name, string description)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        string hash = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("guard-description\n" + description))).ToLowerInvariant();
        return new GuardModelIdentity(name, hash, hash);
    }

    /// <inheritdoc/>
    public bool Equals(GuardModelIdentity? other) =>
        other is not null && string.Equals(OnnxSha256, other.OnnxSha256, StringComparison.Ordinal) && string.Equals(ManifestSha256, other.ManifestSha256, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as GuardModelIdentity);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(StringComparer.Ordinal.GetHashCode(OnnxSha256), StringComparer.Ordinal.GetHashCode(ManifestSha256));

    /// <summary>Returns the name and abbreviated hashes.</summary>
    /// <returns>For example <c>llama-guard-3-1b (onnx 1a2b3c4d…, manifest 5e6f7a8b…)</c>.</returns>
    public override string ToString() => $"{Name} (onnx {OnnxSha256[..12]}…, manifest {ManifestSha256[..12]}…)";

    internal byte[] OnnxHashBytes => Convert.FromHexString(OnnxSha256);

    internal byte[] ManifestHashBytes => Convert.FromHexString(ManifestSha256);

    private static string HashFile(string path)
    {
        using FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }

    private static string CheckHash(string hash, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(hash, parameterName);
        if (hash.Length != 64 || !hash.All(Uri.IsHexDigit))
        {
            throw new ArgumentException("A SHA-256 hash must be 64 hex digits.", parameterName);
        }

        return hash.ToLowerInvariant();
    }
}
