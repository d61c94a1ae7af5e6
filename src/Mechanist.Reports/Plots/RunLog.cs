using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mechanist.Reports.Plots;

/// <summary>
/// A training run's log as plots read it: rows of numbers against a step or epoch. Read from the JSON Lines logs the
/// trainers write (<c>training_log.jsonl</c>: one object per line with <c>step</c> or <c>epoch</c>). A value written
/// as the string <c>"NaN"</c> or <c>"Infinity"</c> (JSON has no such numbers) is read as that value, so that a plot can
/// name it; a line cut short by a kill is skipped.
/// </summary>
public sealed record RunLog(string Name, string Source, string XName, IReadOnlyList<RunLog.Row> Rows)
{
    public const string FileName = "training_log.jsonl";

    public sealed record Row(double X, IReadOnlyDictionary<string, double> Values);

    /// <summary>Keys that are bookkeeping rather than metrics (not plotted unless asked for).</summary>
    public static readonly string[] Bookkeeping = ["step", "epoch", "seconds", "lr", "total"];

    /// <summary>Metric names in the order they first appear.</summary>
    public IReadOnlyList<string> Metrics =>
        Rows.SelectMany(r => r.Values.Keys).Distinct().Where(k => !Bookkeeping.Contains(k)).ToList();

    /// <summary>
    /// Reads a log file, or the <c>training_log.jsonl</c> in a folder. <paramref name="name"/> labels the run (default:
    /// the folder's name).
    /// </summary>
    public static RunLog Read(string path, string? name = null)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!File.Exists(file))
            throw new MechanistInputException(Directory.Exists(path)
                ? $"{path}: no {FileName} in this folder (a training run's log: one JSON object per line with 'step' or 'epoch')."
                : $"{path}: training log not found.");
        var rows = new List<Row>();
        string? xName = null;
        int lineNumber = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonObject? o;
            try
            {
                o = JsonNode.Parse(line) as JsonObject;
            }
            catch (JsonException)
            {
                continue; // a line cut short by a kill; the trainers drop it on resume too
            }
            if (o is null) throw new MechanistInputException($"{file}, line {lineNumber}: expected a JSON object per line.");
            var key = o.ContainsKey("step") ? "step" : o.ContainsKey("epoch") ? "epoch" : null;
            if (key is null) throw new MechanistInputException($"{file}, line {lineNumber}: the row has neither 'step' nor 'epoch'.");
            if (xName is not null && key != xName)
                throw new MechanistInputException($"{file}, line {lineNumber}: the row counts by '{key}' but earlier rows count by '{xName}'.");
            xName = key;
            var values = new Dictionary<string, double>();
            foreach (var (k, v) in o)
                if (Number(v) is double d) values[k] = d;
            if (!values.TryGetValue(key, out var x) || !double.IsFinite(x))
                throw new MechanistInputException($"{file}, line {lineNumber}: '{key}' is not a finite number.");
            values.Remove(key);
            rows.Add(new Row(x, values));
        }
        if (rows.Count == 0) throw new MechanistInputException($"{file}: the log has no rows.");
        return new RunLog(name ?? DefaultName(path, file), file, xName!, rows);
    }

    static string DefaultName(string path, string file)
    {
        var folder = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(file))!;
        return Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
    }

    static double? Number(JsonNode? node)
    {
        if (node is not JsonValue value) return null;
        if (value.TryGetValue<double>(out var d)) return d;
        if (value.TryGetValue<string>(out var s))
            return s switch
            {
                "NaN" => double.NaN,
                "Infinity" or "+Infinity" => double.PositiveInfinity,
                "-Infinity" => double.NegativeInfinity,
                _ => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : null,
            };
        return null;
    }

    /// <summary>The (x, value) pairs of one metric, rows without it skipped; a NaN or infinity is an input error naming the row.</summary>
    public (double[] X, double[] Y) Series(string metric)
    {
        var xs = new List<double>();
        var ys = new List<double>();
        foreach (var row in Rows)
        {
            if (!row.Values.TryGetValue(metric, out var v)) continue;
            PlotValues.Finite(v, $"{Source} (run '{Name}')", $"'{metric}'", $"{XName} {row.X.ToString(CultureInfo.InvariantCulture)}");
            xs.Add(row.X);
            ys.Add(v);
        }
        return (xs.ToArray(), ys.ToArray());
    }
}
