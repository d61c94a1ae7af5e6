using ScottPlot;

namespace Mechanist.Reports.Plots;

/// <summary>
/// Training curves: one panel per metric (loss, FVU, L0, dead fraction by default), one line per run, against the
/// log's step or epoch. A metric whose values span two decades or more is drawn on a log axis.
/// </summary>
public static class TrainingCurves
{
    /// <summary>The metrics an SAE trainer logs, in the order they are drawn when present.</summary>
    public static readonly string[] Preferred = ["loss", "fvu", "l0", "dead_fraction"];

    public static Figure Render(IReadOnlyList<RunLog> runs, IReadOnlyList<string>? metrics = null, string? title = null)
    {
        if (runs.Count == 0) throw new MechanistInputException("training curves need at least one log.");
        var available = runs.SelectMany(r => r.Metrics).Distinct().ToList();
        var chosen = metrics is { Count: > 0 } ? metrics
            : Preferred.Where(available.Contains).ToList() is { Count: > 0 } preferred ? preferred : available;
        foreach (var m in chosen)
            if (!available.Contains(m))
                throw new MechanistInputException(
                    $"training curves: no log has the metric '{m}'; the logs have {string.Join(", ", available.Select(a => $"'{a}'"))}.");
        if (chosen.Count == 0) throw new MechanistInputException($"training curves: {runs[0].Source} has no metrics to plot.");

        var panels = new List<Plot>();
        foreach (var metric in chosen)
        {
            var plot = Figure.NewPanel();
            Figure.Title(plot, chosen.Count == 1 && title is not null ? title : metric);
            plot.XLabel(runs[0].XName);
            var series = runs.Select(r => (Run: r, Data: r.Series(metric))).Where(s => s.Data.X.Length > 0).ToList();
            bool log = Axes.WantsLog(series.SelectMany(s => s.Data.Y));
            for (int i = 0; i < series.Count; i++)
            {
                var (run, (xs, ys)) = series[i];
                (xs, ys) = Axes.Decimate(xs, ys);
                var line = plot.Add.Scatter(xs, log ? ys.Select(Math.Log10).ToArray() : ys, Axes.Colour(runs.ToList().IndexOf(run)));
                line.MarkerSize = xs.Length == 1 ? 6 : 0;
                line.LineWidth = 1.6f;
                if (runs.Count > 1) line.LegendText = run.Name;
            }
            if (log) Axes.LogY(plot);
            if (runs.Count > 1) plot.ShowLegend(Alignment.UpperRight);
            panels.Add(plot);
        }
        int columns = panels.Count == 1 ? 1 : 2;
        int rows = (panels.Count + columns - 1) / columns;
        return Figure.Grid(panels, columns, columns == 1 ? Figure.DefaultWidth : 960, Math.Max(Figure.DefaultHeight, rows * 320));
    }
}
