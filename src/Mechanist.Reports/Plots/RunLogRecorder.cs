using System.Text;
using System.Text.Json.Nodes;

namespace Mechanist.Reports.Plots;

/// <summary>
/// Records a trainer's progress reports (step, loss, FVU, L0, dead fraction, …) as the rows of a
/// <c>training_log.jsonl</c> while passing each report on to <paramref name="inner"/> (the progress bar). A value that
/// is NaN or infinite is written as the string "NaN" / "Infinity" / "-Infinity" (JSON has no such numbers), so that a
/// plot of the log can name it.
/// </summary>
public sealed class RunLogRecorder(IProgress<ProgressReport>? inner = null) : IProgress<ProgressReport>
{
    readonly List<JsonObject> _rows = [];

    public int Count => _rows.Count;

    public void Report(ProgressReport value)
    {
        var row = new JsonObject { ["step"] = value.Step };
        foreach (var (name, v) in value.Values)
            row[name] = double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
        _rows.Add(row);
        inner?.Report(value);
    }

    /// <summary>The log as JSON Lines; empty when the method reported no progress (it has no training loop).</summary>
    public string ToJsonl()
    {
        var sb = new StringBuilder();
        foreach (var row in _rows) sb.Append(row.ToJsonString()).Append('\n');
        return sb.ToString();
    }

    /// <summary>The rows as a <see cref="RunLog"/> (for plotting without a round trip through a file).</summary>
    public RunLog ToRunLog(string name, string source) => new(name, source, "step", _rows.Select(r => new RunLog.Row(
        (double)r["step"]!.GetValue<long>(),
        r.Where(kv => kv.Key != "step").ToDictionary(kv => kv.Key, kv => kv.Value is JsonValue v && v.TryGetValue<double>(out var d) ? d
            : double.Parse((string)kv.Value!, System.Globalization.CultureInfo.InvariantCulture)))).ToList());
}
