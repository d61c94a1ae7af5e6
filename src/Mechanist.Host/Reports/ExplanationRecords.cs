using System.Text;
using System.Text.Json.Nodes;
using Mechanist.Interpreters;

namespace Mechanist.Host.Reports;

/// <summary>What <c>mechanist interpret</c> writes: one JSON record per feature (JSON Lines) — feature, method, site, summary, details.</summary>
public static class ExplanationRecords
{
    public static string ToJsonl(IEnumerable<FeatureExplanation> explanations, string methodId, string? site)
    {
        var lines = new StringBuilder();
        foreach (var e in explanations)
        {
            var record = new JsonObject
            {
                ["feature"] = e.Feature, ["method"] = methodId, ["site"] = site, ["summary"] = e.Summary,
                ["details"] = JsonNode.Parse(e.Details.ToJsonString()),
            };
            lines.Append(record.ToJsonString()).Append('\n');
        }
        return lines.ToString();
    }
}
