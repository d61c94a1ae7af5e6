using ScottPlot;

namespace Mechanist.Reports.Plots;

/// <summary>
/// Attribution scores as horizontal bars, largest magnitude at the top: positive scores (pushing the metric up) in
/// blue, negative in red, each labelled with its unit (a position, a token, a feature).
/// </summary>
public static class AttributionBars
{
    public sealed record Score(string Label, double Value);

    public static Figure Render(IReadOnlyList<Score> scores, string title, string valueLabel = "attribution score")
    {
        if (scores.Count == 0) throw new MechanistInputException("an attribution bar chart needs at least one score.");
        for (int i = 0; i < scores.Count; i++) PlotValues.Finite(scores[i].Value, "attribution", "score", $"'{scores[i].Label}'");
        var ordered = scores.OrderByDescending(s => Math.Abs(s.Value)).ToList();
        var plot = Figure.NewPanel();
        Figure.Title(plot, title);
        plot.XLabel(valueLabel);
        int n = ordered.Count;
        var bars = ordered.Select((s, i) => new Bar
        {
            Position = n - 1 - i, Value = s.Value, ValueBase = 0, Size = 0.72, LineWidth = 0,
            FillColor = s.Value >= 0 ? Axes.Colour(0) : Axes.Colour(1),
        }).ToArray();
        var plottable = plot.Add.Bars(bars);
        plottable.Horizontal = true;
        plot.Axes.Left.SetTicks(ordered.Select((_, i) => (double)(n - 1 - i)).ToArray(), ordered.Select(s => s.Label).ToArray());
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Add.VerticalLine(0, 1, Colors.Black.WithOpacity(0.6));
        plot.Axes.Margins(0.08, 0.04);
        return Figure.Single(plot, Figure.DefaultWidth, Math.Clamp(120 + 26 * n, 320, 1400));
    }
}
