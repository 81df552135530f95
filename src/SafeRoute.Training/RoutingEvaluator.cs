using SafeRoute.Routing;

namespace SafeRoute.Training;

/// <summary>
/// Evaluates every routing method of the SafeRoute paper on one labelled set: Small, Large, Random, Entropy, TS, CC,
/// BC (computed with the core's baseline routers), SafeRoute (the learned router's scores) and Oracle.
/// </summary>
/// <remarks>
/// For each method, a row's verdict comes from the guard that decides it (the large guard when routed, the small one
/// otherwise) as p(unsafe) &gt; 0.5. Safety metrics treat unsafe as positive; AUPRC is the average precision
/// (scikit-learn's step-wise definition, ties grouped) over the deciding guard's p(unsafe). Routing metrics compare
/// the routing decisions with the hard labels. Calibration only changes routing: verdicts always use the
/// uncalibrated probabilities.
/// </remarks>
public static class RoutingEvaluator
{
    /// <summary>Evaluates the methods.</summary>
    /// <param name="data">The rows: both guards' logits and the true labels (features are not read).</param>
    /// <param name="safeRouteScores">The learned router's score per row, or empty to leave SafeRoute out.</param>
    /// <param name="options">Thresholds, baseline parameters and costs; <see langword="null"/> for the defaults.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="safeRouteScores"/> is neither empty nor one score per row.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A baseline parameter or cost is out of range.</exception>
    public static RoutingEvaluationReport Evaluate(FeatureSet data, ReadOnlySpan<float> safeRouteScores, RoutingEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= new RoutingEvaluationOptions();
        int n = data.Count;
        if (!safeRouteScores.IsEmpty && safeRouteScores.Length != n)
        {
            throw new ArgumentException($"There are {safeRouteScores.Length} router scores for {n} rows.", nameof(safeRouteScores));
        }

        if (!(options.RandomShare is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.RandomShare, "RandomShare must be in [0, 1].");
        }

        Cost? latency = Cost.Of(options.SmallLatencyMs, options.LargeLatencyMs, "latency");
        Cost? flops = Cost.Of(options.SmallFlops, options.LargeFlops, "FLOPs");

        var results = new List<RoutingMethodResult>();
        bool[] route = new bool[n];

        Add(RoutingMethod.Small, "Small", null, route);

        route.AsSpan().Fill(true);
        Add(RoutingMethod.Large, "Large", null, route);

        var random = new Random(options.RandomSeed);
        for (int i = 0; i < n; i++)
        {
            route[i] = random.NextDouble() < options.RandomShare;
        }

        Add(RoutingMethod.Random, "Random", null, route);

        float u = options.UncertaintyThreshold;
        AddRouter(RoutingMethod.Entropy, "Entropy", new EntropyRouter(), u, data, route);
        if (options.Temperature is float tau)
        {
            AddRouter(RoutingMethod.TemperatureScaling, "TS", new TemperatureScalingRouter(tau), u, data, route);
        }

        if (options.ContentFreeUnsafeProbability is float cf)
        {
            AddRouter(RoutingMethod.ContextualCalibration, "CC", new ContextualCalibrationRouter(cf), u, data, route);
        }

        if (options.MeanUnsafeProbability is float mean)
        {
            AddRouter(RoutingMethod.BatchCalibration, "BC", new BatchCalibrationRouter(mean), u, data, route);
        }

        if (!safeRouteScores.IsEmpty)
        {
            float eps = options.SafeRouteThreshold;
            for (int i = 0; i < n; i++)
            {
                route[i] = Routes(safeRouteScores[i], eps);
            }

            Add(RoutingMethod.SafeRoute, "SafeRoute", eps, route);
        }

        data.HardLabels.CopyTo(route);
        Add(RoutingMethod.Oracle, "Oracle", null, route);

        int unsafeRows = 0;
        int hardRows = 0;
        for (int i = 0; i < n; i++)
        {
            unsafeRows += data.Labels[i];
            hardRows += data.HardLabels[i] ? 1 : 0;
        }

        return new RoutingEvaluationReport(n, unsafeRows, hardRows, results);

        void AddRouter(RoutingMethod method, string name, ISafetyRouter router, float threshold, FeatureSet set, bool[] decisions)
        {
            for (int i = 0; i < set.Count; i++)
            {
                decisions[i] = Routes(router.Score(default, set.SmallSafeLogits[i], set.SmallUnsafeLogits[i]), threshold);
            }

            Add(method, name, threshold, decisions);
        }

        void Add(RoutingMethod method, string name, float? threshold, bool[] decisions)
        {
            results.Add(Measure(method, name, threshold, data, decisions, latency, flops));
        }
    }

    /// <summary>
    /// Fits the TS and BC baselines on training data (τ by maximum likelihood of the true labels; m as the mean small-guard
    /// p(unsafe)) with the core's <see cref="TemperatureScalingRouter.FitTemperature"/> and
    /// <see cref="BatchCalibrationRouter.EstimateMean"/>, and stores them in <paramref name="options"/>.
    /// </summary>
    /// <param name="training">Training rows (not the rows to be evaluated).</param>
    /// <param name="options">The options to fill in.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="training"/> is empty.</exception>
    public static void FitBaselines(FeatureSet training, RoutingEvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(options);
        options.Temperature = TemperatureScalingRouter.FitTemperature(training.SmallSafeLogits, training.SmallUnsafeLogits, training.Labels);
        float m = BatchCalibrationRouter.EstimateMean(training.SmallSafeLogits, training.SmallUnsafeLogits);
        options.MeanUnsafeProbability = Math.Clamp(m, 1e-6f, 1 - 1e-6f);
    }

    /// <summary>Runs the small guard on the content-free input " " and returns its p(unsafe), clamped into (0, 1), for the CC baseline.</summary>
    /// <param name="small">The small guard.</param>
    /// <returns>q(unsafe | " ").</returns>
    /// <exception cref="ArgumentNullException"><paramref name="small"/> is null.</exception>
    public static float MeasureContentFree(OnnxSafetyGuard small)
    {
        return ContextualCalibrationRouter.MeasureContentFree(small);
    }

    // The core's rule: route when the score is above the threshold, and always on NaN.
    private static bool Routes(float score, float threshold) => float.IsNaN(score) || score > threshold;

    private static RoutingMethodResult Measure(RoutingMethod method, string name, float? threshold, FeatureSet data, bool[] route, Cost? latency, Cost? flops)
    {
        int n = data.Count;
        float[] deciding = new float[n];
        bool[] predicted = new bool[n];
        bool[] isUnsafe = new bool[n];
        int routed = 0;
        for (int i = 0; i < n; i++)
        {
            deciding[i] = route[i] ? data.LargeUnsafeProbabilities[i] : data.SmallUnsafeProbabilities[i];
            predicted[i] = deciding[i] > (float)HardLabels.DecisionThreshold;
            isUnsafe[i] = data.Labels[i] == 1;
            routed += route[i] ? 1 : 0;
        }

        BinaryCounts safety = BinaryCounts.Count(predicted, isUnsafe);
        BinaryCounts routing = BinaryCounts.Count(route, data.HardLabels);
        double share = n == 0 ? 0 : (double)routed / n;
        bool largeOnly = method == RoutingMethod.Large;
        return new RoutingMethodResult
        {
            Method = method,
            Name = name,
            Threshold = threshold,
            SafetyF1 = safety.F1,
            SafetyPrecision = safety.Precision,
            SafetyRecall = safety.Recall,
            SafetyAuprc = AveragePrecision(deciding, isUnsafe),
            RoutingF1 = routing.F1,
            RoutingPrecision = routing.Precision,
            RoutingRecall = routing.Recall,
            LargeShare = share,
            LatencyMs = latency?.Total(share, largeOnly),
            RelativeLatency = latency?.Relative(share, largeOnly),
            Flops = flops?.Total(share, largeOnly),
            RelativeFlops = flops?.Relative(share, largeOnly),
        };
    }

    /// <summary>Average precision Σₖ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score thresholds, highest first (0 without positives).</summary>
    internal static double AveragePrecision(float[] scores, bool[] positive)
    {
        int n = scores.Length;
        int totalPositive = positive.Count(p => p);
        if (totalPositive == 0)
        {
            return 0;
        }

        int[] order = [.. Enumerable.Range(0, n).OrderByDescending(i => scores[i])];
        double ap = 0;
        double previousRecall = 0;
        int tp = 0;
        int fp = 0;
        int k = 0;
        while (k < n)
        {
            float s = scores[order[k]];
            while (k < n && scores[order[k]].Equals(s))
            {
                if (positive[order[k]])
                {
                    tp++;
                }
                else
                {
                    fp++;
                }

                k++;
            }

            double recall = (double)tp / totalPositive;
            double precision = (double)tp / (tp + fp);
            ap += (recall - previousRecall) * precision;
            previousRecall = recall;
        }

        return ap;
    }

    private sealed class Cost(double small, double large)
    {
        public static Cost? Of(double? small, double? large, string what)
        {
            if (small is not double s || large is not double l)
            {
                return null;
            }

            if (!(s > 0 && double.IsFinite(s)) || !(l >= 0 && double.IsFinite(l)))
            {
                throw new ArgumentOutOfRangeException(nameof(small), $"The small guard's {what} must be positive and the large guard's non-negative.");
            }

            return new Cost(s, l);
        }

        public double Total(double share, bool largeOnly) => largeOnly ? large : small + (share * large);

        public double Relative(double share, bool largeOnly) => Total(share, largeOnly) / small;
    }
}
