using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Cli.Reports;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Running;
using Mechanist.IO;
using Mechanist.Methods.Evaluation;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist compare</c>: fits several decomposers (built-in and plugin) on the same activations with the same seed
/// and step budget, then writes a console table, <c>results.json</c> (metrics with definitions, wall time and peak
/// memory per method), <c>pareto.png</c> (L0 against FVU) and each method's SAELens folder.
/// </summary>
public sealed class CompareCommand : ICommand
{
    public string Name => "compare";
    public string Summary => "fit several decomposers on the same data, seed and budget: table, results.json, pareto.png";
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
        int DSae, string Architecture, Decomposition Decomposition, string SparsityControl);

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
        var plan = new List<(MethodEntry Entry, MethodOptions Options, string SparsityControl)>();
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
            plan.Add((entry, MethodCatalog.BindOptions(entry, settings), control));
        }
        using var inputs = ActivationInputs.Load(activationsPath, args.Get("targets"));
        var reference = inputs.Targets ?? inputs.Activations;
        using var truth = args.Get("ground-truth") is { } gt ? GroundTruth.Load(gt, reference.Dimension) : null;

        var rows = new List<Row>();
        try
        {
            foreach (var (entry, options, control) in plan)
            {
                random.manual_seed(seed);
                var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
                var progress = ProgressBar.For(entry.Id, env);
                var context = new DecomposeContext
                {
                    Activations = inputs.Activations, Targets = inputs.Targets, Sites = inputs.Sites, Options = options, Seed = seed,
                    Device = device, Progress = progress,
                };
                var watch = Stopwatch.StartNew();
                Decomposition decomposition;
                PeakMemory.Result peak;
                MallocTuning.ReturnFreeMemory();
                try
                {
                    using var keep = MallocTuning.KeepFreedMemory();
                    (decomposition, peak) = PeakMemory.Measure(() => MethodInvoker.Invoke(entry, () => decomposer.Fit(context)));
                }
                finally
                {
                    progress.Finish();
                }
                double seconds = watch.Elapsed.TotalSeconds;
                try
                {
                    decomposition.Metadata = new DecompositionMetadata
                    {
                        Method = entry.Id, Seed = seed,
                        Options = entry.Descriptor.Options.ToDictionary(o => o.Name, o => OptionSchema.FormatValue(o.Property.GetValue(options))),
                    };
                    var metrics = DecompositionMetrics.Compute(decomposition, inputs.Activations, truth, device: device, targets: decomposition.ReconstructsTargets ? inputs.Targets : null);
                    rows.Add(new Row(entry, options, metrics, seconds, peak, decomposition.DSae, decomposition.Architecture, decomposition, control));
                }
                catch
                {
                    decomposition.Dispose();
                    throw;
                }
            }

            var results = Results(rows, inputs, args, seed, steps, device, targetL0);
            var png = ParetoPlot.Render(rows.Select(r => new ParetoPlot.Point(r.Entry.Id, r.Metrics.L0, r.Metrics.Fvu)).ToList()).EncodePng();
            var resultsText = results.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
            AtomicFile.WriteDirectory(outDir, temp =>
            {
                File.WriteAllText(Path.Combine(temp, "results.json"), resultsText + "\n");
                File.WriteAllBytes(Path.Combine(temp, "pareto.png"), png);
                foreach (var r in rows)
                    DecompositionFolder.Save(Path.Combine(temp, r.Entry.Id), r.Decomposition);
            });
            if (format == "json") env.Out.WriteLine(resultsText);
            else WriteTable(env.Out, rows, truth is not null, Path.GetFullPath(outDir), targetL0);
            return ExitCodes.Ok;
        }
        finally
        {
            foreach (var r in rows) r.Decomposition.Dispose();
        }
    }

    static JsonObject Results(List<Row> rows, ActivationInputs inputs, ParsedArguments args, int seed, int steps, Device device, double? targetL0)
    {
        var methods = new JsonArray();
        foreach (var r in rows)
        {
            var metrics = new JsonObject();
            foreach (var (name, value) in r.Metrics.Values())
                metrics[name] = name == "samples" ? JsonValue.Create((long)value) : JsonValue.Create(value);
            methods.Add(new JsonObject
            {
                ["method"] = r.Entry.Id,
                ["source"] = r.Entry.Source,
                ["architecture"] = r.Architecture,
                ["d_sae"] = r.DSae,
                ["options"] = new JsonObject(r.Entry.Descriptor.Options.Select(o =>
                    KeyValuePair.Create(o.Name, (JsonNode?)OptionSchema.FormatValue(o.Property.GetValue(r.Options))))),
                ["metrics"] = metrics,
                ["fit_seconds"] = r.FitSeconds,
                ["peak_rss_bytes"] = r.Peak.PeakBytes,
                ["peak_rss_method"] = r.Peak.Method,
                ["folder"] = r.Entry.Id,
            });
            if (targetL0 is double target)
            {
                var m = (JsonObject)methods[^1]!;
                m["sparsity_control"] = r.SparsityControl;
                m["l0_within_10_percent_of_target"] = Math.Abs(r.Metrics.L0 - target) <= 0.1 * target;
            }
        }
        var definitions = new JsonObject();
        foreach (var (k, v) in DecompositionMetrics.Definitions) definitions[k] = v;
        definitions["fit_seconds"] = "wall-clock seconds of the method's fit (training), excluding evaluation";
        definitions["peak_rss_bytes"] = "peak resident memory of the process during the fit (see peak_rss_method)";
        if (targetL0 is not null)
        {
            definitions["sparsity_control"] = "how --target-l0 reached the method: target_l0 (its sparsity coefficient adapted during training), k=K (TopK family), none (no sparsity knob)";
            definitions["l0_within_10_percent_of_target"] = "whether the l0 measured on the activations is within 10% of target_l0";
        }
        var result = new JsonObject
        {
            ["activations"] = inputs.Description,
            ["rows"] = inputs.Activations.Count,
            ["d_in"] = inputs.Activations.Dimension,
            ["seed"] = seed,
            ["steps"] = steps,
            ["device"] = device.ToString(),
            ["methods"] = methods,
            ["definitions"] = definitions,
        };
        if (targetL0 is double tl) result["target_l0"] = tl;
        if (args.Get("targets") is { } t) result["targets"] = Path.GetFullPath(t);
        if (args.Get("ground-truth") is { } g) result["ground_truth"] = Path.GetFullPath(g);
        return result;
    }

    static void WriteTable(TextWriter w, List<Row> rows, bool mmcs, string outDir, double? targetL0)
    {
        var inv = CultureInfo.InvariantCulture;
        var header = new List<string> { "method", "d_sae", "l0", "fvu", "explained_var", "mse", "dead", "dense" };
        if (mmcs) header.Add("mmcs");
        header.AddRange(["fit_s", "peak_rss_mb"]);
        var table = rows.Select(r =>
        {
            var cells = new List<string>
            {
                r.Entry.Id, r.DSae.ToString(inv), r.Metrics.L0.ToString("0.##", inv), r.Metrics.Fvu.ToString("0.####", inv),
                r.Metrics.ExplainedVariance.ToString("0.####", inv), r.Metrics.Mse.ToString("0.#####", inv),
                r.Metrics.DeadFraction.ToString("0.###", inv), r.Metrics.DenseFraction.ToString("0.###", inv),
            };
            if (mmcs) cells.Add(r.Metrics.Mmcs!.Value.ToString("0.####", inv));
            cells.AddRange([r.FitSeconds.ToString("0.##", inv), (r.Peak.PeakBytes / 1048576.0).ToString("0", inv)]);
            return cells;
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, table.Count == 0 ? 0 : table.Max(row => row[i].Length))).ToList();
        w.WriteLine(string.Join("  ", header.Select((h, i) => i == 0 ? h.PadRight(widths[i]) : h.PadLeft(widths[i]))));
        foreach (var row in table)
            w.WriteLine(string.Join("  ", row.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))));
        if (targetL0 is double target)
            foreach (var r in rows)
                w.WriteLine(r.SparsityControl == "none"
                    ? $"target L0 {target.ToString(inv)}: {r.Entry.Id} has no sparsity option and ran as configured (l0 {r.Metrics.L0.ToString("0.##", inv)})"
                    : $"target L0 {target.ToString(inv)}: {r.Entry.Id} via {r.SparsityControl}: l0 {r.Metrics.L0.ToString("0.##", inv)} ({(Math.Abs(r.Metrics.L0 - target) <= 0.1 * target ? "within" : "outside")} 10%)");
        w.WriteLine($"-> {outDir} (results.json, pareto.png, one SAELens folder per method)");
    }
}
