using System.Globalization;
using System.Text;
using System.Text.Json;
using SafeRoute.Training;

namespace SafeRoute.Cli;

/// <summary>What a routing method is in the budget comparison.</summary>
internal enum MethodRole
{
    /// <summary>The trained router under test (SafeRoute).</summary>
    Trained,

    /// <summary>One of the paper's baselines (Random, Entropy, TS, CC, BC): the bootstrap compares the trained router with the best of them.</summary>
    Baseline,

    /// <summary>Another router file given on the command line: shown, not compared.</summary>
    Extra,
}

/// <summary>A routing method reduced to its scores: per evaluated row, and (with --calibrate-on) per calibration row.</summary>
/// <param name="Name">The name in tables and plots.</param>
/// <param name="Scores">The score per evaluated row; a row is routed when its score is above ε, or NaN.</param>
/// <param name="DefaultThreshold">The method's own ε (the router file's, or 0.5 bits for the entropy family).</param>
/// <param name="Role">Its role in the comparison.</param>
/// <param name="CalibrationScores">The score per calibration row, or <see langword="null"/> to choose ε on the evaluated rows.</param>
internal sealed record ScoredMethod(string Name, float[] Scores, float DefaultThreshold, MethodRole Role, float[]? CalibrationScores);

/// <summary>One method at one large-guard share (or at its own ε).</summary>
internal sealed record BudgetPoint(double TargetShare, float Threshold, double Share, double SafetyF1, double RoutingF1, double? RelativeLatency, double? LatencyMs, double? RelativeFlops);

/// <summary>A paired-bootstrap comparison of the trained router with the best baseline at one share, for one metric.</summary>
internal sealed record BootstrapDelta(double TargetShare, string Metric, string Baseline, double Delta, double Low, double High)
{
    /// <summary>Whether the 95% interval includes 0: the difference is within resampling noise.</summary>
    public bool WithinNoise => Low <= 0 && High >= 0;
}

/// <summary>Costs per input of the two guards (latency in ms and FLOPs), when known.</summary>
internal sealed record GuardCosts(double? SmallMs, double? LargeMs, double? SmallFlops, double? LargeFlops);

/// <summary>
/// Every routing method at a grid of large-guard shares: for each method and share, ε is chosen with
/// <see cref="ThresholdCalibrator.ForTargetShare"/> (on the calibration rows when given, else on the evaluated rows) and
/// applied to the evaluated rows. Tied scores are routed together, so a share is reached only as nearly as the ties
/// allow: the nearest achievable share wins, the smaller one on equal distance; share 0 routes nothing (but NaN scores),
/// share 1 routes everything. The achieved share is reported beside the target.
/// </summary>
internal sealed class BudgetCurves
{
    /// <summary>The default grid of large-guard shares.</summary>
    public static readonly double[] DefaultShares = [0.05, 0.10, 0.15, 0.20, 0.30, 0.50];

    private BudgetCurves(double[] shares, IReadOnlyList<ScoredMethod> methods, IReadOnlyList<BudgetPoint[]> points, IReadOnlyList<BudgetPoint> atDefault, IReadOnlyList<BootstrapDelta> bootstrap, int resamples, int seed, bool calibratedElsewhere, IReadOnlyList<bool[][]> decisions, IReadOnlyList<(string Name, BudgetPoint Point)> references)
    {
        Decisions = decisions;
        References = references;
        Shares = shares;
        Methods = methods;
        Points = points;
        AtDefault = atDefault;
        Bootstrap = bootstrap;
        Resamples = resamples;
        Seed = seed;
        CalibratedElsewhere = calibratedElsewhere;
    }

    public double[] Shares { get; }

    public IReadOnlyList<ScoredMethod> Methods { get; }

    /// <summary>Per method (in <see cref="Methods"/> order), one point per share.</summary>
    public IReadOnlyList<BudgetPoint[]> Points { get; }

    /// <summary>Per method, the point at its own ε.</summary>
    public IReadOnlyList<BudgetPoint> AtDefault { get; }

    public IReadOnlyList<BootstrapDelta> Bootstrap { get; }

    /// <summary>Small (nothing routed), Large (everything) and Oracle (exactly the hard rows), for reference.</summary>
    public IReadOnlyList<(string Name, BudgetPoint Point)> References { get; }

    /// <summary>Per method, per share, the routing decision per evaluated row.</summary>
    public IReadOnlyList<bool[][]> Decisions { get; }

    public int Resamples { get; }

    public int Seed { get; }

    /// <summary>Whether ε was chosen on other rows (--calibrate-on) than the evaluated ones.</summary>
    public bool CalibratedElsewhere { get; }

    /// <summary>Random scores for the Random baseline: seeded, so that "score above 0.5" routes each row with probability 0.5,
    /// the same rows <see cref="RoutingEvaluator"/>'s Random routes with the same seed.</summary>
    public static float[] RandomScores(int count, int seed)
    {
        var random = new Random(seed);
        float[] scores = new float[count];
        for (int i = 0; i < count; i++)
        {
            // RoutingEvaluator routes when u < 0.5; 1 − u > 0.5 is the same decision.
            scores[i] = (float)(1 - random.NextDouble());
        }

        return scores;
    }

    /// <summary>Evaluates the methods at the shares and bootstraps the trained router against the best baseline.</summary>
    public static BudgetCurves Evaluate(FeatureSet data, IReadOnlyList<ScoredMethod> methods, double[] shares, GuardCosts costs, int resamples, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        foreach (double s in shares)
        {
            if (!(s is >= 0 and <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(shares), s, "Shares must be in [0, 1].");
            }
        }

        shares = [.. shares.Distinct().Order()];
        var points = new List<BudgetPoint[]>();
        var atDefault = new List<BudgetPoint>();
        var decisions = new List<bool[][]>();
        foreach (ScoredMethod m in methods)
        {
            if (m.Scores.Length != data.Count)
            {
                throw new ArgumentException($"{m.Name} has {m.Scores.Length} scores for {data.Count} rows.", nameof(methods));
            }

            var row = new BudgetPoint[shares.Length];
            var routes = new bool[shares.Length][];
            for (int k = 0; k < shares.Length; k++)
            {
                float eps = ThresholdCalibrator.ForTargetShare(m.CalibrationScores ?? m.Scores, shares[k]).Threshold;
                routes[k] = Route(m.Scores, eps);
                row[k] = Measure(data, routes[k], shares[k], eps, costs);
            }

            points.Add(row);
            decisions.Add(routes);
            atDefault.Add(Measure(data, Route(m.Scores, m.DefaultThreshold), double.NaN, m.DefaultThreshold, costs));
        }

        var bootstrap = new List<BootstrapDelta>();
        int trained = methods.ToList().FindIndex(m => m.Role == MethodRole.Trained);
        int[] baselines = [.. Enumerable.Range(0, methods.Count).Where(i => methods[i].Role == MethodRole.Baseline)];
        if (trained >= 0 && baselines.Length > 0 && resamples > 0 && data.Count > 0)
        {
            // One resample at a time (n row counts), shared by every share and metric: a paired bootstrap.
            var pairs = new List<(int Share, bool Safety, int Best)>();
            for (int k = 0; k < shares.Length; k++)
            {
                foreach (bool safety in (bool[])[true, false])
                {
                    pairs.Add((k, safety, baselines.MaxBy(b => safety ? points[b][k].SafetyF1 : points[b][k].RoutingF1)));
                }
            }

            double[][] deltas = [.. pairs.Select(_ => new double[resamples])];
            var random = new Random(seed);
            int[] weights = new int[data.Count];
            for (int r = 0; r < resamples; r++)
            {
                Draw(random, weights);
                for (int p = 0; p < pairs.Count; p++)
                {
                    (int k, bool safety, int best) = pairs[p];
                    deltas[p][r] = Metric(data, decisions[trained][k], weights, safety) - Metric(data, decisions[best][k], weights, safety);
                }
            }

            for (int p = 0; p < pairs.Count; p++)
            {
                (int k, bool safety, int best) = pairs[p];
                Array.Sort(deltas[p]);
                double delta = safety ? points[trained][k].SafetyF1 - points[best][k].SafetyF1 : points[trained][k].RoutingF1 - points[best][k].RoutingF1;
                bootstrap.Add(new BootstrapDelta(shares[k], safety ? "safety F1" : "routing F1", methods[best].Name, delta, Quantile(deltas[p], 0.025), Quantile(deltas[p], 0.975)));
            }
        }

        bool elsewhere = methods.Any(m => m.CalibrationScores is not null);
        (string, BudgetPoint)[] references =
        [
            ("Small", Measure(data, new bool[data.Count], double.NaN, float.NaN, costs)),
            ("Large", Measure(data, [.. Enumerable.Repeat(true, data.Count)], double.NaN, float.NaN, costs)),
            ("Oracle", Measure(data, data.HardLabels.ToArray(), double.NaN, float.NaN, costs)),
        ];
        return new BudgetCurves(shares, methods, points, atDefault, bootstrap, resamples, seed, elsewhere, decisions, references);
    }

    /// <summary>One resample: how often each row is drawn in n draws with replacement.</summary>
    internal static void Draw(Random random, int[] weights)
    {
        Array.Clear(weights);
        for (int i = 0; i < weights.Length; i++)
        {
            weights[random.Next(weights.Length)]++;
        }
    }

    /// <summary>The linear-interpolation quantile (type 7) of sorted values.</summary>
    internal static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        double h = (sorted.Length - 1) * q;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + ((h - lo) * (sorted[hi] - sorted[lo]));
    }

    /// <summary>Area under each method's curve over the grid (trapezoids over the target shares), divided by the grid's
    /// width: a mean F1 over the grid. With one share, the value there.</summary>
    public double Area(int method, bool safety)
    {
        BudgetPoint[] row = Points[method];
        if (row.Length == 1)
        {
            return safety ? row[0].SafetyF1 : row[0].RoutingF1;
        }

        double area = 0;
        for (int k = 1; k < row.Length; k++)
        {
            double y0 = safety ? row[k - 1].SafetyF1 : row[k - 1].RoutingF1;
            double y1 = safety ? row[k].SafetyF1 : row[k].RoutingF1;
            area += (row[k].TargetShare - row[k - 1].TargetShare) * (y0 + y1) / 2;
        }

        return area / (row[^1].TargetShare - row[0].TargetShare);
    }

    internal static bool[] Route(float[] scores, float threshold)
    {
        bool[] route = new bool[scores.Length];
        for (int i = 0; i < scores.Length; i++)
        {
            route[i] = float.IsNaN(scores[i]) || scores[i] > threshold;
        }

        return route;
    }

    private static BudgetPoint Measure(FeatureSet data, bool[] route, double target, float threshold, GuardCosts costs)
    {
        int n = data.Count;
        int routed = route.Count(r => r);
        double share = n == 0 ? 0 : (double)routed / n;
        double? latency = costs.SmallMs is double sm && costs.LargeMs is double lm ? sm + (share * lm) : null;
        double? relLatency = latency / costs.SmallMs;
        double? relFlops = costs.SmallFlops is double sf && costs.LargeFlops is double lf ? (sf + (share * lf)) / sf : null;
        return new BudgetPoint(target, threshold, share, Metric(data, route, null, safety: true), Metric(data, route, null, safety: false), relLatency, latency, relFlops);
    }

    /// <summary>Safety F1 (unsafe positive; the deciding guard's p &gt; 0.5) or routing F1 (decisions against the hard labels), with row weights (null: each row once).</summary>
    internal static double Metric(FeatureSet data, bool[] route, int[]? weights, bool safety)
    {
        ReadOnlySpan<float> small = data.SmallUnsafeProbabilities, large = data.LargeUnsafeProbabilities;
        ReadOnlySpan<int> labels = data.Labels;
        ReadOnlySpan<bool> hard = data.HardLabels;
        long tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < route.Length; i++)
        {
            int w = weights is null ? 1 : weights[i];
            if (w == 0)
            {
                continue;
            }

            bool predicted, truth;
            if (safety)
            {
                predicted = (route[i] ? large[i] : small[i]) > (float)HardLabels.DecisionThreshold;
                truth = labels[i] == 1;
            }
            else
            {
                predicted = route[i];
                truth = hard[i];
            }

            if (predicted && truth)
            {
                tp += w;
            }
            else if (predicted)
            {
                fp += w;
            }
            else if (truth)
            {
                fn += w;
            }
        }

        return tp == 0 ? 0 : 2.0 * tp / ((2 * tp) + fp + fn);
    }

    /// <summary>The budget section of the Markdown report.</summary>
    public string ToMarkdown()
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine().AppendLine("## Every method at the same large-guard share").AppendLine();
        sb.AppendLine(CalibratedElsewhere
            ? "Each method's ε is chosen **on the --calibrate-on rows** for each target share (nearest achievable share; tied scores route together, the smaller share on equal distance) and applied unchanged to the evaluated rows, as a deployment would: the achieved share on the evaluated rows can differ from the target."
            : "Each method's ε is chosen **on the evaluated rows themselves** for each target share (nearest achievable share; tied scores route together, the smaller share on equal distance): an in-sample choice, optimistic for every method alike. Use --calibrate-on to choose ε on other labelled rows.");
        sb.AppendLine();
        bool latency = Points.Any(r => r.Any(p => p.RelativeLatency is not null));
        bool flops = Points.Any(r => r.Any(p => p.RelativeFlops is not null));
        sb.Append("| Target share | Method | ε | Share | Safety F1 | Routing F1 |").Append(latency ? " Latency (ms) | × Small |" : "").Append(flops ? " FLOPs × Small |" : "").AppendLine();
        sb.Append("|---:|---|---:|---:|---:|---:|").Append(latency ? "---:|---:|" : "").Append(flops ? "---:|" : "").AppendLine();
        for (int k = 0; k < Shares.Length; k++)
        {
            for (int m = 0; m < Methods.Count; m++)
            {
                Row(Pct(Shares[k]), Methods[m].Name, Points[m][k]);
            }
        }

        for (int m = 0; m < Methods.Count; m++)
        {
            Row("own ε", Methods[m].Name, AtDefault[m]);
        }

        sb.AppendLine().Append("For reference: ").AppendJoin(", ", References.Select(r => string.Create(c, $"{r.Name} safety F1 {r.Point.SafetyF1:0.0000} at {Pct(r.Point.Share)}"))).AppendLine(" (Oracle uses the true labels: an upper bound, not a method).");
        sb.AppendLine().AppendLine("Area under each curve over the grid (trapezoids over the target shares " + Pct(Shares[0]) + "–" + Pct(Shares[^1]) + ", divided by the grid's width: a mean F1 over the grid):").AppendLine();
        sb.AppendLine("| Method | Safety F1 area | Routing F1 area |").AppendLine("|---|---:|---:|");
        for (int m = 0; m < Methods.Count; m++)
        {
            sb.Append(c, $"| {Methods[m].Name} | {Area(m, true):0.0000} | {Area(m, false):0.0000} |").AppendLine();
        }

        if (Bootstrap.Count > 0)
        {
            string trained = Methods.First(m => m.Role == MethodRole.Trained).Name;
            sb.AppendLine().AppendLine("## " + trained + " against the best baseline, with 95% intervals").AppendLine();
            sb.Append(c, $"Paired bootstrap: {Resamples:N0} resamples of the evaluated rows with replacement (seed {Seed}), both methods scored on the same resample; ");
            sb.AppendLine("ε stays as chosen above, so the interval covers the sampling of rows, not the choice of ε. The best baseline (Random, Entropy, TS, CC, BC) is the one with the highest value at that share on all rows, chosen per metric. Δ = " + trained + " − that baseline; 95% percentile interval.").AppendLine();
            sb.AppendLine("| Target share | Metric | Best baseline | Δ | 95% interval | Reading |").AppendLine("|---:|---|---|---:|---|---|");
            foreach (BootstrapDelta d in Bootstrap)
            {
                string reading = d.WithinNoise ? "within noise (interval includes 0)" : d.Delta > 0 ? $"{trained} better" : $"{d.Baseline} better";
                sb.Append(c, $"| {Pct(d.TargetShare)} | {d.Metric} | {d.Baseline} | {d.Delta:+0.0000;-0.0000;0.0000} | [{d.Low:+0.0000;-0.0000;0.0000}, {d.High:+0.0000;-0.0000;0.0000}] | {reading} |").AppendLine();
            }

            int noise = Bootstrap.Count(d => d.WithinNoise);
            sb.AppendLine().Append(c, $"{noise} of {Bootstrap.Count} differences are within noise");
            string[] clear = [.. Bootstrap.Where(d => !d.WithinNoise).Select(d => string.Create(c, $"{d.Metric} at {Pct(d.TargetShare)} ({(d.Delta > 0 ? trained : d.Baseline)} better)"))];
            sb.AppendLine(clear.Length == 0 ? "." : "; outside noise: " + string.Join(", ", clear) + ".");
        }

        return sb.ToString();

        void Row(string target, string name, BudgetPoint p)
        {
            sb.Append(c, $"| {target} | {name} | {p.Threshold.ToString("0.####", c)} | {Pct(p.Share)} | {p.SafetyF1:0.0000} | {p.RoutingF1:0.0000} |");
            if (latency)
            {
                sb.Append(c, $" {p.LatencyMs?.ToString("0.###", c) ?? "–"} | {p.RelativeLatency?.ToString("0.###", c) ?? "–"} |");
            }

            if (flops)
            {
                sb.Append(c, $" {p.RelativeFlops?.ToString("0.###", c) ?? "–"} |");
            }

            sb.AppendLine();
        }
    }

    /// <summary>The budget results as JSON.</summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteBoolean("thresholdsChosenOnEvaluatedRows", !CalibratedElsewhere);
        w.WriteStartArray("targetShares");
        foreach (double s in Shares)
        {
            w.WriteNumberValue(s);
        }

        w.WriteEndArray();
        w.WriteStartArray("methods");
        for (int m = 0; m < Methods.Count; m++)
        {
            w.WriteStartObject();
            w.WriteString("method", Methods[m].Name);
            w.WriteString("role", Methods[m].Role.ToString().ToLowerInvariant());
            w.WriteNumber("safetyF1Area", Area(m, true));
            w.WriteNumber("routingF1Area", Area(m, false));
            w.WritePropertyName("atOwnThreshold");
            Point(w, AtDefault[m]);
            w.WriteStartArray("points");
            foreach (BudgetPoint p in Points[m])
            {
                Point(w, p);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("references");
        foreach ((string name, BudgetPoint p) in References)
        {
            w.WriteStartObject();
            w.WriteString("method", name);
            w.WriteNumber("largeShare", p.Share);
            w.WriteNumber("safetyF1", p.SafetyF1);
            w.WriteNumber("routingF1", p.RoutingF1);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("bootstrap");
        w.WriteNumber("resamples", Resamples);
        w.WriteNumber("seed", Seed);
        w.WriteStartArray("deltas");
        foreach (BootstrapDelta d in Bootstrap)
        {
            w.WriteStartObject();
            w.WriteNumber("targetShare", d.TargetShare);
            w.WriteString("metric", d.Metric);
            w.WriteString("baseline", d.Baseline);
            w.WriteNumber("delta", d.Delta);
            w.WriteNumber("low", d.Low);
            w.WriteNumber("high", d.High);
            w.WriteBoolean("withinNoise", d.WithinNoise);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();

        static void Point(Utf8JsonWriter w, BudgetPoint p)
        {
            w.WriteStartObject();
            if (double.IsFinite(p.TargetShare))
            {
                w.WriteNumber("targetShare", p.TargetShare);
            }

            w.WriteNumber("threshold", p.Threshold);
            w.WriteNumber("largeShare", p.Share);
            w.WriteNumber("safetyF1", p.SafetyF1);
            w.WriteNumber("routingF1", p.RoutingF1);
            Nullable(w, "latencyMs", p.LatencyMs);
            Nullable(w, "relativeLatency", p.RelativeLatency);
            Nullable(w, "relativeFlops", p.RelativeFlops);
            w.WriteEndObject();
        }

        static void Nullable(Utf8JsonWriter w, string name, double? v)
        {
            if (v is double x && double.IsFinite(x))
            {
                w.WriteNumber(name, x);
            }
            else
            {
                w.WriteNull(name);
            }
        }
    }

    /// <summary>The grid index nearest to <paramref name="share"/> (the smaller share on equal distance).</summary>
    public int NearestShare(double share) => Enumerable.Range(0, Shares.Length).MinBy(k => (Math.Abs(Shares[k] - share), Shares[k]));

    /// <summary>
    /// The per-source section: for each source, its rows, unsafe and hard counts, Small, Large and Oracle F1, and every
    /// method at the ε chosen for the reference share over all rows (safety F1, routed share and routing F1 within the source).
    /// Empty when fewer than two distinct sources (or none) are given.
    /// </summary>
    public string PerSourceMarkdown(FeatureSet data, IReadOnlyList<string> sources, double referenceShare)
    {
        string[] names = [.. sources.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        if (names.Length < 2 || sources.Count != data.Count)
        {
            return "";
        }

        CultureInfo c = CultureInfo.InvariantCulture;
        int k = NearestShare(referenceShare);
        var sb = new StringBuilder();
        sb.AppendLine().AppendLine("## By source").AppendLine();
        sb.Append(c, $"Every method at the ε chosen for {Pct(Shares[k])} of all rows (above), measured within each source: safety F1 / share of the source's rows sent to the large guard / routing F1. ");
        sb.AppendLine("Sources are small: read differences between methods here as indications, not results (no intervals).").AppendLine();
        sb.Append("| Source | Rows | Unsafe | Hard | Small F1 | Large F1 | Oracle F1 |");
        foreach (ScoredMethod m in Methods)
        {
            sb.Append(c, $" {m.Name} |");
        }

        sb.AppendLine().Append("|---|---:|---:|---:|---:|---:|---:|").Append(string.Concat(Enumerable.Repeat("---|", Methods.Count))).AppendLine();
        bool[] none = new bool[data.Count];
        bool[] all = [.. Enumerable.Repeat(true, data.Count)];
        bool[] oracle = data.HardLabels.ToArray();
        foreach (string? name in names.Append<string?>(null))
        {
            int[] weights = [.. sources.Select(s => name is null || s == name ? 1 : 0)];
            int rows = weights.Sum();
            int unsafeRows = 0, hard = 0;
            for (int i = 0; i < data.Count; i++)
            {
                unsafeRows += weights[i] * data.Labels[i];
                hard += data.HardLabels[i] ? weights[i] : 0;
            }

            sb.Append(c, $"| {(name is null ? "**all**" : Escape(name))} | {rows} | {unsafeRows} | {hard} | {Metric(data, none, weights, true):0.000} | {Metric(data, all, weights, true):0.000} | {Metric(data, oracle, weights, true):0.000} |");
            for (int m = 0; m < Methods.Count; m++)
            {
                bool[] route = Decisions[m][k];
                int routed = 0;
                for (int i = 0; i < route.Length; i++)
                {
                    routed += route[i] ? weights[i] : 0;
                }

                sb.Append(c, $" {Metric(data, route, weights, true):0.000} / {Pct(rows == 0 ? 0 : (double)routed / rows)} / {Metric(data, route, weights, false):0.000} |");
            }

            sb.AppendLine();
        }

        return sb.ToString();

        static string Escape(string s) => s.Replace("|", "\\|", StringComparison.Ordinal);
    }

    internal static string Pct(double share) => (100 * share).ToString("0.##", CultureInfo.InvariantCulture) + "%";
}
