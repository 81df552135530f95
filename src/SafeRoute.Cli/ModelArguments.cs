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

    /// <summary>The router a --router value names: 'entropy', a router file, or (no value, default models or --models)
    /// the folder's router.safetensors. With --small/--large a router must be given: the folder's router belongs to its own small guard.</summary>
    public ISafetyRouter LoadRouter(ParseResult parse, string? routerArg)
    {
        bool ownGuards = parse.GetValue(Small) is null && parse.GetValue(Large) is null;
        routerArg ??= ownGuards ? RouterPath(parse) : throw new UsageException("with --small/--large, give --router (a router file trained for that small guard, or 'entropy').");
        return string.Equals(routerArg, "entropy", StringComparison.OrdinalIgnoreCase)
            ? new EntropyRouter()
            : MlpRouter.Load(File.Exists(routerArg) ? Path.GetFullPath(routerArg) : throw new FileNotFoundException($"The router file '{routerArg}' does not exist.", routerArg));
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
