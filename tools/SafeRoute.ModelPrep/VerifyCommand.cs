using System.Globalization;
using SafeRoute.Onnx;

namespace SafeRoute.ModelPrep;

/// <summary>Checks that the library's OnnxSafetyGuard reproduces PyTorch's p(unsafe) on the exported folder.</summary>
internal static class VerifyCommand
{
    public const double Tolerance = 1e-4;

    public static int Run(Dictionary<string, string> options)
    {
        string data = Program.Required(options, "data");
        string work = Program.Required(options, "work");
        string expectedPath = Program.Required(options, "expected");
        var expected = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(expectedPath))
        {
            string[] parts = line.Split('\t');
            expected[parts[0]] = double.Parse(parts[1], CultureInfo.InvariantCulture);
        }

        using OnnxSafetyGuard guard = Guards.Load(Program.Required(options, "model"), GuardTier.Small);
        var rows = WorkFiles.Load(data, work, Dataset.Dev).Where(r => expected.ContainsKey(r.Index.Id)).ToList();

        // All dev rows in one call: the library groups them by length and left-pads within each group, as it does for users.
        GuardOutput[] outputs = guard.ForwardBatch([.. rows.Select(r => r.Request)], wantFeatures: false, CancellationToken.None);
        double maxDiff = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(outputs[i].UnsafeProbability - expected[rows[i].Index.Id]));
        }

        bool ok = rows.Count > 0 && maxDiff <= Tolerance;
        Console.WriteLine(FormattableString.Invariant($"verify {guard.Name}: {rows.Count} rows, max |p_library - p_torch| = {maxDiff:E3} ({(ok ? "ok" : "FAIL")}, tolerance {Tolerance:E0})"));
        return ok ? 0 : 1;
    }
}
