using System.Globalization;
using ScottPlot;

namespace Mechanist.Reports.Plots;

/// <summary>
/// The feature-density histogram, the standard health picture of a sparse dictionary: how many features fire at each
/// log10 firing frequency. Features that never fired cannot be placed on a log axis; their count is stated in the
/// title. The dashed line at 10⁻¹ is the dense-latent threshold of MECH1004 (fires on more than 10% of rows).
/// </summary>
public static class DensityHistogram
{
    public const int Bins = 40;

    /// <param name="frequencies">each feature's firing frequency in [0, 1] (fraction of rows where it is non-zero).</param>
    /// <param name="rows">rows the frequencies were measured on (sets the lowest frequency that can be seen, 1/rows).</param>
    public static Figure Render(IReadOnlyList<double> frequencies, long rows, string? title = null,
        int width = Figure.DefaultWidth, int height = Figure.DefaultHeight) => Figure.Single(Panel(frequencies, rows, title), width, height);

    /// <summary>The histogram as one panel (several side by side compare decompositions).</summary>
    public static Plot Panel(IReadOnlyList<double> frequencies, long rows, string? title = null)
    {
        if (frequencies.Count == 0) throw new MechanistInputException("a density histogram needs at least one feature.");
        for (int i = 0; i < frequencies.Count; i++)
        {
            PlotValues.Finite(frequencies[i], "density", "firing frequency", $"feature {i}");
            if (frequencies[i] is < 0 or > 1)
                throw new MechanistInputException($"density: firing frequency of feature {i} is {frequencies[i]}, outside [0, 1].");
        }
        var live = frequencies.Where(f => f > 0).Select(Math.Log10).ToArray();
        int dead = frequencies.Count - live.Length;
        double lo = Math.Floor(Math.Min(rows > 0 ? -Math.Log10(rows) : -6, live.Length > 0 ? live.Min() : -1));
        double hi = 0;
        double width1 = (hi - lo) / Bins;
        var counts = new double[Bins];
        foreach (var v in live) counts[Math.Clamp((int)((v - lo) / width1), 0, Bins - 1)]++;

        var plot = Figure.NewPanel();
        var inv = CultureInfo.InvariantCulture;
        Figure.Title(plot, (title is null ? "feature density" : title) + $" ({frequencies.Count} feature{(frequencies.Count == 1 ? "" : "s")}, {dead} never fired{(rows > 0 && title is null ? $", {rows.ToString("N0", inv)} rows" : "")})");
        plot.XLabel("firing frequency (fraction of rows, log scale)");
        plot.YLabel("features");
        var bars = counts.Select((c, i) => new Bar
        {
            Position = lo + (i + 0.5) * width1, Value = c, Size = width1 * 0.92, FillColor = Axes.Colour(0), LineWidth = 0,
        }).ToArray();
        plot.Add.Bars(bars);
        var dense = plot.Add.VerticalLine(-1, 1.2f, Axes.Colour(1), LinePattern.Dashed);
        dense.LegendText = "dense (MECH1004): fires on > 10% of rows";
        plot.ShowLegend(Alignment.UpperLeft);
        Axes.LogX(plot);
        plot.Axes.SetLimitsX(lo - width1, hi + width1);
        plot.Axes.SetLimitsY(0, Math.Max(1, counts.Max()) * 1.1);
        return plot;
    }
}
