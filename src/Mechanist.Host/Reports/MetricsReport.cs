using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Methods.Evaluation;

namespace Mechanist.Host.Reports;

/// <summary>
/// A decomposition's metrics (<c>metrics.json</c>, <c>evaluate</c>) as JSON (values, then a <c>definitions</c> object
/// stating each formula) or as aligned text; likewise the splice metrics.
/// </summary>
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

    /// <summary>
    /// The splice metrics of a decomposition spliced into a model (<c>evaluate --model</c>): values, the loss they
    /// compare, the model and sites, and a <c>definitions</c> object.
    /// </summary>
    public static JsonObject SpliceJson(SpliceMetrics metrics, string modelPath, string site, string? outputSite)
    {
        var values = new JsonObject();
        var definitions = new JsonObject();
        foreach (var (name, value) in metrics.Values())
        {
            values[name] = name == "tokens" ? JsonValue.Create((long)value) : JsonValue.Create(value);
            definitions[name] = metrics.DefinitionsOf()[name];
        }
        values["loss"] = metrics.Loss;
        values["model"] = Path.GetFullPath(modelPath);
        values["site"] = site;
        if (outputSite is not null) values["output_site"] = outputSite;
        values["definitions"] = definitions;
        return values;
    }

    public static void WriteSpliceText(TextWriter w, SpliceMetrics metrics, string modelPath, string site, string? outputSite)
    {
        w.WriteLine($"spliced into {Path.GetFullPath(modelPath)} at {site}{(outputSite is null ? "" : $" -> {outputSite}")} " +
                    $"({(metrics.Loss == SpliceMetrics.TaskLoss ? "the task's loss at its answer positions" : "next-token loss")}):");
        foreach (var (name, value) in metrics.Values())
            w.WriteLine($"  {name,-20} {(name == "tokens" ? ((long)value).ToString(CultureInfo.InvariantCulture) : value.ToString("0.######", CultureInfo.InvariantCulture))}");
    }

    public static void WriteText(TextWriter w, DecompositionMetrics metrics)
    {
        foreach (var (name, value) in metrics.Values())
            w.WriteLine($"  {name,-20} {(name == "samples" ? ((long)value).ToString(CultureInfo.InvariantCulture) : value.ToString("0.######", CultureInfo.InvariantCulture))}");
    }
}
