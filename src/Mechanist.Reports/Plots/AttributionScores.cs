using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mechanist.Reports.Plots;

/// <summary>
/// Reads the scores of a <c>mechanist attribute --out FILE</c> report as bars: one per token position (the scores of
/// a position summed over the trailing axes, as token-level attributions are read) when the report has the input
/// tokens, one per unit when the method names its units (sites, features), otherwise the largest scores by index.
/// </summary>
public static class AttributionScores
{
    public sealed record Read(string Title, string ValueLabel, IReadOnlyList<AttributionBars.Score> Scores, string By);

    public static readonly string[] Groupings = ["auto", "position", "unit", "element"];

    public static Read FromFile(string path, int top = 20, string by = "auto")
    {
        if (!File.Exists(path)) throw new MechanistInputException($"{path}: attribution report not found.");
        JsonObject report;
        try
        {
            report = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new MechanistInputException($"{path}: expected the JSON object 'mechanist attribute --out' writes.");
        }
        catch (JsonException e)
        {
            throw new MechanistInputException($"{path}: not valid JSON ({e.Message}).");
        }
        if (report["scores"] is not JsonNode scoresNode || report["scores_shape"] is not JsonArray shapeNode)
            throw new MechanistInputException($"{path}: no 'scores' and 'scores_shape'; expected the report of 'mechanist attribute'.");
        var shape = shapeNode.Select(s => (long)s!.GetValue<double>()).ToArray();
        var values = new List<double>();
        Flatten(scoresNode, values, path);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (values.Count != count)
            throw new MechanistInputException($"{path}: 'scores' holds {values.Count} values but 'scores_shape' [{string.Join(", ", shape)}] needs {count}.");

        var tokens = report["input_tokens"] is JsonNode t ? Ints(t) : null;
        var text = (report["input_token_text"] as JsonArray)?.Select(x => (string?)x).ToList();
        var units = (report["unit_labels"] as JsonArray)?.Select(x => (string?)x ?? "?").ToList();
        long batch = shape.Length > 0 ? shape[0] : 1;
        bool positions = tokens is not null && shape.Length >= 2 && tokens.Count == batch * shape[1];
        bool perUnit = units is not null && shape.Length == 2 && units.Count == shape[1];
        var grouping = by switch
        {
            "auto" => positions ? "position" : perUnit ? "unit" : "element",
            "position" when !positions => throw new MechanistInputException($"{path}: scores cannot be grouped by position: the report has no input tokens matching scores [{string.Join(", ", shape)}] (attribute with --tokens)."),
            "unit" when !perUnit => throw new MechanistInputException($"{path}: scores cannot be grouped by unit: the method names no units for scores [{string.Join(", ", shape)}]."),
            "position" or "unit" or "element" => by,
            _ => throw new MechanistInputException($"--by {by}: expected auto, position, unit or element."),
        };
        var inv = CultureInfo.InvariantCulture;
        var scores = new List<AttributionBars.Score>();
        string Where(long b, string label) => batch > 1 ? $"seq {b} {label}" : label;
        if (grouping == "position")
        {
            long length = shape[1], inner = count / (batch * length);
            for (long b = 0; b < batch; b++)
                for (long p = 0; p < length; p++)
                {
                    double sum = 0;
                    for (long k = 0; k < inner; k++) sum += values[(int)((b * length + p) * inner + k)];
                    long i = b * length + p;
                    var tokenText = text is not null && i < text.Count && text[(int)i] is { } s ? $"'{s}'" : $"#{tokens![(int)i]}";
                    scores.Add(new(Where(b, $"pos {p} {tokenText}"), sum));
                }
        }
        else if (grouping == "unit")
        {
            for (long b = 0; b < batch; b++)
                for (int u = 0; u < units!.Count; u++) scores.Add(new(Where(b, units[u]), values[(int)(b * units.Count + u)]));
        }
        else
        {
            for (int i = 0; i < values.Count; i++)
            {
                long flat = i;
                var index = new long[shape.Length];
                for (int d = shape.Length - 1; d >= 0; d--) { index[d] = flat % shape[d]; flat /= shape[d]; }
                scores.Add(new($"[{string.Join(", ", index.Select(x => x.ToString(inv)))}]", values[i]));
            }
        }
        for (int i = 0; i < scores.Count; i++)
            PlotValues.Finite(scores[i].Value, path, "score", scores[i].Label);
        var kept = scores.OrderByDescending(s => Math.Abs(s.Value)).Take(Math.Max(1, top)).ToList();
        var method = (string?)report["method"] ?? "attribution";
        var metric = (string?)report["metric"]?["description"] ?? "the metric";
        var title = $"{method}: {metric}" + (kept.Count < scores.Count ? $" (top {kept.Count} of {scores.Count} by |score|)" : "");
        return new Read(title, grouping == "position" ? "attribution score (summed over the position's inner axes)" : "attribution score", kept, grouping);
    }

    static void Flatten(JsonNode node, List<double> into, string path)
    {
        if (node is JsonArray a) foreach (var x in a) Flatten(x!, into, path);
        else if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number) into.Add(v.GetValue<double>());
        else if (node is JsonValue s && s.TryGetValue<string>(out var text) && text is "NaN" or "Infinity" or "-Infinity")
            into.Add(double.Parse(text, CultureInfo.InvariantCulture));
        else throw new MechanistInputException($"{path}: 'scores' holds {node?.ToJsonString() ?? "null"}, not a number.");
    }

    static List<long> Ints(JsonNode node)
    {
        var values = new List<double>();
        Flatten(node, values, "input_tokens");
        return values.Select(v => (long)v).ToList();
    }
}
