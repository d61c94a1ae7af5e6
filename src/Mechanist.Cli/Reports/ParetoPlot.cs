using System.Globalization;

namespace Mechanist.Cli.Reports;

/// <summary>
/// L0 (x) against FVU (y), one labelled point per method: the sparsity/fidelity trade-off of a comparison. Lower-left
/// is better; points not dominated by another (lower or equal L0 and FVU) are drawn filled and joined as the frontier.
/// </summary>
public static class ParetoPlot
{
    const uint Black = 0x000000FF, Grey = 0xBBBBBBFF, Frontier = 0x1F77B4FF, Dominated = 0xFF7F0EFF;

    public sealed record Point(string Label, double L0, double Fvu);

    public static PngImage Render(IReadOnlyList<Point> points, int width = 720, int height = 480)
    {
        var image = new PngImage(width, height);
        const int left = 70, right = 30, top = 40, bottom = 60;
        int plotW = width - left - right, plotH = height - top - bottom;
        var finite = points.Where(p => double.IsFinite(p.L0) && double.IsFinite(p.Fvu)).ToList();
        double maxX = Nice(finite.Count > 0 ? finite.Max(p => p.L0) : 1);
        double maxY = Nice(finite.Count > 0 ? Math.Max(finite.Max(p => p.Fvu), 1e-9) : 1);
        int X(double v) => left + (int)Math.Round(v / maxX * plotW);
        int Y(double v) => top + plotH - (int)Math.Round(v / maxY * plotH);

        image.Text(left, 12, "L0 VS FVU (LOWER-LEFT IS BETTER)", Black, 2);
        for (int i = 0; i <= 5; i++)
        {
            double xv = maxX * i / 5, yv = maxY * i / 5;
            image.Line(X(xv), top, X(xv), top + plotH, Grey);
            image.Line(left, Y(yv), left + plotW, Y(yv), Grey);
            var xl = Format(xv);
            image.Text(X(xv) - PngImage.TextWidth(xl) / 2, top + plotH + 8, xl, Black);
            var yl = Format(yv);
            image.Text(left - 8 - PngImage.TextWidth(yl), Y(yv) - 3, yl, Black);
        }
        image.Line(left, top, left, top + plotH, Black);
        image.Line(left, top + plotH, left + plotW, top + plotH, Black);
        image.Text(left + plotW / 2 - PngImage.TextWidth("L0") / 2, height - 24, "L0", Black, 2);
        image.Text(8, top + plotH / 2 - 7, "FVU", Black, 2);

        var frontier = finite.Where(p => !finite.Any(q => !ReferenceEquals(p, q) && q.L0 <= p.L0 && q.Fvu <= p.Fvu && (q.L0 < p.L0 || q.Fvu < p.Fvu)))
            .OrderBy(p => p.L0).ToList();
        for (int i = 1; i < frontier.Count; i++)
            image.Line(X(frontier[i - 1].L0), Y(frontier[i - 1].Fvu), X(frontier[i].L0), Y(frontier[i].Fvu), Frontier);
        foreach (var p in finite)
        {
            bool onFrontier = frontier.Contains(p);
            image.FillCircle(X(p.L0), Y(p.Fvu), 5, onFrontier ? Frontier : Dominated);
            int labelX = Math.Min(X(p.L0) + 8, width - PngImage.TextWidth(p.Label) - 2);
            image.Text(labelX, Y(p.Fvu) - 10, p.Label, Black);
        }
        return image;
    }

    /// <summary>1, 2 or 5 times a power of ten, at least <paramref name="value"/> (an axis end).</summary>
    static double Nice(double value)
    {
        if (!(value > 0)) return 1;
        double power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var m in new[] { 1.0, 2.0, 5.0, 10.0 })
            if (m * power >= value) return m * power;
        return 10 * power;
    }

    static string Format(double v) => v.ToString(v != 0 && Math.Abs(v) < 0.1 ? "0.###" : "0.##", CultureInfo.InvariantCulture);
}
