using System.Diagnostics;
using Mechanist.Cli.CommandLine;
using Mechanist.Decomposers;
using Mechanist.Host.Activations;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Running;
using Mechanist.Host.Reports;
using Mechanist.IO;
using Mechanist.Methods.Evaluation;
using Mechanist.Options;
using Mechanist.Reports.Plots;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist decompose</c>: fits one decomposer and writes a SAELens-layout folder plus <c>metrics.json</c> and, for
/// a method with a training loop, its <c>training_log.jsonl</c> (step, loss, FVU, L0, dead fraction).
/// </summary>
public sealed class DecomposeCommand : ICommand
{
    public string Name => "decompose";
    public string Summary => "fit one decomposer, write a SAELens-layout folder + metrics.json";
    public string Usage => "--activations FILE|DIR[,FILE...] [--site SITE] --method ID [--targets FILE] [--set key=value]... [--ground-truth FILE] [--hook-name SITE] [--seed S] [--device D] [--plugins DIR]... --out DIR";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("activations", ".safetensors (tensor 'activations' [N, d]), .npy, or an activation store folder; several row-aligned sites comma-separated (a crosscoder fits them together, other methods see them concatenated)", ValueName: "FILE|DIR"),
        new("site", "tensor or store site to read (default: 'activations', or a store's only site)", ValueName: "SITE"),
        new("targets", "row-aligned targets in the same format (a transcoder's MLP output)", ValueName: "FILE"),
        new("method", "decomposer ID (see 'mechanist plugins list')", ValueName: "ID"),
        new("ground-truth", ".safetensors with tensor 'directions' [n, d]: adds mmcs to the metrics", ValueName: "FILE"),
        new("hook-name", "hook site the activations came from (recorded in cfg.json); a crosscoder's sites comma-separated", ValueName: "SITE"),
        CommonOptions.Set, CommonOptions.Seed, CommonOptions.Device, CommonOptions.Plugins, CommonOptions.Out,
        CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var activationsPath = args.Require("activations");
        var methodId = args.Require("method");
        var outDir = args.Require("out");
        var seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);

        using var host = CommonOptions.CreateHost(args, env);
        var runner = MethodRunner.For(host);
        var method = runner.Bind(methodId, MethodKind.Decomposer, args.Settings(methodId));

        using var inputs = ActivationInputs.Load(activationsPath, args.Get("targets"), args.Get("site"));
        var activations = inputs.Activations;
        var reference = inputs.Targets ?? activations;
        using var truth = args.Get("ground-truth") is { } gt ? GroundTruth.Load(gt, reference.Dimension) : null;

        var progress = ProgressBar.For(method.Id, env);
        var log = new RunLogRecorder(progress);
        var context = new DecomposeContext
        {
            Activations = activations, Targets = inputs.Targets, Sites = inputs.Sites, Options = method.Options, Seed = seed, Device = device,
            HookName = args.Get("hook-name") ?? (inputs.Sites is null ? ActivationSources.SiteName(activations, args.Get("site")) : null),
            Progress = log,
        };
        var watch = Stopwatch.StartNew();
        Decomposition fitted;
        try
        {
            using var keep = MallocTuning.KeepFreedMemory();
            fitted = runner.Fit(method, context);
        }
        finally
        {
            progress.Finish();
        }
        using var decomposition = fitted;
        var fitSeconds = watch.Elapsed.TotalSeconds;

        var metrics = DecompositionMetrics.Compute(decomposition, activations, truth, device: device, targets: decomposition.ReconstructsTargets ? inputs.Targets : null);
        var context2 = new Dictionary<string, string>
        {
            ["method"] = method.Id,
            ["activations"] = inputs.Description,
            ["fit_seconds"] = fitSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
        };
        if (args.Get("targets") is { } targetsPath) context2["targets"] = Path.GetFullPath(targetsPath);
        var report = MetricsReport.ToJsonText(metrics, context2);
        var files = new Dictionary<string, string> { ["metrics.json"] = report };
        if (log.Count > 0) files[RunLog.FileName] = log.ToJsonl();
        DecompositionFolder.Save(outDir, decomposition, files);

        env.Out.WriteLine($"{method.Id}: d_in {decomposition.DIn}, d_sae {decomposition.DSae}, fitted on {activations.Count} rows in {fitSeconds:0.##} s -> {Path.GetFullPath(outDir)}");
        MetricsReport.WriteText(env.Out, metrics);
        return ExitCodes.Ok;
    }
}
