using System.Globalization;
using System.Net;
using System.Text;
using Mechanist.Methods.Concepts;
using Mechanist.Models.Text;

/// <summary>The sample's three figures, as self-contained SVG.</summary>
static class Svg
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    static readonly string[] Colors = ["#2c7fb8", "#d95f0e", "#31a354", "#756bb1"];

    static StringBuilder Open(int width, int height, string title)
    {
        var svg = new StringBuilder();
        svg.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.Append(Inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        svg.Append(Inv, $"<text x=\"10\" y=\"18\" font-size=\"13\">{WebUtility.HtmlEncode(title)}</text>");
        return svg;
    }

    /// <summary>Selectivity per site (x) and concept (one line each), with the accuracy as a faint line.</summary>
    public static string ProbeChart(IReadOnlyList<ProbeScore> probes, IReadOnlyList<string> sites, IReadOnlyList<string> concepts)
    {
        const int width = 820, height = 330, left = 50, right = 150, top = 35, bottom = 95;
        var svg = Open(width, height, "Probe selectivity (solid) and held-out accuracy (dashed) per site");
        double X(int i) => left + i * (width - left - right) / (double)Math.Max(1, sites.Count - 1);
        double Y(double v) => top + (1 - Math.Clamp(v, 0, 1)) * (height - top - bottom);
        for (int g = 0; g <= 4; g++)
        {
            double v = g / 4.0;
            svg.Append(Inv, $"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{Y(v):0.#}\" y2=\"{Y(v):0.#}\" stroke=\"#ddd\"/>");
            svg.Append(Inv, $"<text x=\"{left - 28}\" y=\"{Y(v) + 4:0.#}\">{v:0.00}</text>");
        }
        for (int i = 0; i < sites.Count; i++)
            svg.Append(Inv, $"<text transform=\"translate({X(i):0.#},{height - bottom + 12}) rotate(35)\" font-size=\"10\">{sites[i]}</text>");
        for (int c = 0; c < concepts.Count; c++)
        {
            var color = Colors[c % Colors.Length];
            var sel = sites.Select((s, i) => $"{X(i):0.#},{Y(probes.Single(p => p.Site == s && p.Concept == concepts[c]).Selectivity):0.#}");
            var acc = sites.Select((s, i) => $"{X(i):0.#},{Y(probes.Single(p => p.Site == s && p.Concept == concepts[c]).Accuracy):0.#}");
            svg.Append(Inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\" points=\"{string.Join(' ', sel)}\"/>");
            svg.Append(Inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1\" stroke-dasharray=\"4 3\" points=\"{string.Join(' ', acc)}\"/>");
            svg.Append(Inv, $"<line x1=\"{width - right + 15}\" x2=\"{width - right + 40}\" y1=\"{top + 10 + 18 * c}\" y2=\"{top + 10 + 18 * c}\" stroke=\"{color}\" stroke-width=\"2.5\"/>");
            svg.Append(Inv, $"<text x=\"{width - right + 46}\" y=\"{top + 14 + 18 * c}\">{concepts[c]}</text>");
        }
        return svg.Append("</svg>").ToString();
    }

    /// <summary>Each CAV's TCAV score, concept CAVs against random CAVs, per concept.</summary>
    public static string TcavChart(IReadOnlyList<TcavResult> results)
    {
        const int width = 620, height = 250, left = 60, top = 35, bottom = 60;
        var svg = Open(width, height, "TCAV scores: concept CAVs (filled) vs random CAVs (open)");
        int groups = results.Count;
        double slot = (width - left - 20.0) / groups;
        double Y(double v) => top + (1 - v) * (height - top - bottom);
        for (int g = 0; g <= 4; g++)
        {
            double v = g / 4.0;
            svg.Append(Inv, $"<line x1=\"{left}\" x2=\"{width - 20}\" y1=\"{Y(v):0.#}\" y2=\"{Y(v):0.#}\" stroke=\"#ddd\"/>");
            svg.Append(Inv, $"<text x=\"{left - 32}\" y=\"{Y(v) + 4:0.#}\">{v:0.00}</text>");
        }
        for (int g = 0; g < groups; g++)
        {
            var r = results[g];
            double cx = left + slot * g + slot * 0.3, rx = left + slot * g + slot * 0.65;
            var rng = new Random(g);
            foreach (var s in r.ConceptScores)
                svg.Append(Inv, $"<circle cx=\"{cx + rng.NextDouble() * 16 - 8:0.#}\" cy=\"{Y(s):0.#}\" r=\"3.5\" fill=\"{Colors[0]}\" fill-opacity=\"0.7\"/>");
            foreach (var s in r.RandomScores)
                svg.Append(Inv, $"<circle cx=\"{rx + rng.NextDouble() * 16 - 8:0.#}\" cy=\"{Y(s):0.#}\" r=\"3.5\" fill=\"none\" stroke=\"{Colors[1]}\"/>");
            svg.Append(Inv, $"<text x=\"{left + slot * g + 10:0.#}\" y=\"{height - bottom + 18}\">{WebUtility.HtmlEncode(r.Concept)} = {r.Class}</text>");
            svg.Append(Inv, $"<text x=\"{left + slot * g + 10:0.#}\" y=\"{height - bottom + 34}\">p = {r.Test.P.ToString("G3", Inv)}{(r.Significant ? " (significant)" : " (not significant)")}</text>");
        }
        return svg.Append("</svg>").ToString();
    }

    /// <summary>The mean next-token distribution inside round brackets, before (grey) and after steering at each site.</summary>
    public static string SteeringChart(TokenVocabulary vocab, double[] before, IReadOnlyList<(string Site, double[] After)> after)
    {
        const int width = 760, height = 300, left = 50, top = 35, bottom = 70;
        var svg = Open(width, height, "Next token inside '(': before steering (grey) and steered along the 'square' latent");
        int n = before.Length, bars = after.Count + 1;
        double slot = (width - left - 20.0) / n, bar = slot * 0.8 / bars;
        double max = Math.Max(before.Max(), after.Max(a => a.After.Max()));
        double Y(double v) => top + (1 - v / max) * (height - top - bottom);
        for (double g = 0; g <= max + 1e-9; g += 0.1)
        {
            svg.Append(Inv, $"<line x1=\"{left}\" x2=\"{width - 20}\" y1=\"{Y(g):0.#}\" y2=\"{Y(g):0.#}\" stroke=\"#ddd\"/>");
            svg.Append(Inv, $"<text x=\"{left - 30}\" y=\"{Y(g) + 4:0.#}\">{g:0.0}</text>");
        }
        for (int t = 0; t < n; t++)
        {
            double x = left + slot * t + slot * 0.1;
            var values = new[] { before[t] }.Concat(after.Select(a => a.After[t])).ToArray();
            for (int b = 0; b < bars; b++)
            {
                var color = b == 0 ? "#999" : Colors[(b - 1) % Colors.Length];
                svg.Append(Inv, $"<rect x=\"{x + bar * b:0.#}\" y=\"{Y(values[b]):0.#}\" width=\"{bar * 0.95:0.#}\" height=\"{Y(0) - Y(values[b]):0.#}\" fill=\"{color}\"/>");
            }
            svg.Append(Inv, $"<text x=\"{x + slot * 0.3:0.#}\" y=\"{height - bottom + 16}\" font-size=\"13\">{WebUtility.HtmlEncode(vocab.Text(t))}</text>");
        }
        for (int b = 0; b < after.Count; b++)
        {
            svg.Append(Inv, $"<rect x=\"{left + 220 * b}\" y=\"{height - 30}\" width=\"12\" height=\"12\" fill=\"{Colors[b % Colors.Length]}\"/>");
            svg.Append(Inv, $"<text x=\"{left + 220 * b + 16}\" y=\"{height - 20}\">steered at {after[b].Site}</text>");
        }
        return svg.Append("</svg>").ToString();
    }
}
