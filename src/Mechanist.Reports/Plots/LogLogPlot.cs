using System.Globalization;
using ScottPlot;

namespace Mechanist.Reports.Plots;

/// <summary>
/// Series of (x, y) points on logarithmic axes, each with its least-squares line in log–log space, whose slope (the
/// fitted exponent: y ∝ x^slope) is printed in the legend. Used by <c>mechanist bench sae --scaling</c>, which also
/// writes the points as CSV and JSON.
/// </summary>
public static class LogLogPlot
{
    public sealed record Series(string Label, IReadOnlyList<(double X, double Y)> Points, double? Slope = null, double? Intercept = null);

    public static Figure Render(string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        int width = Figure.DefaultWidth, int height = Figure.DefaultHeight)
    {
        if (series.Count == 0 || series.All(s => s.Points.Count == 0)) throw new MechanistInputException($"log-log plot '{title}': no points to draw.");
        foreach (var s in series)
            foreach (var (x, y) in s.Points)
            {
                PlotValues.Finite(x, title, xLabel, $"'{s.Label}'");
                PlotValues.Finite(y, title, yLabel, $"'{s.Label}' at {xLabel} {PlotValues.Short(x)}");
                if (x <= 0 || y <= 0)
                    throw new MechanistInputException($"{title}: '{s.Label}' has {xLabel} {PlotValues.Short(x)}, {yLabel} {PlotValues.Short(y)}; a log-log plot needs positive values.");
            }

        var plot = Figure.NewPanel();
        Figure.Title(plot, title);
        plot.XLabel($"{xLabel} (log scale)");
        plot.YLabel($"{yLabel} (log scale)");
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i];
            var points = s.Points.OrderBy(p => p.X).ToList();
            if (points.Count == 0) continue;
            var colour = Axes.Colour(i);
            var markers = plot.Add.Scatter(points.Select(p => Math.Log10(p.X)).ToArray(), points.Select(p => Math.Log10(p.Y)).ToArray(), colour);
            markers.LineWidth = 0;
            markers.MarkerSize = 8;
            markers.LegendText = s.Slope is double slope && double.IsFinite(slope)
                ? $"{s.Label}: exponent {slope.ToString("0.00", CultureInfo.InvariantCulture)}" : s.Label;
            if (s.Slope is double sl && s.Intercept is double ic && double.IsFinite(sl) && double.IsFinite(ic) && points.Count > 1)
            {
                double x0 = Math.Log10(points[0].X), x1 = Math.Log10(points[^1].X);
                var line = plot.Add.Line(x0, ic + sl * x0, x1, ic + sl * x1);
                line.LineColor = colour;
                line.LineWidth = 1.5f;
            }
        }
        // Ticks at the measured sizes (a sweep over 4k..64k spans barely more than one decade).
        var xs = series.SelectMany(s => s.Points.Select(p => p.X)).Distinct().Order().ToArray();
        plot.Axes.Bottom.SetTicks(xs.Select(Math.Log10).ToArray(), xs.Select(Size).ToArray());
        Axes.LogY(plot);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.Margins(0.08, 0.12);
        return Figure.Single(plot, width, height);
    }

    /// <summary>Least-squares slope and intercept of log10 y against log10 x (NaN with fewer than two positive points).</summary>
    public static (double Slope, double Intercept) Fit(IReadOnlyList<(double X, double Y)> points)
    {
        var logs = points.Where(p => p.X > 0 && p.Y > 0).Select(p => (X: Math.Log10(p.X), Y: Math.Log10(p.Y))).ToList();
        if (logs.Count < 2) return (double.NaN, double.NaN);
        double mx = logs.Average(p => p.X), my = logs.Average(p => p.Y);
        double sxx = logs.Sum(p => (p.X - mx) * (p.X - mx)), sxy = logs.Sum(p => (p.X - mx) * (p.Y - my));
        double slope = sxx > 0 ? sxy / sxx : double.NaN;
        return (slope, my - slope * mx);
    }

    static string Size(double v) => v >= 1024 && v % 1024 == 0 ? (v / 1024).ToString("0", CultureInfo.InvariantCulture) + "k"
        : v.ToString("0.##", CultureInfo.InvariantCulture);
}
