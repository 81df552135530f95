using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SafeRoute.Routing;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary><c>saferoute classify</c>: the routed guard's verdict per input.</summary>
internal static class ClassifyCommand
{
    public static Command Create(CliConsole console)
    {
        var texts = new Argument<string[]>("text")
        {
            Description = "Prompts to check. None and no --input: one prompt per line of standard input.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var response = new Option<string?>("--response")
        {
            Description = "An assistant reply to check together with the (single) prompt; the verdict is about the reply.",
            HelpName = "text",
        };
        var input = new Option<string?>("--input", "-i")
        {
            Description = "A JSONL data set (id, prompt, response, label) to classify row by row; output names rows by id, never by text.",
            HelpName = "file.jsonl",
        };
        var router = new Option<string?>("--router")
        {
            Description = "The router: a safetensors file, a baseline router file written by 'saferoute calibrate --router entropy|ts|cc|bc', or 'entropy' for the entropy baseline at 0.5 bits. Default: router.safetensors of --models (the default router).",
            HelpName = "file|entropy",
        };
        var threshold = new Option<float?>("--threshold")
        {
            Description = "Routing threshold ε (route to the large guard when the router score is above it). Default: the router's calibrated ε.",
            HelpName = "ε",
        };
        var json = new Option<bool>("--json") { Description = "Write one JSON object per input instead of a text line." };
        var models = new ModelArguments();

        var duplicateIds = CliApp.DuplicateIdOption();
        var command = new Command("classify", "Classify prompts (or prompt + reply) with the small guard → router → large guard. Exit code 1 when any input is unsafe.");
        command.Arguments.Add(texts);
        command.Options.Add(response);
        command.Options.Add(input);
        command.Options.Add(router);
        command.Options.Add(threshold);
        command.Options.Add(json);
        models.AddTo(command);
        command.Options.Add(duplicateIds);
        command.SetAction(CliApp.Guarded(console, async (parse, ct) =>
        {
            string[] prompts = parse.GetValue(texts) ?? [];
            string? reply = parse.GetValue(response);
            string? inputPath = parse.GetValue(input);
            if (inputPath is not null && prompts.Length > 0)
            {
                throw new UsageException("give prompts as arguments or --input, not both.");
            }

            if (reply is not null && prompts.Length != 1)
            {
                throw new UsageException("--response needs exactly one prompt argument.");
            }

            if (parse.GetValue(threshold) is float t && !(t is >= 0 and <= 1))
            {
                throw new UsageException("--threshold must be in [0, 1].");
            }

            List<(string Name, SafetyRequest Request)> requests = [];
            if (inputPath is not null)
            {
                requests.AddRange(CliApp.ReadData([inputPath], parse.GetValue(duplicateIds)).Select(r => (r.Id, r.ToRequest())));
            }
            else if (prompts.Length > 0)
            {
                requests.AddRange(prompts.Select((p, i) => (string.Create(CultureInfo.InvariantCulture, $"#{i + 1}"), new SafetyRequest(p, reply))));
            }
            else
            {
                string? line;
                int i = 0;
                while ((line = await Console.In.ReadLineAsync(ct).ConfigureAwait(false)) is not null)
                {
                    if (!string.IsNullOrWhiteSpace(line))
                    {
                        requests.Add((string.Create(CultureInfo.InvariantCulture, $"#{++i}"), new SafetyRequest(line)));
                    }
                }
            }

            if (requests.Count == 0)
            {
                throw new UsageException("nothing to classify.");
            }

            ISafetyRouter routerInstance = models.LoadRouter(parse, parse.GetValue(router));
            OnnxSafetyGuard small = models.LoadSmall(parse);
            LargeGuard large;
            try
            {
                large = models.LoadLarge(parse);
            }
            catch
            {
                small.Dispose();
                throw;
            }

            using OnnxSafetyGuard ownedSmall = small;
            using LargeGuard ownedLarge = large;
            using var guard = new RoutedSafetyGuard(small, large.Guard, routerInstance, new RoutedSafetyGuardOptions { Threshold = parse.GetValue(threshold) });
            bool anyUnsafe = false;
            foreach ((string name, SafetyRequest request) in requests)
            {
                long start = Stopwatch.GetTimestamp();
                SafetyVerdict v = await guard.EvaluateAsync(request, ct).ConfigureAwait(false);
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                anyUnsafe |= v.IsUnsafe;
                if (parse.GetValue(json))
                {
                    await console.Out.WriteLineAsync(JsonSerializer.Serialize(new
                    {
                        input = name,
                        verdict = v.IsUnsafe ? "unsafe" : "safe",
                        pUnsafe = v.UnsafeProbability,
                        decidedBy = v.DecidedBy.ToString(),
                        routerScore = v.RouterScore,
                        truncated = v.WasTruncated,
                        latencyMs = Math.Round(ms, 3),
                    })).ConfigureAwait(false);
                }
                else
                {
                    string score = v.RouterScore is float s ? s.ToString("0.000", CultureInfo.InvariantCulture) : "–";
                    await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"{(v.IsUnsafe ? "unsafe" : "safe"),-7} p(unsafe)={v.UnsafeProbability:0.000}  tier={v.DecidedBy,-5}  router={score}  {ms,7:0.0} ms  {name}")).ConfigureAwait(false);
                }
            }

            return anyUnsafe ? ExitCodes.UnsafeFound : ExitCodes.Ok;
        }));
        return command;
    }
}
