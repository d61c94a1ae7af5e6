using ScottPlot;

namespace Mechanist.Reports.Plots;

/// <summary>
/// The sparsity/fidelity trade-off of several decompositions: L0 (x, lower is better) against a fidelity metric (y:
/// FVU, lower is better; MMCS or the CE-loss score, higher is better). Points no other point dominates are filled and
/// joined as the frontier; dominated points are drawn hollow. Every point is labelled with its method.
/// </summary>
public static class ParetoPlot
{
    public sealed record Point(string Label, double X, double Y);

    /// <summary>Metrics where a larger value is the better one (the frontier runs to the upper left).</summary>
    public static readonly string[] HigherIsBetter = ["mmcs", "explained_variance", "ce_loss_score", "ce_loss_recovered"];

    public static Figure Render(IReadOnlyList<Point> points, string xName = "l0", string yName = "fvu", string? title = null,
        int width = Figure.DefaultWidth, int height = Figure.DefaultHeight)
    {
        if (points.Count == 0) throw new MechanistInputException("a Pareto plot needs at least one point.");
        foreach (var p in points)
        {
            PlotValues.Finite(p.X, "pareto", xName, $"'{p.Label}'");
            PlotValues.Finite(p.Y, "pareto", yName, $"'{p.Label}'");
        }
        bool up = HigherIsBetter.Contains(yName);
        var frontier = Frontier(points, up);

        var plot = Figure.NewPanel();
        Figure.Title(plot, title ?? $"{Short(xName)} vs {Short(yName)} ({(up ? "upper" : "lower")}-left is better)");
        plot.XLabel(Label(xName));
        plot.YLabel(Label(yName));
        if (frontier.Count > 1)
        {
            var line = plot.Add.Scatter(frontier.Select(p => p.X).ToArray(), frontier.Select(p => p.Y).ToArray(), Axes.Colour(0));
            line.MarkerSize = 0;
            line.LineWidth = 2;
            line.LegendText = "frontier";
        }
        foreach (var p in points)
        {
            bool onFrontier = frontier.Contains(p);
            var marker = plot.Add.Marker(p.X, p.Y, onFrontier ? MarkerShape.FilledCircle : MarkerShape.OpenCircle, 11,
                onFrontier ? Axes.Colour(0) : Axes.Colour(3));
            marker.MarkerLineWidth = 2;
            var text = plot.Add.Text(p.Label, p.X, p.Y);
            text.LabelFontSize = 13;
            text.LabelFontName = PlotFont.Family;
            text.LabelAlignment = Alignment.LowerLeft;
            text.OffsetX = 7;
            text.OffsetY = -5;
        }
        if (frontier.Count > 1) plot.ShowLegend(up ? Alignment.LowerRight : Alignment.UpperRight);
        plot.Axes.Margins(0.15, 0.15);
        if (points.All(p => p.X >= 0)) plot.Axes.SetLimitsX(0, Math.Max(1e-9, points.Max(p => p.X)) * 1.2);
        return Figure.Single(plot, width, height);
    }

    /// <summary>The points no other point dominates, by x: lower x and better y (ties: both equal kept).</summary>
    public static IReadOnlyList<Point> Frontier(IReadOnlyList<Point> points, bool higherIsBetter)
    {
        bool Better(double a, double b) => higherIsBetter ? a > b : a < b;
        bool AtLeast(double a, double b) => higherIsBetter ? a >= b : a <= b;
        return points.Where(p => !points.Any(q => !ReferenceEquals(p, q) && q.X <= p.X && AtLeast(q.Y, p.Y) && (q.X < p.X || Better(q.Y, p.Y))))
            .OrderBy(p => p.X).ToList();
    }

    static string Short(string metric) => metric switch
    {
        "l0" => "L0",
        "fvu" => "FVU",
        "mmcs" => "MMCS",
        _ => metric.Replace('_', ' '),
    };

    static string Label(string metric) => metric switch
    {
        "l0" => "L0 (active latents per row)",
        "fvu" => "FVU (fraction of variance unexplained)",
        "mmcs" => "MMCS with the true features",
        "ce_loss_score" => "CE-loss score",
        "explained_variance" => "explained variance",
        _ => metric,
    };
}
