using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Reports;
using Mechanist.Host.Running;
using Mechanist.Host.Activations;
using Mechanist.IO;
using Mechanist.Methods.Evaluation;
using Mechanist.Options;
using Mechanist.Reports.Html;
using Mechanist.Reports.Plots;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist compare</c>: fits several decomposers (built-in and plugin) on the same activations with the same seed
/// and step budget, then writes a console table, <c>results.json</c> (metrics with definitions, wall time and peak
/// memory per method), <c>report.html</c> (the table and every figure), the figures as PNG and SVG (<c>pareto</c>: L0
/// against FVU; <c>pareto-mmcs</c> with ground truth; <c>training</c>: the trainers' logs; <c>density</c>: feature
/// density) and each method's SAELens folder with its <c>training_log.jsonl</c>.
/// </summary>
public sealed class CompareCommand : ICommand
{
    public string Name => "compare";
    public string Summary => "fit several decomposers on the same data, seed and budget: table, results.json, report.html, plots";
    public string Usage => "--activations FILE[,FILE...] --methods ID,ID,... [--set id.key=value]... [--steps N] [--batch-size B] [--target-l0 K] [--targets FILE] [--ground-truth FILE] [--seed S] [--device D] [--plugins DIR]... [--format text|json] --out DIR";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("activations", ".safetensors (tensor 'activations' [N, d]) or .npy; several row-aligned sites comma-separated", ValueName: "FILE"),
        new("methods", "decomposer IDs, comma-separated (see 'mechanist plugins list')", ValueName: "IDS"),
        new("steps", "step budget given to every method that has a 'steps' option (default 1000)", ValueName: "N"),
        new("batch-size", "batch size given to every method that has a 'batch_size' option (default: each method's own)", ValueName: "B"),
        new("target-l0", "compare at matched sparsity: target_l0=K for methods with a sparsity coefficient (adapted while training), k=K for the TopK family; others run as configured", ValueName: "K"),
        new("targets", "row-aligned targets (transcoders)", ValueName: "FILE"),
        new("ground-truth", ".safetensors with tensor 'directions' [n, d]: adds mmcs", ValueName: "FILE"),
        CommonOptions.Set, CommonOptions.Seed, CommonOptions.Device, CommonOptions.Plugins, CommonOptions.Format, CommonOptions.Out,
        CommonOptions.Verbose, CommonOptions.Help,
    ];

    sealed record Row(MethodEntry Entry, MethodOptions Options, DecompositionMetrics Metrics, double FitSeconds, PeakMemory.Result Peak,
        int DSae, string Architecture, Decomposition Decomposition, RunLogRecorder Log, double[] Frequencies, string SparsityControl);

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var activationsPath = args.Require("activations");
        var methodIds = args.Require("methods").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToList();
        var outDir = args.Require("out");
        if (methodIds.Count == 0) throw new UsageException("--methods needs at least one decomposer ID.");
        var duplicate = methodIds.GroupBy(m => m).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new UsageException($"--methods lists '{duplicate.Key}' more than once.");
        int steps = args.GetInt("steps", 1000);
        if (steps < 1) throw new UsageException($"--steps must be at least 1, got {steps}.");
        int? batchSize = args.Get("batch-size") is null ? null : args.GetInt("batch-size", 0);
        if (batchSize is < 1) throw new UsageException($"--batch-size must be at least 1, got {batchSize}.");
        double? targetL0 = args.Get("target-l0") is null ? null : args.GetDouble("target-l0", 0);
        if (targetL0 is double t0 && !(t0 > 0 && double.IsFinite(t0))) throw new UsageException($"--target-l0 must be a positive number, got {args.Get("target-l0")}.");
        var format = args.GetChoice("format", "text", "text", "json");
        var seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);

        using var host = CommonOptions.CreateHost(args, env);
        // Resolve and bind everything before any training, so a typo fails in a second, not after an hour.
        var runner = MethodRunner.For(host);
        var plan = new List<(BoundMethod Method, string SparsityControl)>();
        foreach (var id in methodIds)
        {
            var entry = host.Catalog.Resolve(id, MethodKind.Decomposer);
            var settings = new Dictionary<string, string>(args.Settings(id, methodIds));
            var names = entry.Descriptor.Options.Select(o => o.Name).ToHashSet();
            if (names.Contains("steps")) settings.TryAdd("steps", steps.ToString(CultureInfo.InvariantCulture));
            if (batchSize is int b && names.Contains("batch_size")) settings.TryAdd("batch_size", b.ToString(CultureInfo.InvariantCulture));
            string control = "";
            if (targetL0 is double target)
            {
                // A sparsity coefficient adapts to the target; the TopK family sets it directly (k per row, or on
                // average for BatchTopK); anything else has no sparsity knob and runs as configured.
                if (names.Contains("target_l0"))
                {
                    control = settings.TryAdd("target_l0", target.ToString(CultureInfo.InvariantCulture)) ? "target_l0" : "target_l0 (set by --set)";
                }
                else if (names.Contains("k"))
                {
                    int k = Math.Max(1, (int)Math.Round(target));
                    control = settings.TryAdd("k", k.ToString(CultureInfo.InvariantCulture)) ? $"k={k}" : "k (set by --set)";
                }
                else control = "none";
            }
            plan.Add((MethodRunner.Bind(entry, settings), control));
        }
        using var inputs = ActivationInputs.Load(activationsPath, args.Get("targets"));
        var reference = inputs.Targets ?? inputs.Activations;
        using var truth = args.Get("ground-truth") is { } gt ? GroundTruth.Load(gt, reference.Dimension) : null;

        var rows = new List<Row>();
        try
        {
            foreach (var (method, control) in plan)
            {
                var (entry, options) = (method.Entry, method.Options);
                var progress = ProgressBar.For(entry.Id, env);
                var log = new RunLogRecorder(progress);
                var context = new DecomposeContext
                {
                    Activations = inputs.Activations, Targets = inputs.Targets, Sites = inputs.Sites, Options = options, Seed = seed,
                    Device = device, Progress = log,
                };
                var watch = Stopwatch.StartNew();
                Decomposition decomposition;
                PeakMemory.Result peak;
                MallocTuning.ReturnFreeMemory();
                try
                {
                    using var keep = MallocTuning.KeepFreedMemory();
                    (decomposition, peak) = PeakMemory.Measure(() => runner.Fit(method, context));
                }
                finally
                {
                    progress.Finish();
                }
                double seconds = watch.Elapsed.TotalSeconds;
                try
                {
                    var metrics = DecompositionMetrics.Compute(decomposition, inputs.Activations, truth, device: device, targets: decomposition.ReconstructsTargets ? inputs.Targets : null);
                    var frequencies = FeatureDensity.Compute(decomposition, inputs.Activations, device: device);
                    rows.Add(new Row(entry, options, metrics, seconds, peak, decomposition.DSae, decomposition.Architecture, decomposition, log, frequencies, control));
                }
                catch
                {
                    decomposition.Dispose();
                    throw;
                }
            }

            var results = ComparisonReport.Results(rows.Select(r => ComparisonReport.Row(r.Entry.Id, r.Entry.Source, r.Architecture, r.DSae,
                    r.Entry.Descriptor.Options.ToDictionary(o => o.Name, o => OptionSchema.FormatValue(o.Property.GetValue(r.Options))),
                    r.Metrics, r.FitSeconds, r.Peak.PeakBytes, r.Peak.Method, folder: r.Entry.Id,
                    extra: targetL0 is double target ? ComparisonReport.TargetL0Columns(r.SparsityControl, r.Metrics.L0, target) : null)),
                inputs.Description, inputs.Activations.Count, inputs.Activations.Dimension, seed, steps, device.ToString(), args.Get("targets"), args.Get("ground-truth"),
                targetL0);
            var resultsText = results.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
            var figures = CompareFigures.Build(rows.Select(r => new CompareFigures.Method(r.Entry.Id,
                r.Metrics.Values().ToDictionary(kv => kv.Key, kv => kv.Value),
                r.Log.Count > 0 ? r.Log.ToRunLog(r.Entry.Id, Path.Combine(r.Entry.Id, RunLog.FileName)) : null,
                r.Frequencies, inputs.Activations.Count)).ToList());
            var pictures = figures.Figures.Select(f => (f.Name, Png: f.Figure.Png(), Svg: f.Figure.Svg())).ToList();
            var report = CompareReportPage.Render(results, figures.Figures.Select(f => new CompareReportPage.Plot(f.Name, f.Caption, f.Figure)).ToList(),
                figures.Notes, CliApp.Version);
            AtomicFile.WriteDirectory(outDir, temp =>
            {
                File.WriteAllText(Path.Combine(temp, "results.json"), resultsText + "\n");
                File.WriteAllText(Path.Combine(temp, "report.html"), report);
                foreach (var (name, png, svg) in pictures)
                {
                    File.WriteAllBytes(Path.Combine(temp, name + ".png"), png);
                    File.WriteAllText(Path.Combine(temp, name + ".svg"), svg);
                }
                foreach (var r in rows)
                    DecompositionFolder.Save(Path.Combine(temp, r.Entry.Id), r.Decomposition,
                        r.Log.Count > 0 ? new Dictionary<string, string> { [RunLog.FileName] = r.Log.ToJsonl() } : null);
            });
            if (format == "json") env.Out.WriteLine(resultsText);
            else
            {
                ComparisonReport.WriteTable(env.Out, results["methods"]!.AsArray().Select(n => n!.AsObject()).ToList(), r => r["method"]!.GetValue<string>());
                env.Out.WriteLine($"-> {Path.GetFullPath(outDir)} (report.html, results.json, pareto/training/density .png and .svg, one SAELens folder per method)");
                foreach (var note in figures.Notes) env.Out.WriteLine($"  not plotted: {note}");
                if (targetL0 is double target)
                    WriteTargetLines(env.Out, rows, target);
            }
            return ExitCodes.Ok;
        }
        finally
        {
            foreach (var r in rows) r.Decomposition.Dispose();
        }
    }

    static void WriteTargetLines(TextWriter w, List<Row> rows, double target)
    {
        var inv = CultureInfo.InvariantCulture;
        foreach (var r in rows)
            w.WriteLine(r.SparsityControl == "none"
                ? $"target L0 {target.ToString(inv)}: {r.Entry.Id} has no sparsity option and ran as configured (l0 {r.Metrics.L0.ToString("0.##", inv)})"
                : $"target L0 {target.ToString(inv)}: {r.Entry.Id} via {r.SparsityControl}: l0 {r.Metrics.L0.ToString("0.##", inv)} ({(Math.Abs(r.Metrics.L0 - target) <= 0.1 * target ? "within" : "outside")} 10%)");
    }
}
