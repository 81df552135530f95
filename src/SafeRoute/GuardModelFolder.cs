using System.Diagnostics.CodeAnalysis;
using SafeRoute.Models;

namespace SafeRoute;

/// <summary>What kind of model a guard model folder holds (its manifest's <c>kind</c>).</summary>
[Experimental(DiagnosticIds.Scoring)]
public enum GuardModelKind
{
    /// <summary>A decoder guard (Llama Guard style): p(unsafe) from the verdict-token logits at the next position.</summary>
    Decoder = 0,

    /// <summary>A sequence classifier (BERT, DeBERTa style): p(unsafe) from the logits of its unsafe labels.</summary>
    Classifier = 1,
}

/// <summary>
/// A guard model folder (<c>saferoute.json</c> and the files it names), read and validated once: what tools need to
/// know about a model without loading it (its name, kind and files).
/// </summary>
[Experimental(DiagnosticIds.Scoring)]
public sealed class GuardModelFolder
{
    private GuardModelFolder(GuardManifest manifest, string onnxPath)
    {
        Name = string.IsNullOrWhiteSpace(manifest.Name) ? Path.GetFileName(manifest.Directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)) : manifest.Name!;
        Directory = manifest.Directory;
        ManifestPath = manifest.FilePath;
        OnnxPath = onnxPath;
        Kind = manifest.ModelKind;
        MaxSequenceLength = manifest.MaxSequenceLength;
    }

    /// <summary>Gets the model's name (the manifest's <c>name</c>, else the folder name).</summary>
    public string Name { get; }

    /// <summary>Gets the folder's full path.</summary>
    public string Directory { get; }

    /// <summary>Gets the full path of <c>saferoute.json</c>.</summary>
    public string ManifestPath { get; }

    /// <summary>Gets the full path of the ONNX graph.</summary>
    public string OnnxPath { get; }

    /// <summary>Gets the kind of model.</summary>
    public GuardModelKind Kind { get; }

    /// <summary>Gets the manifest's context length in tokens.</summary>
    public int MaxSequenceLength { get; }

    /// <summary>Reads and validates a model folder's manifest (it does not load the model or hash its files).</summary>
    /// <param name="modelDirectory">The folder. A relative path is resolved against <see cref="AppContext.BaseDirectory"/>.</param>
    /// <returns>The folder.</returns>
    /// <exception cref="ArgumentException"><paramref name="modelDirectory"/> is null or white space.</exception>
    /// <exception cref="SafeRouteException">The folder or manifest is missing or invalid, or the ONNX file does not exist.</exception>
    public static GuardModelFolder Load(string modelDirectory)
    {
        GuardManifest manifest = GuardManifest.Load(modelDirectory);
        string onnx = manifest.Resolve(manifest.Onnx);
        if (!File.Exists(onnx))
        {
            throw new SafeRouteException($"The ONNX model '{onnx}' named by '{manifest.FilePath}' does not exist.");
        }

        return new GuardModelFolder(manifest, onnx);
    }
}
