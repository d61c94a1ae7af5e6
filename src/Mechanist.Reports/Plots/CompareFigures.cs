using System.Globalization;

namespace Mechanist.Reports.Plots;

/// <summary>
/// The figures of a comparison: the L0–FVU Pareto front, the L0–MMCS front when ground truth is known, the training
/// curves of the methods that train, and each method's feature-density histogram. A method whose metric is NaN, or
/// whose log holds a NaN, is left out of that figure with a note naming the metric (and step), not drawn as garbage.
/// </summary>
public static class CompareFigures
{
    public sealed record Method(string Id, IReadOnlyDictionary<string, double> Metrics, RunLog? Log, IReadOnlyList<double>? Frequencies, long Rows);

    public sealed record Result(IReadOnlyList<(string Name, string Caption, Figure Figure)> Figures, IReadOnlyList<string> Notes);

    public static Result Build(IReadOnlyList<Method> methods)
    {
        var figures = new List<(string, string, Figure)>();
        var notes = new List<string>();

        void Pareto(string name, string y, string caption)
        {
            var points = new List<ParetoPlot.Point>();
            foreach (var m in methods)
            {
                if (!m.Metrics.TryGetValue("l0", out var l0) || !m.Metrics.TryGetValue(y, out var v)) continue;
                var (bad, value) = !double.IsFinite(l0) ? ("l0", l0) : !double.IsFinite(v) ? (y, v) : (null, 0.0);
                if (bad is not null)
                {
                    notes.Add($"{m.Id}: {bad} is {PlotValues.Describe(value)}; left out of the L0 vs {y} plot.");
                    continue;
                }
                points.Add(new ParetoPlot.Point(m.Id, l0, v));
            }
            if (points.Count > 0) figures.Add((name, caption, ParetoPlot.Render(points, "l0", y)));
        }
        Pareto("pareto", "fvu", "Sparsity against reconstruction: L0 (active latents per row) against FVU; the line joins the methods no other beats on both.");
        if (methods.Any(m => m.Metrics.ContainsKey("mmcs")))
            Pareto("pareto-mmcs", "mmcs", "Sparsity against recovery of the true features: L0 against MMCS (mean max cosine similarity with the ground-truth directions); upper-left is better.");

        var logs = new List<RunLog>();
        foreach (var m in methods.Where(m => m.Log is { Rows.Count: > 0 }))
        {
            try
            {
                foreach (var metric in TrainingCurves.Preferred.Where(m.Log!.Metrics.Contains)) m.Log!.Series(metric);
                logs.Add(m.Log!);
            }
            catch (MechanistInputException e)
            {
                notes.Add($"{m.Id}: training curves left out: {e.Message}");
            }
        }
        if (logs.Count > 0)
            figures.Add(("training", "Training curves from each trainer's log (training_log.jsonl in its folder): loss, FVU and L0 of the training batches, and the fraction of dead latents.",
                TrainingCurves.Render(logs)));

        var densities = new List<ScottPlot.Plot>();
        foreach (var m in methods.Where(m => m.Frequencies is not null))
        {
            try
            {
                densities.Add(DensityHistogram.Panel(m.Frequencies!, m.Rows, m.Id));
            }
            catch (MechanistInputException e)
            {
                notes.Add($"{m.Id}: density histogram left out: {e.Message}");
            }
        }
        if (densities.Count > 0)
        {
            int columns = Math.Min(2, densities.Count), rows = (densities.Count + columns - 1) / columns;
            figures.Add(("density", $"Feature density of each method on the {methods[0].Rows.ToString("N0", CultureInfo.InvariantCulture)} rows: how often each latent fires (log scale); never-firing latents are counted in each title.",
                Figure.Grid(densities, columns, columns == 1 ? Figure.DefaultWidth : 1080, rows * 360)));
        }
        return new Result(figures, notes);
    }
}
