using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mechanist.Reports.Plots;

/// <summary>
/// Points for a Pareto plot from the files the commands write: a <c>compare</c> <c>results.json</c> (one point per
/// method), a <c>decompose</c> <c>metrics.json</c> or an <c>evaluate --out</c> report (one point each; the splice
/// metrics <c>ce_loss_score</c> and <c>kl_score</c> included). A point is labelled with its method, else its folder.
/// </summary>
public static class ParetoInputs
{
    public static IReadOnlyList<ParetoPlot.Point> Read(IReadOnlyList<string> paths, string x, string y)
    {
        var points = new List<ParetoPlot.Point>();
        foreach (var path in paths)
        {
            var file = Directory.Exists(path) ? Path.Combine(path, File.Exists(Path.Combine(path, "results.json")) ? "results.json" : "metrics.json") : path;
            if (!File.Exists(file)) throw new MechanistInputException($"{path}: not found (expected a results.json, metrics.json or 'evaluate --out' report).");
            JsonObject o;
            try
            {
                o = JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new MechanistInputException($"{file}: expected a JSON object.");
            }
            catch (JsonException e)
            {
                throw new MechanistInputException($"{file}: not valid JSON ({e.Message}).");
            }
            if (o["methods"] is JsonArray methods)
                foreach (var m in methods.OfType<JsonObject>())
                    points.Add(Point(file, (string?)m["method"] ?? "?", m["metrics"] as JsonObject ?? [], null, x, y));
            else
            {
                var label = (string?)o["method"]
                    ?? (o["decomposition"] is JsonValue d && d.TryGetValue<string>(out var folder) ? Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)) : null)
                    ?? Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(file)));
                points.Add(Point(file, label ?? file, o, o["splice"] as JsonObject, x, y));
            }
        }
        return points;
    }

    static ParetoPlot.Point Point(string file, string label, JsonObject metrics, JsonObject? splice, string x, string y) =>
        new(label, Metric(file, label, metrics, splice, x), Metric(file, label, metrics, splice, y));

    static double Metric(string file, string label, JsonObject metrics, JsonObject? splice, string name)
    {
        var node = metrics[name] ?? splice?[name];
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number) return v.GetValue<double>();
        if (node is JsonValue s && s.TryGetValue<string>(out var text) && text is "NaN" or "Infinity" or "-Infinity")
            return double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        var known = metrics.Where(kv => kv.Value is JsonValue jv && jv.GetValueKind() == JsonValueKind.Number).Select(kv => kv.Key)
            .Concat(splice?.Where(kv => kv.Value is JsonValue jv && jv.GetValueKind() == JsonValueKind.Number).Select(kv => kv.Key) ?? []).Distinct();
        throw new MechanistInputException($"{file}: '{label}' has no metric '{name}'; it has {string.Join(", ", known)}." +
            (name is "ce_loss_score" or "kl_score" ? " (The splice scores come from 'mechanist evaluate --model'.)" : ""));
    }
}
