using System.Globalization;

namespace Mechanist.Cli.Reports;

/// <summary>
/// Series of (x, y) points on logarithmic axes, each with its least-squares line in log–log space (whose slope is
/// the fitted exponent, printed in the legend). Used by <c>mechanist bench sae --scaling</c>; the data it draws is
/// also written as CSV and JSON, so the renderer can be swapped without changing the measurement.
/// </summary>
public static class LogLogPlot
{
    const uint Black = 0x000000FF, Grey = 0xDDDDDDFF;
    static readonly uint[] Colors = [0x1F77B4FF, 0xFF7F0EFF, 0x2CA02CFF, 0xD62728FF, 0x9467BDFF, 0x8C564BFF];

    public sealed record Series(string Label, IReadOnlyList<(double X, double Y)> Points, double? Slope = null, double? Intercept = null);

    public static PngImage Render(string title, string xLabel, string yLabel, IReadOnlyList<Series> series, int width = 760, int height = 520)
    {
        var image = new PngImage(width, height);
        const int left = 80, right = 30, top = 44, bottom = 64;
        int plotW = width - left - right, plotH = height - top - bottom;
        var all = series.SelectMany(s => s.Points).Where(p => p.X > 0 && p.Y > 0 && double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        double minX = all.Count > 0 ? Math.Floor(Math.Log10(all.Min(p => p.X))) : 0, maxX = all.Count > 0 ? Math.Ceiling(Math.Log10(all.Max(p => p.X))) : 1;
        double minY = all.Count > 0 ? Math.Floor(Math.Log10(all.Min(p => p.Y))) : 0, maxY = all.Count > 0 ? Math.Ceiling(Math.Log10(all.Max(p => p.Y))) : 1;
        if (maxX <= minX) maxX = minX + 1;
        if (maxY <= minY) maxY = minY + 1;
        int X(double v) => left + (int)Math.Round((Math.Log10(v) - minX) / (maxX - minX) * plotW);
        int Y(double v) => top + plotH - (int)Math.Round((Math.Log10(v) - minY) / (maxY - minY) * plotH);

        image.Text(left, 12, title.ToUpperInvariant(), Black, 2);
        for (double e = minX; e <= maxX; e++)
            for (int m = 1; m <= 9; m++)
            {
                double v = m * Math.Pow(10, e);
                if (Math.Log10(v) > maxX) break;
                image.Line(X(v), top, X(v), top + plotH, Grey);
                if (m is 1 or 2 or 5) Label(image, Format(v), X(v), top + plotH + 8, centre: true);
            }
        for (double e = minY; e <= maxY; e++)
            for (int m = 1; m <= 9; m++)
            {
                double v = m * Math.Pow(10, e);
                if (Math.Log10(v) > maxY) break;
                image.Line(left, Y(v), left + plotW, Y(v), Grey);
                if (m is 1 or 2 or 5) Label(image, Format(v), left - 8 - PngImage.TextWidth(Format(v)), Y(v) - 3, centre: false);
            }
        image.Line(left, top, left, top + plotH, Black);
        image.Line(left, top + plotH, left + plotW, top + plotH, Black);
        image.Text(left + plotW / 2 - PngImage.TextWidth(xLabel.ToUpperInvariant(), 2) / 2, height - 26, xLabel.ToUpperInvariant(), Black, 2);
        image.Text(8, top - 18, yLabel.ToUpperInvariant(), Black);

        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i];
            uint color = Colors[i % Colors.Length];
            var points = s.Points.Where(p => p.X > 0 && p.Y > 0).OrderBy(p => p.X).ToList();
            if (s.Slope is double slope && s.Intercept is double intercept && points.Count > 1)
            {
                double x0 = points[0].X, x1 = points[^1].X;
                image.Line(X(x0), Y(Math.Pow(10, intercept + slope * Math.Log10(x0))), X(x1), Y(Math.Pow(10, intercept + slope * Math.Log10(x1))), color);
            }
            foreach (var p in points) image.FillCircle(X(p.X), Y(p.Y), 4, color);
            string legend = s.Slope is double sl ? $"{s.Label.ToUpperInvariant()}  EXPONENT {sl.ToString("0.00", CultureInfo.InvariantCulture)}" : s.Label.ToUpperInvariant();
            image.FillCircle(left + 16, top + 14 + 16 * i, 4, color);
            image.Text(left + 26, top + 10 + 16 * i, legend, Black);
        }
        return image;
    }

    /// <summary>Least-squares slope and intercept of log10 y against log10 x.</summary>
    public static (double Slope, double Intercept) Fit(IReadOnlyList<(double X, double Y)> points)
    {
        var logs = points.Where(p => p.X > 0 && p.Y > 0).Select(p => (X: Math.Log10(p.X), Y: Math.Log10(p.Y))).ToList();
        if (logs.Count < 2) return (double.NaN, double.NaN);
        double mx = logs.Average(p => p.X), my = logs.Average(p => p.Y);
        double sxx = logs.Sum(p => (p.X - mx) * (p.X - mx)), sxy = logs.Sum(p => (p.X - mx) * (p.Y - my));
        double slope = sxx > 0 ? sxy / sxx : double.NaN;
        return (slope, my - slope * mx);
    }

    static void Label(PngImage image, string text, int x, int y, bool centre) =>
        image.Text(centre ? x - PngImage.TextWidth(text) / 2 : x, y, text, Black);

    static string Format(double v) => v >= 1000 ? (v / 1000).ToString("0.#", CultureInfo.InvariantCulture) + "K"
        : v.ToString(v < 0.1 ? "0.###" : "0.##", CultureInfo.InvariantCulture);
}
