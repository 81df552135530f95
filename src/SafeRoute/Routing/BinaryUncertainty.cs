namespace SafeRoute.Routing;

/// <summary>
/// Numerically stable helpers for the uncertainty baselines. Every calibration in the paper's baselines acts on
/// the two-way softmax only through the logit difference d = z_unsafe − z_safe: temperature scaling divides it by τ,
/// and dividing q elementwise by a prior [1 − p, p] and renormalising subtracts logit(p) = ln(p / (1 − p)).
/// </summary>
internal static class BinaryUncertainty
{
    private const double Ln2 = 0.69314718055994530942;

    /// <summary>Returns z_unsafe − z_safe in double precision (no overflow for any finite float pair).</summary>
    public static double LogitDifference(float safeLogit, float unsafeLogit) => (double)unsafeLogit - safeLogit;

    /// <summary>Returns ln(p / (1 − p)).</summary>
    public static double Logit(double p) => Math.Log(p) - Log1P(-p);

    /// <summary>Returns softplus(x) = ln(1 + eˣ) without overflow.</summary>
    public static double Softplus(double x) => Math.Max(x, 0) + Log1P(Math.Exp(-Math.Abs(x)));

    /// <summary>Returns σ(x) = 1 / (1 + e⁻ˣ) in [0, 1], without overflow.</summary>
    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>
    /// Returns the binary entropy in bits of softmax([0, d]) = [σ(−d), σ(d)], computed from log-probabilities
    /// (log σ(d) = −softplus(−d)), so it is finite for any non-NaN d including ±∞; NaN in gives NaN out.
    /// </summary>
    public static double EntropyBits(double d)
    {
        if (double.IsNaN(d))
        {
            return double.NaN;
        }

        double logQ1 = -Softplus(-d);
        double logQ0 = -Softplus(d);
        double h = -(PLogP(logQ0) + PLogP(logQ1)) / Ln2;
        return Math.Clamp(h, 0, 1);
    }

    // q·ln q from ln q, with 0·ln 0 = 0.
    private static double PLogP(double logQ)
    {
        double q = Math.Exp(logQ);
        return q == 0 ? 0 : q * logQ;
    }

    // ln(1 + x), accurate for tiny x (the correction keeps the relative error near machine precision).
    private static double Log1P(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }
}
