using System.Globalization;
using System.Text;
using Mechanist.Host.Gate;
using Mechanist.Host.Reports;
using Mechanist.Validators;

namespace Mechanist.Reports.Html;

/// <summary>
/// The HTML report of a check run: the verdict and counts first, then the findings grouped by severity and, within a
/// severity, by check — each check linked to its documentation page, each finding that names a feature linked to that
/// feature's card further down the same page — then every check that ran and the files read.
/// </summary>
public static class CheckReportPage
{
    static readonly Severity[] Order = [Severity.Error, Severity.Warning, Severity.Suggestion];

    /// <param name="dashboards">feature cards of the features findings name, one dashboard per decomposition (key = its name).</param>
    /// <param name="gaps">what the report could not show and why (e.g. cards of a decomposition trained during the run).</param>
    public static string Render(CheckResult result, string toolVersion, int exitCode, IReadOnlyList<FeatureDashboard> dashboards,
        IReadOnlyList<string>? gaps = null)
    {
        var inv = CultureInfo.InvariantCulture;
        var body = new StringBuilder();
        var configName = Path.GetFileName(result.Config.Path);
        bool failed = result.HasErrors;
        body.Append("<header class=\"page\"><h1>Check ").Append(HtmlPage.Encode(configName)).Append(": ")
            .Append(failed ? "failed" : "passed").Append("</h1>");
        body.Append("<p class=\"subtitle\">").Append(HtmlPage.Encode(CheckReports.Summary(result))).Append(" · exit code ").Append(exitCode.ToString(inv)).Append("</p>");
        body.Append("<div class=\"summary-counts\">");
        foreach (var s in Order)
        {
            var name = Name(s);
            body.Append("<span class=\"sev-").Append(name).Append("\"><span class=\"sev\">").Append(name).Append("</span> ")
                .Append(result.Count(s).ToString(inv)).Append("</span>");
        }
        body.Append("</div>");
        var facts = new List<KeyValuePair<string, string>> { new("config", result.Config.Path) };
        if (result.Model is not null) facts.Add(new("model", result.Model));
        DashboardPage.Facts(body, facts);
        body.Append("</header>\n<main>\n");
        if (gaps is { Count: > 0 }) DashboardPage.Gaps(body, gaps);

        var anchors = dashboards.ToDictionary(d => d.Key, d => d.Features.Select(f => f.Index).ToHashSet());
        // The SARIF baselineState of each finding (new, unchanged, updated) when the run was compared with a baseline.
        bool baselines = result.Findings.Any(f => f.BaselineState is not null);
        var rules = result.Rules.GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.First());
        if (result.Findings.Count == 0)
            body.Append("<p class=\"empty\">No findings: every check below ran and passed.</p>\n");
        foreach (var severity in Order)
        {
            var ofSeverity = result.Findings.Where(f => f.Severity == severity).ToList();
            if (ofSeverity.Count == 0) continue;
            var name = Name(severity);
            body.Append("<section class=\"severity sev-").Append(name).Append("\" id=\"").Append(name).Append("s\"><h2><span class=\"sev\">")
                .Append(name).Append("</span> ").Append(ofSeverity.Count.ToString(inv)).Append(ofSeverity.Count == 1 ? " finding" : " findings").Append("</h2>\n");
            foreach (var group in ofSeverity.GroupBy(f => f.Id).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var descriptor = group.First().Finding.Descriptor;
                var help = result.HelpUris.GetValueOrDefault(group.Key);
                body.Append("<section class=\"check\" id=\"").Append(HtmlPage.Encode($"{name}-{group.Key}")).Append("\"><h3>");
                if (help is not null) body.Append("<a class=\"check-id\" href=\"").Append(HtmlPage.Encode(help)).Append("\">").Append(HtmlPage.Encode(group.Key)).Append("</a>");
                else body.Append("<span class=\"check-id\">").Append(HtmlPage.Encode(group.Key)).Append("</span>");
                body.Append(" ").Append(HtmlPage.Encode(descriptor.Title)).Append("</h3>");
                body.Append("<p class=\"meta\">").Append(HtmlPage.Encode(descriptor.Category));
                if (help is not null) body.Append(" · <a href=\"").Append(HtmlPage.Encode(help)).Append("\">what it means and how to fix it</a>");
                if (descriptor.MetricDefinition.Length > 0) body.Append(" · metric: ").Append(HtmlPage.Encode(descriptor.MetricDefinition));
                body.Append("</p>\n<table class=\"findings-table\"><thead><tr><th>where</th><th>message</th><th class=\"num\">value</th><th class=\"num\">threshold</th>");
                if (baselines) body.Append("<th>baseline</th>");
                body.Append("</tr></thead><tbody>\n");
                foreach (var f in group)
                {
                    body.Append("<tr class=\"finding-row\"><td>");
                    Where(body, result, f, anchors);
                    body.Append("</td><td>").Append(HtmlPage.Encode(f.Finding.Message)).Append("</td><td class=\"num\">").Append(Number(f.Finding.Value))
                        .Append("</td><td class=\"num\">").Append(Number(f.Finding.Threshold)).Append("</td>");
                    if (baselines) body.Append("<td><span class=\"baseline\">").Append(HtmlPage.Encode(f.BaselineState ?? "")).Append("</span></td>");
                    body.Append("</tr>\n");
                }
                body.Append("</tbody></table></section>\n");
            }
            body.Append("</section>\n");
        }

        if (dashboards.Count > 0)
        {
            body.Append("<h2 class=\"section\" id=\"features\">Features named by findings</h2>\n");
            for (int i = 0; i < dashboards.Count; i++)
            {
                var d = dashboards[i];
                body.Append("<h3>decomposition ").Append(HtmlPage.Encode(d.Key)).Append("</h3>");
                DashboardPage.Facts(body, d.Facts);
                DashboardPage.Gaps(body, d.Gaps);
                DashboardPage.Host(body, i, d);
            }
        }

        body.Append("<h2 class=\"section\" id=\"checks\">Checks that ran</h2>\n<table class=\"findings-table\"><thead><tr><th>check</th><th>title</th><th>category</th><th>default severity</th><th class=\"num\">findings</th></tr></thead><tbody>\n");
        foreach (var rule in rules.Values.OrderBy(r => r.Id, StringComparer.Ordinal))
        {
            var help = result.HelpUris.GetValueOrDefault(rule.Id);
            body.Append("<tr><td>").Append(help is null ? HtmlPage.Encode(rule.Id) : $"<a class=\"check-id\" href=\"{HtmlPage.Encode(help)}\">{HtmlPage.Encode(rule.Id)}</a>")
                .Append("</td><td>").Append(HtmlPage.Encode(rule.Title)).Append("</td><td>").Append(HtmlPage.Encode(rule.Category))
                .Append("</td><td>").Append(Name(rule.DefaultSeverity)).Append("</td><td class=\"num\">")
                .Append(result.Findings.Count(f => f.Id == rule.Id).ToString(inv)).Append("</td></tr>\n");
        }
        body.Append("</tbody></table>\n<details><summary>Files read (").Append(result.Inputs.Count.ToString(inv)).Append(")</summary><ul>");
        foreach (var input in result.Inputs) body.Append("<li><code>").Append(HtmlPage.Encode(input)).Append("</code></li>");
        body.Append("</ul></details>\n</main>\n<footer class=\"page\">Made by mechanist ").Append(HtmlPage.Encode(toolVersion))
            .Append(" (<code>mechanist check --format html</code>). One file, no network.</footer>");
        return HtmlPage.Render($"Check {configName}: {(failed ? "failed" : "passed")}", body.ToString(),
            dashboards.Count > 0 ? DashboardData.ToJson(dashboards) : null, $"mechanist {toolVersion}");
    }

    /// <summary>The names that place a finding; the feature links to its card when the page has one.</summary>
    static void Where(StringBuilder body, CheckResult result, ReportedFinding f, IReadOnlyDictionary<string, HashSet<int>> anchors)
    {
        var parts = new List<string>();
        if (f.Decomposition is not null) parts.Add($"decomposition <b>{HtmlPage.Encode(f.Decomposition)}</b>");
        if (f.Finding.Location.Site is not null) parts.Add($"site <code>{HtmlPage.Encode(f.Finding.Location.Site)}</code>");
        if (f.Finding.Location.Feature is int feature)
        {
            bool card = f.Decomposition is not null && anchors.TryGetValue(f.Decomposition, out var set) && set.Contains(feature);
            parts.Add(card
                ? $"<a class=\"feature-link\" href=\"#{HtmlPage.Encode(FeatureDashboard.Anchor(f.Decomposition!, feature))}\">feature {feature}</a>"
                : $"feature {feature}");
        }
        if (f.Finding.Location.Method is not null) parts.Add($"method <code>{HtmlPage.Encode(f.Finding.Location.Method)}</code>");
        parts.Add($"<span class=\"meta\">{HtmlPage.Encode(Path.GetFileName(result.Config.Path))}:{f.Line.ToString(CultureInfo.InvariantCulture)}</span>");
        body.Append(string.Join("<br>", parts));
    }

    static string Name(Severity s) => s switch
    {
        Severity.Error => "error",
        Severity.Warning => "warning",
        Severity.Suggestion => "suggestion",
        _ => s.ToString().ToLowerInvariant(),
    };

    static string Number(double? v) => v is double d ? HtmlPage.Encode(Plots.PlotValues.Short(d)) : "";

    /// <summary>A reported finding as the dashboards' cards show it.</summary>
    public static FindingView View(CheckResult result, ReportedFinding f) =>
        new(f.Id, Name(f.Severity), f.Finding.Message, f.Finding.Descriptor.Title, result.HelpUris.GetValueOrDefault(f.Id),
            f.BaselineState, f.Finding.Value, f.Finding.Threshold);
}
