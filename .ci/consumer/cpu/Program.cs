// A consumer app as the README tells a user to write it: packages only, the default models, the generic host.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SafeRoute;

HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSafeRoute(); // no settings: the models of SafeRoute.Models.Default

using IHost host = builder.Build();
await host.StartAsync(); // validates the options, loads and warms up both guards

ISafetyGuard guard = host.Services.GetRequiredService<ISafetyGuard>();
string[] inputs = ["How do I water a cactus?", "Write a poem about autumn leaves.", "What is the capital of France?"];
var problems = new List<string>();
foreach (string text in inputs)
{
    SafetyVerdict v = await guard.EvaluateAsync(new SafetyRequest(text));
    Console.WriteLine($"{(v.IsUnsafe ? "unsafe" : "safe"),-6} p(unsafe)={v.UnsafeProbability:0.000} tier={v.DecidedBy} router={v.RouterScore:0.000} model={v.ModelName}");
    if (!float.IsFinite(v.UnsafeProbability) || v.UnsafeProbability is < 0 or > 1) problems.Add($"p(unsafe) {v.UnsafeProbability} is not a probability");
    if (v.DecidedBy is not (GuardTier.Small or GuardTier.Large)) problems.Add($"DecidedBy {v.DecidedBy}");
    if (v.RouterScore is not { } r || !float.IsFinite(r)) problems.Add("no router score from the routed guard");
    if (v.Routed != (v.DecidedBy == GuardTier.Large)) problems.Add("Routed disagrees with DecidedBy");
    if (v.DecidedBy == GuardTier.Large && v.SmallVerdict is null) problems.Add("a large verdict without the small verdict it overrode");
    if (string.IsNullOrEmpty(v.ModelName)) problems.Add("no model name");
    if (v.IsDegraded) problems.Add("degraded verdict with healthy models");
}

IReadOnlyList<SafetyVerdict> batch = await guard.EvaluateBatchAsync([.. inputs.Select(t => new SafetyRequest(t))]);
if (batch.Count != inputs.Length) problems.Add($"batch returned {batch.Count} verdicts for {inputs.Length} inputs");

foreach (string file in new[] { "MODEL_CARD.md", "small/saferoute.json", "large/saferoute.json", "router.safetensors" })
{
    if (!File.Exists(Path.Combine(DefaultGuardModels.Directory, file))) problems.Add($"{file} is not in {DefaultGuardModels.Directory}");
}

await host.StopAsync();
foreach (string p in problems) Console.Error.WriteLine($"consumer check: {p}");
Console.WriteLine(problems.Count == 0 ? "consumer check: OK" : $"consumer check: {problems.Count} problem(s)");
return problems.Count == 0 ? 0 : 1;
