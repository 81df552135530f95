namespace SafeRoute.Cli;

/// <summary>The exit codes of the <c>saferoute</c> tool (also listed in <c>saferoute --help</c> and the README).</summary>
internal static class ExitCodes
{
    /// <summary>Success (for <c>classify</c>: every input was judged safe).</summary>
    public const int Ok = 0;

    /// <summary><c>classify</c> only: at least one input was judged unsafe.</summary>
    public const int UnsafeFound = 1;

    /// <summary>The command line is wrong (unknown option, missing value, conflicting options).</summary>
    public const int Usage = 2;

    /// <summary>A data set, cache, model or router file is missing, malformed or does not match.</summary>
    public const int DataOrModel = 3;

    /// <summary>An unexpected internal error (a bug: please report it).</summary>
    public const int Internal = 70;

    /// <summary>Cancelled with Ctrl+C (128 + SIGINT); a feature cache stays consistent and resumable.</summary>
    public const int Cancelled = 130;

    public const string HelpText = """
        Exit codes: 0 ok (classify: all safe) · 1 classify found unsafe input · 2 usage error ·
                    3 data, cache or model error · 70 internal error · 130 cancelled (Ctrl+C)
        """;
}

/// <summary>A command-line mistake the parser cannot see (conflicting or missing options); exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
