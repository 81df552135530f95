using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SafeRoute.Samples.Console;

/// <summary>
/// Resolves <see cref="ISafetyGuard"/> from DI through the generic host (configured from appsettings.json's "SafeRoute"
/// section, overridable on the command line) and classifies each argument that is not a setting, or each line of
/// standard input when there is none. Out of the box appsettings.json configures no model, so the default demonstration
/// models (SafeRoute.Models.Default) run. Real Llama Guard 3 exports:
/// <c>--SafeRoute:SmallModel:Path=/models/lg3-1b --SafeRoute:LargeModel:Path=/models/lg3-8b --SafeRoute:Router:Kind=Entropy</c>
/// (or <c>--SafeRoute:Router:Path=router.safetensors</c> for a router trained for that pair).
/// </summary>
public static class SampleApp
{
    public static async Task<int> RunAsync(string[] args, TextReader input, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        string[] settings = [.. args.Where(a => a.StartsWith("--", StringComparison.Ordinal))];
        string[] texts = [.. args.Where(a => !a.StartsWith("--", StringComparison.Ordinal))];

        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = settings,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None); // a failed start is reported below, in one line
        builder.Services.AddSafeRoute(builder.Configuration.GetSection("SafeRoute"));

        IHost host;
        try
        {
            host = builder.Build();
            await host.StartAsync(cancellationToken).ConfigureAwait(false); // validates options, loads and warms up both models
        }
        catch (Exception ex) when (ex is OptionsValidationException or SafeRouteException)
        {
            await error.WriteLineAsync($"SafeRoute could not start: {ex.Message}").ConfigureAwait(false);
            return 2;
        }

        using (host)
        {
            ISafetyGuard guard = host.Services.GetRequiredService<ISafetyGuard>();
            IEnumerable<string> lines = texts.Length > 0 ? texts : ReadLines(input);
            foreach (string text in lines)
            {
                if (string.IsNullOrWhiteSpace(text))
                {
                    continue;
                }

                var stopwatch = Stopwatch.StartNew();
                SafetyVerdict verdict = await guard.EvaluateAsync(new SafetyRequest(text), cancellationToken).ConfigureAwait(false);
                stopwatch.Stop();
                await output.WriteLineAsync(Format(verdict, stopwatch.Elapsed)).ConfigureAwait(false);
            }

            await host.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        return 0;
    }

    public static string Format(SafetyVerdict verdict, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{(verdict.IsUnsafe ? "UNSAFE" : "safe"),-6}  p(unsafe)={verdict.UnsafeProbability:0.000}  decided-by={verdict.DecidedBy,-5}  router={(verdict.RouterScore is { } s ? s.ToString("0.000", CultureInfo.InvariantCulture) : "-")}  {elapsed.TotalMilliseconds:0.0} ms{(verdict.WasTruncated ? "  (truncated)" : "")}{(verdict.IsDegraded ? "  (degraded)" : "")}");
    }

    private static IEnumerable<string> ReadLines(TextReader input)
    {
        while (input.ReadLine() is { } line)
        {
            yield return line;
        }
    }
}
