namespace SafeRoute.ModelPrep;

internal static class EvalCommand
{
    public static int Run(Dictionary<string, string> options) => Program.Fail("eval: not yet implemented");
}
