using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Attribution;
using Mechanist.Host.Discovery;
using Mechanist.Models;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Host.Reports;

/// <summary>
/// The report of one attribution run, as <c>mechanist attribute</c> writes it: the method, model and sites, the target
/// metric with its definition and values, the scores (all of them, their shape and the largest by magnitude, with unit
/// labels), the completeness error with its definition, the options used, and the input token ids and their text.
/// </summary>
public static class AttributionReport
{
    /// <summary>The target metric as asked for: its kind, the target, the contrast (logit-diff) and the position.</summary>
    public sealed record Target(string Kind, long Id, long? Contrast, int Position);

    /// <summary>The report; <paramref name="top"/> largest-magnitude scores are listed.</summary>
    public static JsonObject ToJson(MethodEntry entry, string modelPath, IHookedModel model, IReadOnlyList<string> sites, Target metric,
        Tensor input, bool inputIsTokens, AttributionResult result, MethodOptions options, int top)
    {
        var (kind, target, contrast, position) = metric;
        var json = new JsonObject
        {
            ["method"] = entry.Id,
            ["model"] = Path.GetFullPath(modelPath),
            ["model_type"] = model.ModelType,
            ["sites"] = new JsonArray(sites.Select(s => (JsonNode)s).ToArray()),
            ["metric"] = new JsonObject
            {
                ["description"] = result.Metric, ["kind"] = kind, ["target"] = target, ["contrast"] = contrast, ["position"] = position,
            },
            ["input_shape"] = JsonTensors.Shape(input),
            ["score_definition"] = result.ScoreDefinition,
            ["completeness_error"] = result.CompletenessError,
            ["completeness_definition"] = result.CompletenessDefinition,
            ["convergence_delta"] = result.ConvergenceDelta is { } d ? JsonTensors.ToJson(d) : null,
            ["metric_value"] = result.MetricValue is { } m ? JsonTensors.ToJson(m) : null,
            ["reference_metric_value"] = result.ReferenceMetricValue is { } r ? JsonTensors.ToJson(r) : null,
            ["settings"] = new JsonObject(result.Settings.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["options"] = new JsonObject(entry.Descriptor.Options.Select(o => KeyValuePair.Create(o.Name, (JsonNode?)OptionSchema.FormatValue(o.Property.GetValue(options))))),
            ["scores_shape"] = JsonTensors.Shape(result.Scores),
        };
        var scores = result.Scores.detach().to(ScalarType.Float64).cpu();
        var flat = scores.reshape(-1);
        int n = (int)Math.Min(top, flat.shape[0]);
        var topList = new JsonArray();
        if (n > 0)
        {
            var (_, index) = flat.abs().topk(n);
            foreach (var i in index.data<long>().ToArray())
            {
                var at = JsonTensors.Unravel(i, scores.shape);
                var item = new JsonObject { ["index"] = new JsonArray(at.Select(x => (JsonNode)x).ToArray()), ["score"] = flat[i].item<double>() };
                if (result.UnitLabels is { } labels && scores.ndim == 2) item["unit"] = labels[(int)at[1]];
                topList.Add(item);
            }
        }
        json["top"] = topList;
        if (result.UnitLabels is { } unitLabels) json["unit_labels"] = new JsonArray(unitLabels.Select(l => (JsonNode)l).ToArray());
        json["scores"] = JsonTensors.ToJson(result.Scores);
        if (result.Parts.Count > 0)
            json["parts"] = new JsonObject(result.Parts.Select(kv => KeyValuePair.Create(kv.Key,
                (JsonNode?)new JsonObject { ["shape"] = JsonTensors.Shape(kv.Value), ["values"] = JsonTensors.ToJson(kv.Value) })));
        if (inputIsTokens)
        {
            // The token ids (and their text, when the model has a tokenizer) label a plot of the scores by position.
            json["input_tokens"] = JsonTensors.ToJson(input);
            if ((model as ITokenizedModel)?.TokenText is { } tokenText)
                json["input_token_text"] = new JsonArray(input.cpu().reshape(-1).data<long>().ToArray().Select(id => (JsonNode)tokenText(id)).ToArray());
        }
        return json;
    }

    /// <summary>The report as text: the metric, its values, the score's definition, the completeness error and the top scores.</summary>
    public static void WriteText(TextWriter w, string methodId, AttributionResult result, JsonObject json)
    {
        w.WriteLine($"{methodId} on {json["model_type"]} ({json["model"]})");
        w.WriteLine($"  metric: {result.Metric}");
        if (result.MetricValue is { } m) w.WriteLine($"  metric value: {string.Join(", ", m.to(ScalarType.Float64).cpu().data<double>().Select(v => v.ToString("0.#####", CultureInfo.InvariantCulture)))}");
        if (result.ReferenceMetricValue is { } r) w.WriteLine($"  reference metric value: {string.Join(", ", r.to(ScalarType.Float64).cpu().data<double>().Select(v => v.ToString("0.#####", CultureInfo.InvariantCulture)))}");
        w.WriteLine($"  score: {result.ScoreDefinition}");
        w.WriteLine($"  scores: shape [{string.Join(", ", result.Scores.shape)}]");
        if (result.CompletenessError is double e)
            w.WriteLine($"  completeness error: {e.ToString("0.######", CultureInfo.InvariantCulture)}  ({result.CompletenessDefinition})");
        var top = json["top"]!.AsArray();
        if (top.Count > 0)
        {
            w.WriteLine($"  top {top.Count} by |score|:");
            foreach (var item in top.Select(i => i!))
                w.WriteLine($"    [{string.Join(", ", item["index"]!.AsArray())}]{(item["unit"] is { } u ? $" {u}" : "")}  {item["score"]!.GetValue<double>().ToString("0.######", CultureInfo.InvariantCulture)}");
        }
    }
}
