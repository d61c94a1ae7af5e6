using System.Text.Json.Nodes;

namespace Mechanist.Reports.Html;

/// <summary>
/// Dashboards as the page's script reads them: compact JSON, each distinct token (id, text) stored once per dashboard
/// and referred to by index, numbers rounded to 4 significant digits.
/// </summary>
static class DashboardData
{
    public static JsonObject ToJson(IReadOnlyList<FeatureDashboard> dashboards) => new()
    {
        ["dashboards"] = new JsonArray(dashboards.Select(d => (JsonNode)Dashboard(d)).ToArray()),
    };

    static JsonObject Dashboard(FeatureDashboard d)
    {
        var tokens = new List<(long Id, string? Text)>();
        var index = new Dictionary<(long, string?), int>();
        int Token(long id, string? text)
        {
            if (!index.TryGetValue((id, text), out var i))
            {
                i = tokens.Count;
                tokens.Add((id, text));
                index[(id, text)] = i;
            }
            return i;
        }
        var features = new JsonArray(d.Features.Select(f => (JsonNode)Card(f, Token)).ToArray());
        return new JsonObject
        {
            ["key"] = d.Key,
            ["rows"] = d.Rows,
            ["dsae"] = d.DSae,
            ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode)new JsonArray(t.Id, t.Text)).ToArray()),
            ["features"] = features,
        };
    }

    static JsonObject Card(FeatureCard f, Func<long, string?, int> token)
    {
        var o = new JsonObject { ["i"] = f.Index };
        if (f.Summaries.Count > 0) o["s"] = new JsonArray(f.Summaries.Select(s => (JsonNode)s).ToArray());
        if (f.Frequency is double fr) o["fr"] = Round(fr);
        if (f.ActiveCount is long n) o["n"] = n;
        if (f.MaxActivation is double mx) o["mx"] = Round(mx);
        if (f.MeanActiveActivation is double mn) o["mn"] = Round(mn);
        if (f.Histogram is { } h) o["h"] = new JsonArray(h.Select(c => (JsonNode)c).ToArray());
        if (f.Frequency is not null) o["top"] = new JsonArray(f.Top.Select(e => (JsonNode)Example(e, token)).ToArray());
        if (f.Quantiles.Count > 0)
            o["q"] = new JsonArray(f.Quantiles.Select(q => (JsonNode)new JsonObject
            {
                ["b"] = q.Quantile, ["lo"] = Round(q.Low), ["hi"] = Round(q.High), ["n"] = q.Count,
                ["ex"] = new JsonArray(q.Samples.Select(e => (JsonNode)Example(e, token)).ToArray()),
            }).ToArray());
        if (f.OutputEffects is { } oe)
        {
            JsonArray List(IReadOnlyList<TokenEffect> items) =>
                new(items.Select(t => (JsonNode)new JsonArray(token(t.Id, t.Text), Round(t.Effect))).ToArray());
            o["oe"] = new JsonObject { ["norm"] = oe.DecoderNorm is double dn ? Round(dn) : null, ["up"] = List(oe.Promoted), ["down"] = List(oe.Suppressed), ["def"] = oe.Definition };
        }
        if (f.Findings.Count > 0) o["f"] = Findings(f.Findings);
        return o;
    }

    static JsonObject Example(Example e, Func<long, string?, int> token)
    {
        var o = new JsonObject { ["r"] = e.Row, ["a"] = Round(e.Activation) };
        if (e.Window is { } w)
        {
            o["t"] = new JsonArray(w.Select(c => (JsonNode)token(c.Id, c.Text)).ToArray());
            o["v"] = new JsonArray(w.Select(c => (JsonNode?)Round(c.Activation)).ToArray());
            o["fo"] = e.Focus;
            o["seq"] = e.Sequence;
            o["pos"] = e.Position;
        }
        return o;
    }

    public static JsonArray Findings(IReadOnlyList<FindingView> findings) => new(findings.Select(f => (JsonNode)new JsonObject
    {
        ["id"] = f.Id, ["sev"] = f.Severity, ["msg"] = f.Message, ["title"] = f.Title, ["help"] = f.Help, ["base"] = f.Baseline,
    }).ToArray());

    /// <summary>4 significant digits; NaN and infinities (which JSON cannot hold) as their names.</summary>
    static JsonNode? Round(double v)
    {
        if (!double.IsFinite(v)) return JsonValue.Create(Plots.PlotValues.Describe(v));
        if (v == 0) return JsonValue.Create(0.0);
        int digits = Math.Clamp(3 - (int)Math.Floor(Math.Log10(Math.Abs(v))), 0, 15);
        return JsonValue.Create(Math.Round(v, digits));
    }
}
