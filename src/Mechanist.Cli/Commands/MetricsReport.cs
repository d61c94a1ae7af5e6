using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Methods.Evaluation;

namespace Mechanist.Cli.Commands;

/// <summary>Metrics as JSON (values, then a <c>definitions</c> object stating each formula) or as aligned text.</summary>
public static class MetricsReport
{
    public static JsonObject ToJson(DecompositionMetrics metrics, IReadOnlyDictionary<string, string> context)
    {
        var o = new JsonObject();
        foreach (var (k, v) in context) o[k] = v;
        var definitions = new JsonObject();
        foreach (var (name, value) in metrics.Values())
        {
            o[name] = name == "samples" ? JsonValue.Create((long)value) : JsonValue.Create(value);
            definitions[name] = DecompositionMetrics.Definitions[name];
        }
        o["definitions"] = definitions;
        return o;
    }

    public static string ToJsonText(DecompositionMetrics metrics, IReadOnlyDictionary<string, string> context) =>
        ToJson(metrics, context).ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public static void WriteText(TextWriter w, DecompositionMetrics metrics)
    {
        foreach (var (name, value) in metrics.Values())
            w.WriteLine($"  {name,-20} {(name == "samples" ? ((long)value).ToString(CultureInfo.InvariantCulture) : value.ToString("0.######", CultureInfo.InvariantCulture))}");
    }
}
