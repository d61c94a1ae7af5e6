using System.Globalization;
using System.Text;
using Mechanist.Reports.Plots;

namespace Mechanist.Reports.Html;

/// <summary>
/// The feature dashboard page: what the decomposition is and what is missing, the feature-density histogram, then a
/// searchable, sortable index of features beside the selected feature's card (activation histogram, top examples with
/// each token shaded by the feature's activation, quantile bands, output effects, check findings).
/// </summary>
public static class DashboardPage
{
    public static string Render(FeatureDashboard dashboard, string toolVersion)
    {
        var body = new StringBuilder();
        int shown = dashboard.Features.Count;
        body.Append("<header class=\"page\"><h1>Feature dashboard: ").Append(HtmlPage.Encode(dashboard.Title)).Append("</h1>");
        body.Append("<p class=\"subtitle\">").Append(shown.ToString(CultureInfo.InvariantCulture)).Append(shown == 1 ? " feature" : " features");
        if (dashboard.Rows > 0) body.Append(", statistics over ").Append(dashboard.Rows.ToString("N0", CultureInfo.InvariantCulture)).Append(" activation rows");
        body.Append(". Pick a feature in the index or type its ID; the card reads top to bottom.</p>");
        Facts(body, dashboard.Facts);
        body.Append("</header>\n<main>\n<div class=\"overview\"><div class=\"overview-text\">");
        Gaps(body, dashboard.Gaps);
        if (dashboard.Findings.Count > 0)
        {
            body.Append("<h2 class=\"section\">Check findings about the whole decomposition</h2>");
            FindingsList(body, dashboard.Findings);
        }
        body.Append("</div>");
        Density(body, dashboard, "density");
        body.Append("</div>\n");
        body.Append("<h2 class=\"section\">Features</h2>\n");
        Host(body, 0, dashboard);
        body.Append("</main>\n<footer class=\"page\">Made by mechanist ").Append(HtmlPage.Encode(toolVersion))
            .Append(" (<code>mechanist report</code>). One file, no network: everything the page shows is inside it.</footer>");
        return HtmlPage.Render($"Feature dashboard: {dashboard.Title}", body.ToString(), DashboardData.ToJson([dashboard]), $"mechanist {toolVersion}");
    }

    /// <summary>The element the script fills with the index and cards of <paramref name="dashboard"/> (number <paramref name="index"/> in the page's data).</summary>
    internal static void Host(StringBuilder body, int index, FeatureDashboard dashboard)
    {
        body.Append("<div class=\"dashboard\" data-index=\"").Append(index.ToString(CultureInfo.InvariantCulture))
            .Append("\" data-slug=\"").Append(HtmlPage.Encode(FeatureDashboard.Slug(dashboard.Key))).Append("\">");
        body.Append("<noscript><p class=\"gap\">The feature index and cards are drawn by the page's script; enable JavaScript to see them.</p></noscript>");
        body.Append("</div>\n");
    }

    internal static void Facts(StringBuilder body, IReadOnlyList<KeyValuePair<string, string>> facts)
    {
        if (facts.Count == 0) return;
        body.Append("<dl class=\"facts\">");
        foreach (var (k, v) in facts) body.Append("<dt>").Append(HtmlPage.Encode(k)).Append("</dt><dd>").Append(HtmlPage.Encode(v)).Append("</dd>");
        body.Append("</dl>");
    }

    internal static void Gaps(StringBuilder body, IReadOnlyList<string> gaps)
    {
        if (gaps.Count == 0) return;
        body.Append("<div class=\"gaps\" role=\"note\"><h2>Not shown</h2><ul>");
        foreach (var g in gaps) body.Append("<li>").Append(HtmlPage.Encode(g)).Append("</li>");
        body.Append("</ul></div>\n");
    }

    internal static void FindingsList(StringBuilder body, IReadOnlyList<FindingView> findings)
    {
        body.Append("<ul class=\"findings\">");
        foreach (var f in findings)
        {
            body.Append("<li class=\"finding sev-").Append(HtmlPage.Encode(f.Severity)).Append("\"><span class=\"sev\">").Append(HtmlPage.Encode(f.Severity)).Append("</span>");
            body.Append(f.Help is null ? "<span class=\"check-id\">" : $"<a class=\"check-id\" href=\"{HtmlPage.Encode(f.Help)}\">").Append(HtmlPage.Encode(f.Id)).Append(f.Help is null ? "</span>" : "</a>");
            if (f.Baseline is not null) body.Append("<span class=\"baseline\">").Append(HtmlPage.Encode(f.Baseline)).Append("</span>");
            body.Append("<span class=\"message\">").Append(HtmlPage.Encode(f.Message)).Append("</span></li>");
        }
        body.Append("</ul>\n");
    }

    /// <summary>The feature-density histogram of the dashboard's features, inline, when it has firing statistics.</summary>
    internal static void Density(StringBuilder body, FeatureDashboard dashboard, string idPrefix)
    {
        var frequencies = dashboard.Features.Where(f => f.Frequency is not null).Select(f => f.Frequency!.Value).ToList();
        if (frequencies.Count == 0) return;
        var svg = DensityHistogram.Render(frequencies, dashboard.Rows, width: 560, height: 280).Svg();
        body.Append("<figure class=\"plot\">").Append(HtmlPage.InlineSvg(svg, idPrefix))
            .Append("<figcaption>How often each feature fires (fraction of activation rows, log scale). A healthy sparse dictionary has most features between 10⁻⁴ and 10⁻¹; ")
            .Append("a spike at the far right means dense features, features that never fire are counted in the title.</figcaption></figure>\n");
    }
}
