namespace Mechanist.Methods.Evaluation;

/// <summary>Correlation coefficients on plain arrays (double precision).</summary>
public static class RankCorrelation
{
    /// <summary>
    /// Spearman's ρ: the Pearson correlation of the ranks, ties given their average rank. NaN when either side is
    /// constant or fewer than two values are given.
    /// </summary>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y) => Pearson(Ranks(x), Ranks(y));

    /// <summary>Pearson's r; NaN when either side has zero variance or fewer than two values are given.</summary>
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count) throw new ArgumentException($"lengths differ: {x.Count} and {y.Count}.");
        int n = x.Count;
        if (n < 2) return double.NaN;
        double mx = x.Average(), my = y.Average();
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++)
        {
            double dx = x[i] - mx, dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>1-based ranks, ties sharing their average rank.</summary>
    public static double[] Ranks(IReadOnlyList<double> values)
    {
        int n = values.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => values[i]).ToArray();
        var ranks = new double[n];
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && values[order[j + 1]] == values[order[i]]) j++;
            double rank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) ranks[order[k]] = rank;
            i = j + 1;
        }
        return ranks;
    }
}
