using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.AI;

namespace SafeRoute.Samples.Chat;

/// <summary>Measures the latency SafeRoute's chat middleware adds over the offline echo client:
/// <c>dotnet run -c Release --project samples/SafeRoute.Samples.Chat -- --measure</c>.</summary>
public static class LatencyProbe
{
    private static readonly string[] Prompts =
    [
        "What is the capital of France, and what are three things a first-time visitor should see there in one day?",
        "Write a short poem about autumn leaves falling in a quiet park while children play nearby.",
        "Explain how photosynthesis works in simple terms that a ten year old could understand easily.",
        "Recommend three classic novels for a long summer holiday and say briefly why each is worth reading.",
        "How do I change a flat tire on a bicycle, step by step, with only basic tools at hand?",
    ];

    private static int _blocked;

    /// <summary>Runs <paramref name="rounds"/> rounds over five benign prompts and writes mean latencies.</summary>
    /// <param name="guarded">The client with UseSafeRoute.</param>
    /// <param name="plain">The same inner client without it.</param>
    /// <param name="rounds">Rounds over the prompts.</param>
    /// <param name="windowChars">The streaming window in use (for the report).</param>
    /// <param name="output">Where the report goes.</param>
    /// <returns>A task.</returns>
    public static async Task RunAsync(IChatClient guarded, IChatClient plain, int rounds, int windowChars, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(guarded);
        ArgumentNullException.ThrowIfNull(plain);
        ArgumentNullException.ThrowIfNull(output);
        await guarded.GetResponseAsync(Prompts[0]).ConfigureAwait(false); // warm-up
        (double plainTotal, double plainFirst) = await MeasureAsync(plain, rounds).ConfigureAwait(false);
        (double guardedTotal, double guardedFirst) = await MeasureAsync(guarded, rounds).ConfigureAwait(false);
        double plainResponse = await MeasureResponseAsync(plain, rounds).ConfigureAwait(false);
        double guardedResponse = await MeasureResponseAsync(guarded, rounds).ConfigureAwait(false);
        int n = rounds * Prompts.Length;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n} exchanges, replies of {Prompts.Min(p => p.Length) + 10}-{Prompts.Max(p => p.Length) + 10} chars, streaming window {windowChars} chars, {_blocked} blocked by the demonstration models"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"GetResponseAsync           mean: plain {plainResponse:0.000} ms, guarded {guardedResponse:0.000} ms, added {guardedResponse - plainResponse:0.000} ms"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Streaming first update     mean: plain {plainFirst:0.000} ms, guarded {guardedFirst:0.000} ms, added {guardedFirst - plainFirst:0.000} ms"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Streaming whole reply      mean: plain {plainTotal:0.000} ms, guarded {guardedTotal:0.000} ms, added {guardedTotal - plainTotal:0.000} ms"));
    }

    private static async Task<double> MeasureResponseAsync(IChatClient client, int rounds)
    {
        long started = Stopwatch.GetTimestamp();
        for (int r = 0; r < rounds; r++)
        {
            foreach (string prompt in Prompts)
            {
                ChatResponse response = await client.GetResponseAsync(prompt).ConfigureAwait(false);
                if (response.FinishReason == ChatFinishReason.ContentFilter)
                {
                    Interlocked.Increment(ref _blocked);
                }
            }
        }

        return Stopwatch.GetElapsedTime(started).TotalMilliseconds / (rounds * Prompts.Length);
    }

    private static async Task<(double Total, double First)> MeasureAsync(IChatClient client, int rounds)
    {
        double total = 0;
        double first = 0;
        for (int r = 0; r < rounds; r++)
        {
            foreach (string prompt in Prompts)
            {
                long started = Stopwatch.GetTimestamp();
                bool seen = false;
                await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(prompt).ConfigureAwait(false))
                {
                    if (update.FinishReason == ChatFinishReason.ContentFilter)
                    {
                        Interlocked.Increment(ref _blocked);
                    }

                    if (!seen)
                    {
                        first += Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                        seen = true;
                    }
                }

                total += Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }

        int n = rounds * Prompts.Length;
        return (total / n, first / n);
    }
}
