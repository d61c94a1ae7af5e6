using ScottPlot;
using ScottPlot.TickGenerators;

namespace Mechanist.Reports.Plots;

/// <summary>Axis helpers shared by the plots.</summary>
static class Axes
{
    /// <summary>
    /// Makes the left axis read as log10 of the plotted values: ticks at integer exponents labelled <c>10ⁿ</c>, with
    /// log-spaced minor ticks. The caller plots log10 of its values.
    /// </summary>
    public static void LogY(Plot plot) => plot.Axes.Left.TickGenerator = LogTicks();

    public static void LogX(Plot plot) => plot.Axes.Bottom.TickGenerator = LogTicks();

    static NumericAutomatic LogTicks() => new()
    {
        MinorTickGenerator = new LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = PlotValues.PowerOfTen,
    };

    /// <summary>Whether values span enough decades (and are all positive) to read better on a log axis.</summary>
    public static bool WantsLog(IEnumerable<double> values)
    {
        double min = double.PositiveInfinity, max = 0;
        foreach (var v in values)
        {
            if (v <= 0) return false;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        return max > 0 && max / min >= 100;
    }

    /// <summary>
    /// At most about <paramref name="maxPoints"/> points of a long series, keeping the lowest and highest point of each
    /// stretch (so spikes survive) and the ends; shorter series are returned as they are.
    /// </summary>
    public static (double[] X, double[] Y) Decimate(double[] xs, double[] ys, int maxPoints = 1000)
    {
        int n = xs.Length;
        if (n <= maxPoints) return (xs, ys);
        int buckets = Math.Max(1, maxPoints / 2);
        var keep = new SortedSet<int> { 0, n - 1 };
        for (int b = 0; b < buckets; b++)
        {
            int start = (int)((long)b * n / buckets), end = (int)((long)(b + 1) * n / buckets);
            if (end <= start) continue;
            int lo = start, hi = start;
            for (int i = start; i < end; i++)
            {
                if (ys[i] < ys[lo]) lo = i;
                if (ys[i] > ys[hi]) hi = i;
            }
            keep.Add(lo);
            keep.Add(hi);
        }
        return (keep.Select(i => xs[i]).ToArray(), keep.Select(i => ys[i]).ToArray());
    }

    public static readonly Color[] Palette =
    [
        Color.FromHex("#1F77B4"), Color.FromHex("#D62728"), Color.FromHex("#2CA02C"), Color.FromHex("#FF7F0E"),
        Color.FromHex("#9467BD"), Color.FromHex("#8C564B"), Color.FromHex("#E377C2"), Color.FromHex("#7F7F7F"),
        Color.FromHex("#BCBD22"), Color.FromHex("#17BECF"),
    ];

    public static Color Colour(int i) => Palette[i % Palette.Length];
}
