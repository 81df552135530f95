using System.CommandLine;
using SafeRoute.Routing;

namespace SafeRoute.Cli;

/// <summary>The model-folder options shared by the commands that run guards.</summary>
internal sealed class ModelArguments
{
    public Option<string?> Models { get; } = new("--models")
    {
        Description = "A folder laid out like the default models: small/, large/ and router.safetensors. Default: the bundled default demonstration models.",
        HelpName = "dir",
    };

    public Option<string?> Small { get; } = new("--small")
    {
        Description = "The small guard's model folder (with saferoute.json); overrides --models.",
        HelpName = "dir",
    };

    public Option<string?> Large { get; } = new("--large")
    {
        Description = "The large guard's model folder; overrides --models.",
        HelpName = "dir",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Models);
        command.Options.Add(Small);
        command.Options.Add(Large);
    }

    // Paths on the command line are relative to the current directory; the library would resolve a relative path
    // against the app's base directory, so every path is made full here.

    /// <summary>The folder --models names, or the default models' folder.</summary>
    public string Root(ParseResult parse) => Path.GetFullPath(parse.GetValue(Models) ?? DefaultGuardModels.Directory);

    public string SmallPath(ParseResult parse) => CheckFolder(parse.GetValue(Small) ?? Path.Combine(Root(parse), "small"), "--small");

    public string LargePath(ParseResult parse) => CheckFolder(parse.GetValue(Large) ?? Path.Combine(Root(parse), "large"), "--large");

    public string RouterPath(ParseResult parse) => Path.Combine(Root(parse), "router.safetensors");

    /// <summary>The router a --router value names: 'entropy', a router file (trained, or a baseline router file), or (no value, default models or --models)
    /// the folder's router.safetensors. With --small/--large a router must be given: the folder's router belongs to its own small guard.</summary>
    public ISafetyRouter LoadRouter(ParseResult parse, string? routerArg)
    {
        bool ownGuards = parse.GetValue(Small) is null && parse.GetValue(Large) is null;
        routerArg ??= ownGuards ? RouterPath(parse) : throw new UsageException("with --small/--large, give --router (a router file trained for that small guard, or 'entropy').");
        return string.Equals(routerArg, "entropy", StringComparison.OrdinalIgnoreCase)
            ? new EntropyRouter()
            : LoadRouterFile(routerArg);
    }

    /// <summary>A router file: a trained router (safetensors) or a baseline router file (JSON, from 'saferoute calibrate --router entropy|ts|cc|bc').</summary>
    public static ISafetyRouter LoadRouterFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The router file '{path}' does not exist.", path);
        }

        string full = Path.GetFullPath(path);
        return LooksLikeJson(full) ? BaselineRouterFile.Load(full) : MlpRouter.Load(full);
    }

    // JSON text (a baseline router file) rather than safetensors, whose 8-byte little-endian header length has zero high bytes.
    private static bool LooksLikeJson(string path)
    {
        byte[] head = new byte[16];
        int read;
        using (FileStream stream = File.OpenRead(path))
        {
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        ReadOnlySpan<byte> bytes = head.AsSpan(0, read);
        if (bytes[..Math.Min(8, bytes.Length)].Contains((byte)0))
        {
            return false;
        }

        bytes = bytes.StartsWith("\uFEFF"u8) ? bytes[3..] : bytes;
        bytes = bytes.TrimStart(" \t\r\n"u8);
        return !bytes.IsEmpty && bytes[0] == (byte)'{';
    }

    public OnnxSafetyGuard LoadSmall(ParseResult parse) => OnnxSafetyGuard.Create(SmallPath(parse), tier: GuardTier.Small);

    public OnnxSafetyGuard LoadLarge(ParseResult parse) => OnnxSafetyGuard.Create(LargePath(parse), tier: GuardTier.Large);

    private static string CheckFolder(string path, string option)
    {
        path = Path.GetFullPath(path);
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"The model folder '{path}' ({option}) does not exist.");
        }

        return path;
    }
}
