using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SafeRoute.Routing;

namespace SafeRoute.Cli;

/// <summary><c>saferoute probe</c>: how often the small, large and routed guards flag each kind of probe prompt
/// (everyday, sounds-dangerous, harmful). Prints rates only, never a prompt.</summary>
internal static class ProbeCommand
{
    public static Command Create(CliConsole console)
    {
        var file = new Option<string>("--file")
        {
            Description = "The probe set: JSONL with id, kind (everyday | sounds-dangerous | harmful) and prompt, as models/probes/probes.jsonl.",
            HelpName = "probes.jsonl",
            Required = true,
        };
        var router = new Option<string?>("--router")
        {
            Description = "The router: a safetensors file, or 'entropy'. Default: router.safetensors of --models.",
            HelpName = "file|entropy",
        };
        var threshold = new Option<float?>("--threshold") { Description = "Routing threshold ε. Default: the router's calibrated ε.", HelpName = "ε" };
        var byDomain = new Option<bool>("--by-domain") { Description = "Also print one line per kind and domain (the rows' optional 'domain' field)." };
        var models = new ModelArguments();
        var command = new Command("probe", "Flag rates of the small, large and routed guards on a probe set, by kind: false positives on benign kinds, recall on harmful ones.");
        command.Options.Add(file);
        command.Options.Add(router);
        command.Options.Add(threshold);
        command.Options.Add(byDomain);
        models.AddTo(command);
        command.SetAction(CliApp.Guarded(console, async (parse, ct) =>
        {
            List<(string Kind, string? Domain, SafetyRequest Request)> rows = Read(parse.GetValue(file)!);
            ISafetyRouter routerInstance = models.LoadRouter(parse, parse.GetValue(router));
            using OnnxSafetyGuard small = models.LoadSmall(parse);
            using LargeGuard large = models.LoadLarge(parse);
            using var routed = new RoutedSafetyGuard(small, large.Guard, routerInstance, new RoutedSafetyGuardOptions { Threshold = parse.GetValue(threshold) });
            SafetyRequest[] requests = [.. rows.Select(r => r.Request)];
            IReadOnlyList<SafetyVerdict> s = await small.EvaluateBatchAsync(requests, ct).ConfigureAwait(false);
            IReadOnlyList<SafetyVerdict> l = await large.Guard.EvaluateBatchAsync(requests, ct).ConfigureAwait(false);
            IReadOnlyList<SafetyVerdict> r = await routed.EvaluateBatchAsync(requests, ct).ConfigureAwait(false);
            string[] kinds = [.. rows.Select(x => x.Kind).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
            (string Kind, string Domain)[] domains = parse.GetValue(byDomain)
                ? [.. rows.Select(x => (x.Kind, Domain: x.Domain ?? "-")).Distinct().OrderBy(x => x.Kind, StringComparer.Ordinal).ThenBy(x => x.Domain, StringComparer.Ordinal)]
                : [];
            int width = Math.Max(18, domains.Select(d => d.Kind.Length + d.Domain.Length + 4).Append(kinds.Max(k => k.Length) + 1).Max());
            await console.Out.WriteLineAsync("kind".PadRight(width) + " rows   flagged: small    large   routed   (routed to large)").ConfigureAwait(false);
            async Task Line(string label, int[] idx)
            {
                string Rate(IReadOnlyList<SafetyVerdict> v) => (100.0 * idx.Count(i => v[i].IsUnsafe) / idx.Length).ToString("0.0", CultureInfo.InvariantCulture) + "%";
                string share = (100.0 * idx.Count(i => r[i].Routed) / idx.Length).ToString("0.0", CultureInfo.InvariantCulture) + "%";
                await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{label.PadRight(width)} {idx.Length,5}   {Rate(s),14} {Rate(l),8} {Rate(r),8}   ({share})")).ConfigureAwait(false);
            }

            foreach (string kind in kinds)
            {
                await Line(kind, [.. Enumerable.Range(0, rows.Count).Where(i => rows[i].Kind == kind)]).ConfigureAwait(false);
            }

            foreach ((string kind, string domain) in domains)
            {
                await Line($"  {kind}/{domain}", [.. Enumerable.Range(0, rows.Count).Where(i => rows[i].Kind == kind && (rows[i].Domain ?? "-") == domain)]).ConfigureAwait(false);
            }

            await console.Out.WriteLineAsync("benign kinds: flagged = false-positive rate; harmful: flagged = recall.").ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static List<(string Kind, string? Domain, SafetyRequest Request)> Read(string path)
    {
        var rows = new List<(string, string?, SafetyRequest)>();
        int line = 0;
        foreach (string text in File.ReadLines(Path.GetFullPath(path)))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            try
            {
                using JsonDocument doc = JsonDocument.Parse(text);
                string kind = doc.RootElement.GetProperty("kind").GetString() ?? throw new UsageException($"{path}: line {line}: 'kind' is null.");
                string prompt = doc.RootElement.GetProperty("prompt").GetString() ?? throw new UsageException($"{path}: line {line}: 'prompt' is null.");
                string? domain = doc.RootElement.TryGetProperty("domain", out JsonElement d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
                rows.Add((kind, domain, new SafetyRequest(prompt)));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
            {
                // The message names the line and field, never the text.
                throw new UsageException($"{path}: line {line}: not a probe row (JSON with string 'kind' and non-blank 'prompt'): {ex.GetType().Name}.");
            }
        }

        return rows.Count > 0 ? rows : throw new UsageException($"{path} has no probe rows.");
    }
}
