namespace SafeRoute.Training;

/// <summary>Confusion counts of a binary decision and the metrics derived from them (0 where undefined, as scikit-learn's zero_division=0).</summary>
internal readonly record struct BinaryCounts(int TruePositives, int FalsePositives, int FalseNegatives, int TrueNegatives)
{
    public double Precision => TruePositives + FalsePositives == 0 ? 0 : (double)TruePositives / (TruePositives + FalsePositives);

    public double Recall => TruePositives + FalseNegatives == 0 ? 0 : (double)TruePositives / (TruePositives + FalseNegatives);

    public double F1 => (2 * TruePositives) + FalsePositives + FalseNegatives == 0 ? 0 : 2.0 * TruePositives / ((2 * TruePositives) + FalsePositives + FalseNegatives);

    public static BinaryCounts Count(ReadOnlySpan<bool> predicted, ReadOnlySpan<bool> actual)
    {
        int tp = 0, fp = 0, fn = 0, tn = 0;
        for (int i = 0; i < predicted.Length; i++)
        {
            if (predicted[i])
            {
                if (actual[i])
                {
                    tp++;
                }
                else
                {
                    fp++;
                }
            }
            else if (actual[i])
            {
                fn++;
            }
            else
            {
                tn++;
            }
        }

        return new BinaryCounts(tp, fp, fn, tn);
    }
}
