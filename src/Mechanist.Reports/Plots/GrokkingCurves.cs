using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ScottPlot;

namespace Mechanist.Reports.Plots;

/// <summary>
/// Grokking: train and held-out accuracy against epoch (left), and train and held-out cross-entropy on a log axis
/// (right), from a <c>mechanist train modular-addition</c> folder (<c>training_log.jsonl</c>). Dashed lines mark the
/// epochs where each accuracy first reached 99%, from <c>metrics.json</c> when present.
/// </summary>
public static class GrokkingCurves
{
    public static Figure Render(string folder)
    {
        var log = RunLog.Read(folder);
        foreach (var key in new[] { "train_accuracy", "test_accuracy" })
            if (!log.Metrics.Contains(key))
                throw new MechanistInputException($"{log.Source}: no '{key}' in the log; grokking curves read a 'mechanist train modular-addition' run.");
        double? train99 = null, test99 = null;
        var metricsPath = Path.Combine(Directory.Exists(folder) ? folder : Path.GetDirectoryName(Path.GetFullPath(folder))!, "metrics.json");
        if (File.Exists(metricsPath))
        {
            try
            {
                var metrics = JsonNode.Parse(File.ReadAllText(metricsPath));
                train99 = Epoch(metrics?["train_accuracy_99_epoch"]);
                test99 = Epoch(metrics?["test_accuracy_99_epoch"]);
            }
            catch (JsonException e)
            {
                throw new MechanistInputException($"{metricsPath}: not valid JSON ({e.Message}).");
            }
        }

        var accuracy = Figure.NewPanel();
        Figure.Title(accuracy, "accuracy");
        accuracy.XLabel(log.XName);
        Line(accuracy, log, "train_accuracy", "train", 0, log: false);
        Line(accuracy, log, "test_accuracy", "held-out", 1, log: false);
        accuracy.Axes.SetLimitsY(-0.03, 1.05);
        Marks(accuracy, train99, test99);
        accuracy.ShowLegend(Alignment.LowerRight);

        var panels = new List<Plot> { accuracy };
        if (log.Metrics.Contains("train_loss") && log.Metrics.Contains("test_loss"))
        {
            var loss = Figure.NewPanel();
            Figure.Title(loss, "cross-entropy");
            loss.XLabel(log.XName);
            Line(loss, log, "train_loss", "train", 0, log: true);
            Line(loss, log, "test_loss", "held-out", 1, log: true);
            Axes.LogY(loss);
            Marks(loss, train99, test99);
            loss.ShowLegend(Alignment.UpperRight);
            panels.Add(loss);
        }
        return Figure.Grid(panels, 2, panels.Count == 1 ? Figure.DefaultWidth : 1080, 420);
    }

    static void Line(Plot plot, RunLog run, string metric, string label, int colour, bool log)
    {
        var (xs, ys) = run.Series(metric);
        if (log)
        {
            // A loss of exactly 0 has no place on a log axis: those points are left out.
            var keep = Enumerable.Range(0, ys.Length).Where(i => ys[i] > 0).ToArray();
            xs = keep.Select(i => xs[i]).ToArray();
            ys = keep.Select(i => Math.Log10(ys[i])).ToArray();
        }
        (xs, ys) = Axes.Decimate(xs, ys, 800);
        var line = plot.Add.Scatter(xs, ys, Axes.Colour(colour));
        line.MarkerSize = 0;
        line.LineWidth = 1.6f;
        line.LegendText = label;
    }

    static void Marks(Plot plot, double? train99, double? test99)
    {
        foreach (var (epoch, colour, text) in new[] { (train99, 0, "train ≥ 99%"), (test99, 1, "held-out ≥ 99%") })
        {
            if (epoch is not double e) continue;
            var v = plot.Add.VerticalLine(e, 1.2f, Axes.Colour(colour), LinePattern.Dashed);
            v.LegendText = $"{text} (epoch {e.ToString(CultureInfo.InvariantCulture)})";
        }
    }

    static double? Epoch(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
}
