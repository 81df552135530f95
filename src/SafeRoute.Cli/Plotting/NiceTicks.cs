using System.Globalization;

namespace SafeRoute.Cli.Plotting;

/// <summary>Axis ticks at "nice" values: steps of 1, 2 or 5 times a power of ten.</summary>
internal static class NiceTicks
{
    /// <summary>The smallest 1-2-5 step that splits <paramref name="range"/> into at most about <paramref name="targetCount"/> intervals.</summary>
    public static double Step(double range, int targetCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetCount);
        if (!(range > 0) || !double.IsFinite(range))
        {
            return 1;
        }

        double rough = range / targetCount;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double normalized = rough / magnitude;
        double nice = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10;
        return nice * magnitude;
    }

    /// <summary>The multiples of <paramref name="step"/> in [min, max].</summary>
    public static IReadOnlyList<double> Ticks(double min, double max, double step)
    {
        var ticks = new List<double>();
        if (!(step > 0) || !(max >= min))
        {
            return ticks;
        }

        double tolerance = step * 1e-9;
        long first = (long)Math.Ceiling((min - tolerance) / step);
        for (long i = first; (i * step) <= max + tolerance && ticks.Count < 1000; i++)
        {
            double value = i * step;
            ticks.Add(Math.Abs(value) < tolerance ? 0 : value);
        }

        return ticks;
    }

    /// <summary>Formats a tick value with as many decimals as the step needs (invariant culture).</summary>
    public static string Format(double value, double step)
    {
        int decimals = step > 0 ? Math.Clamp((int)Math.Ceiling(-Math.Log10(step) - 1e-9), 0, 15) : 0;
        if (Math.Abs(value) < step * 1e-9)
        {
            value = 0;
        }

        return value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }
}
