using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Mechanist.Reports.Plots;

namespace Mechanist.Reports.Html;

/// <summary>
/// The report of <c>mechanist compare</c> (<c>report.html</c> beside <c>results.json</c>): the metrics table, then every
/// figure inline (Pareto fronts, training curves, feature density), then the files of the run.
/// </summary>
public static class CompareReportPage
{
    public sealed record Plot(string Name, string Caption, Figure Figure);

    static readonly string[] Columns = ["l0", "fvu", "explained_variance", "mse", "dead_fraction", "dense_fraction", "mmcs"];

    /// <param name="results">the run's <c>results.json</c>.</param>
    /// <param name="plots">figures, each also written as NAME.png and NAME.svg beside the report.</param>
    /// <param name="notes">what was left out of a figure and why (a NaN metric, a diverged run).</param>
    public static string Render(JsonObject results, IReadOnlyList<Plot> plots, IReadOnlyList<string> notes, string toolVersion)
    {
        var inv = CultureInfo.InvariantCulture;
        var methods = (results["methods"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var definitions = results["definitions"] as JsonObject;
        var body = new StringBuilder();
        body.Append("<header class=\"page\"><h1>Compare: ").Append(HtmlPage.Encode(string.Join(", ", methods.Select(m => (string?)m["method"])))).Append("</h1>");
        body.Append("<p class=\"subtitle\">Every method fitted on the same activations with the same seed and step budget. Lower-left is better on the L0–FVU front.</p>");
        var facts = new List<KeyValuePair<string, string>>();
        foreach (var key in new[] { "activations", "rows", "d_in", "seed", "steps", "device", "targets", "ground_truth" })
            if (results[key] is { } v) facts.Add(new(key, v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : v.ToJsonString()));
        DashboardPage.Facts(body, facts);
        body.Append("</header>\n<main>\n<h2 class=\"section\">Metrics</h2>\n<table class=\"metrics\"><thead><tr><th>method</th><th class=\"num\">d_sae</th>");
        var columns = Columns.Where(c => methods.Any(m => m["metrics"]?[c] is not null)).ToList();
        foreach (var c in columns)
            body.Append("<th class=\"num\" title=\"").Append(HtmlPage.Encode((string?)definitions?[c])).Append("\">").Append(HtmlPage.Encode(c)).Append("</th>");
        body.Append("<th class=\"num\" title=\"").Append(HtmlPage.Encode((string?)definitions?["fit_seconds"])).Append("\">fit s</th><th class=\"num\" title=\"")
            .Append(HtmlPage.Encode((string?)definitions?["peak_rss_bytes"])).Append("\">peak RSS MiB</th><th>folder</th></tr></thead><tbody>\n");
        foreach (var m in methods)
        {
            body.Append("<tr><td><b>").Append(HtmlPage.Encode((string?)m["method"])).Append("</b> <span class=\"meta\">").Append(HtmlPage.Encode((string?)m["source"]))
                .Append("</span></td><td class=\"num\">").Append(HtmlPage.Encode(m["d_sae"]?.ToJsonString())).Append("</td>");
            foreach (var c in columns) body.Append("<td class=\"num\">").Append(HtmlPage.Encode(Format(m["metrics"]?[c]))).Append("</td>");
            body.Append("<td class=\"num\">").Append(HtmlPage.Encode(Format(m["fit_seconds"]))).Append("</td><td class=\"num\">")
                .Append(m["peak_rss_bytes"] is JsonValue rss && rss.TryGetValue<long>(out var bytes) ? (bytes / 1048576.0).ToString("0", inv) : "")
                .Append("</td><td><code>").Append(HtmlPage.Encode((string?)m["folder"])).Append("/</code></td></tr>\n");
        }
        body.Append("</tbody></table>\n<p class=\"definition\">Hover a column for its definition; <code>results.json</code> states each one.</p>\n");
        if (notes.Count > 0) DashboardPage.Gaps(body, notes);
        body.Append("<h2 class=\"section\">Figures</h2>\n<div class=\"plots\">\n");
        foreach (var p in plots)
        {
            body.Append("<figure class=\"plot\" id=\"plot-").Append(HtmlPage.Encode(p.Name)).Append("\">").Append(HtmlPage.InlineSvg(p.Figure.Svg(), p.Name))
                .Append("<figcaption>").Append(HtmlPage.Encode(p.Caption)).Append(" (also <code>").Append(HtmlPage.Encode(p.Name)).Append(".png</code>, <code>")
                .Append(HtmlPage.Encode(p.Name)).Append(".svg</code>)</figcaption></figure>\n");
        }
        if (plots.Count == 0) body.Append("<p class=\"empty\">No figure could be drawn (see above).</p>");
        body.Append("</div>\n</main>\n<footer class=\"page\">Made by mechanist ").Append(HtmlPage.Encode(toolVersion))
            .Append(" (<code>mechanist compare</code>). One file, no network.</footer>");
        return HtmlPage.Render("Compare: " + string.Join(", ", methods.Select(m => (string?)m["method"])), body.ToString(), null, $"mechanist {toolVersion}");
    }

    static string Format(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<double>(out var d) => PlotValues.Short(d),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        null => "",
        _ => node.ToJsonString(),
    };
}
