using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SafeRoute.Quickstart;

/// <summary>The quickstart: the default demonstration models through <c>services.AddSafeRoute()</c>.</summary>
public static class QuickstartApp
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextReader input, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var services = new ServiceCollection();
        services.AddSafeRoute(); // the default small + large guard and trained router (SafeRoute.Models.Default)

        await using ServiceProvider provider = services.BuildServiceProvider();
        ISafetyGuard guard;
        try
        {
            provider.GetRequiredService<IStartupValidator>().Validate();
            guard = provider.GetRequiredService<ISafetyGuard>();
            await provider.GetRequiredService<RoutedSafetyGuard>().WarmUpAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OptionsValidationException or SafeRouteException)
        {
            await error.WriteLineAsync($"SafeRoute could not start: {ex.Message}").ConfigureAwait(false);
            return 2;
        }

        IEnumerable<string> texts = args.Count > 0 ? args : ReadLines(input);
        foreach (string text in texts)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            long start = Stopwatch.GetTimestamp();
            SafetyVerdict verdict = await guard.EvaluateAsync(new SafetyRequest(text), cancellationToken).ConfigureAwait(false);
            TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
            await output.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"{(verdict.IsUnsafe ? "unsafe" : "safe"),-6}  p(unsafe)={verdict.UnsafeProbability:0.000}  tier={verdict.DecidedBy,-5}  router={verdict.RouterScore:0.000}  {elapsed.TotalMilliseconds,6:0.0} ms{(verdict.WasTruncated ? "  truncated" : "")}")).ConfigureAwait(false);
        }

        return 0;
    }

    private static IEnumerable<string> ReadLines(TextReader input)
    {
        while (input.ReadLine() is { } line)
        {
            yield return line;
        }
    }
}
