using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Methods.Evaluation;

namespace Mechanist.Host.Reports;

/// <summary>
/// Rows of a head-to-head comparison of fitted decomposers, as written to <c>results.json</c> by
/// <c>mechanist compare</c> and <c>mechanist sweep</c>: one JSON object per fit (method, options, metrics, fit time,
/// peak memory, folder), the definitions of every value, and the console table over the rows.
/// </summary>
public static class ComparisonReport
{
    /// <summary>One fit as a results row; <paramref name="extra"/> adds keys after the common ones (a sweep's job, site, seed).</summary>
    public static JsonObject Row(string method, string source, string architecture, int dSae, IReadOnlyDictionary<string, string> options,
        DecompositionMetrics metrics, double fitSeconds, long peakRssBytes, string peakRssMethod, string folder,
        IEnumerable<KeyValuePair<string, JsonNode?>>? extra = null)
    {
        var row = new JsonObject
        {
            ["method"] = method,
            ["source"] = source,
            ["architecture"] = architecture,
            ["d_sae"] = dSae,
            ["options"] = new JsonObject(options.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["metrics"] = Metrics(metrics),
            ["fit_seconds"] = fitSeconds,
            ["peak_rss_bytes"] = peakRssBytes,
            ["peak_rss_method"] = peakRssMethod,
            ["folder"] = folder,
        };
        foreach (var (key, value) in extra ?? []) row[key] = value;
        return row;
    }

    /// <summary>The metric values by name (<c>samples</c> as an integer).</summary>
    /// <summary>
    /// <c>results.json</c> of <c>mechanist compare</c>: the data (paths as given made absolute, rows, width), the shared
    /// settings, one row per method (<see cref="Row"/>) and the definitions.
    /// </summary>
    public static JsonObject Results(IEnumerable<JsonObject> methods, string activations, long rows, int dIn, int seed, int steps, string device,
        string? targets, string? groundTruth, double? targetL0 = null)
    {
        var definitions = Definitions();
        if (targetL0 is not null)
        {
            definitions["sparsity_control"] = "how --target-l0 reached the method: target_l0 (its sparsity coefficient adapted during training), k=K (TopK family), none (no sparsity knob)";
            definitions["l0_within_10_percent_of_target"] = "whether the l0 measured on the activations is within 10% of target_l0";
        }
        var result = new JsonObject
        {
            ["activations"] = activations,
            ["rows"] = rows,
            ["d_in"] = dIn,
            ["seed"] = seed,
            ["steps"] = steps,
            ["device"] = device,
            ["methods"] = new JsonArray(methods.Select(m => (JsonNode)m).ToArray()),
            ["definitions"] = definitions,
        };
        if (targetL0 is double tl) result["target_l0"] = tl;
        if (targets is not null) result["targets"] = Path.GetFullPath(targets);
        if (groundTruth is not null) result["ground_truth"] = Path.GetFullPath(groundTruth);
        return result;
    }

    /// <summary>The row columns of a run with a target L0: how the method reached it, and whether its l0 is within 10% of it.</summary>
    public static IEnumerable<KeyValuePair<string, JsonNode?>> TargetL0Columns(string sparsityControl, double l0, double target) =>
    [
        KeyValuePair.Create("sparsity_control", (JsonNode?)sparsityControl),
        KeyValuePair.Create("l0_within_10_percent_of_target", (JsonNode?)(Math.Abs(l0 - target) <= 0.1 * target)),
    ];

    public static JsonObject Metrics(DecompositionMetrics metrics)
    {
        var o = new JsonObject();
        foreach (var (name, value) in metrics.Values())
            o[name] = name == "samples" ? JsonValue.Create((long)value) : JsonValue.Create(value);
        return o;
    }

    /// <summary>What each metric and measurement in a row means.</summary>
    public static JsonObject Definitions()
    {
        var definitions = new JsonObject();
        foreach (var (k, v) in DecompositionMetrics.Definitions) definitions[k] = v;
        definitions["fit_seconds"] = "wall-clock seconds of the method's fit (training), excluding evaluation";
        definitions["peak_rss_bytes"] = "peak resident memory of the process during the fit (see peak_rss_method)";
        return definitions;
    }

    /// <summary>The aligned console table of <paramref name="rows"/>, first column <paramref name="labelHeader"/> from <paramref name="label"/>.</summary>
    public static void WriteTable(TextWriter w, IReadOnlyList<JsonObject> rows, Func<JsonObject, string> label, string labelHeader = "method")
    {
        var inv = CultureInfo.InvariantCulture;
        bool mmcs = rows.Count > 0 && rows.All(r => r["metrics"]?["mmcs"] is not null);
        var header = new List<string> { labelHeader, "d_sae", "l0", "fvu", "explained_var", "mse", "dead", "dense" };
        if (mmcs) header.Add("mmcs");
        header.AddRange(["fit_s", "peak_rss_mb"]);
        double M(JsonObject r, string name) => r["metrics"]![name]!.GetValue<double>();
        var table = rows.Select(r =>
        {
            var cells = new List<string>
            {
                label(r), r["d_sae"]!.GetValue<int>().ToString(inv), M(r, "l0").ToString("0.##", inv), M(r, "fvu").ToString("0.####", inv),
                M(r, "explained_variance").ToString("0.####", inv), M(r, "mse").ToString("0.#####", inv),
                M(r, "dead_fraction").ToString("0.###", inv), M(r, "dense_fraction").ToString("0.###", inv),
            };
            if (mmcs) cells.Add(M(r, "mmcs").ToString("0.####", inv));
            cells.AddRange([r["fit_seconds"]!.GetValue<double>().ToString("0.##", inv),
                (r["peak_rss_bytes"]!.GetValue<long>() / 1048576.0).ToString("0", inv)]);
            return cells;
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, table.Count == 0 ? 0 : table.Max(row => row[i].Length))).ToList();
        w.WriteLine(string.Join("  ", header.Select((h, i) => i == 0 ? h.PadRight(widths[i]) : h.PadLeft(widths[i]))));
        foreach (var row in table)
            w.WriteLine(string.Join("  ", row.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))));
    }
}
