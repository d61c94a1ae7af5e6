using Mechanist.Cli.CommandLine;
using Mechanist.Host.Activations;
using Mechanist.Host.Formats;
using Mechanist.IO;
using Mechanist.Methods.Evaluation;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist evaluate</c>: the metrics of any SAELens-layout folder on any activations.</summary>
public sealed class EvaluateCommand : ICommand
{
    public string Name => "evaluate";
    public string Summary => "metrics of a SAELens-layout folder on activations";
    public string Usage => "--decomposition DIR --activations FILE|DIR[,FILE...] [--site SITE] [--targets FILE] [--ground-truth FILE] [--format text|json] [--device D] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("decomposition", "SAELens-layout folder (cfg.json + sae_weights.safetensors) or sparsify folder (cfg.json + sae.safetensors)", ValueName: "DIR"),
        new("activations", ".safetensors (tensor 'activations' [N, d]), .npy, or an activation store folder; several sites comma-separated (a crosscoder)", ValueName: "FILE|DIR"),
        new("site", "tensor or store site to read (default: 'activations', or a store's only site)", ValueName: "SITE"),
        new("targets", "row-aligned targets (a transcoder's MLP output); metrics compare the reconstruction with them", ValueName: "FILE"),
        new("ground-truth", ".safetensors with tensor 'directions' [n, d]: adds mmcs", ValueName: "FILE"),
        CommonOptions.Format, CommonOptions.Device, CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var folder = args.Require("decomposition");
        var activationsPath = args.Require("activations");
        var format = args.GetChoice("format", "text", "text", "json");
        var device = CommonOptions.ParseDevice(args);
        using var decomposition = DecompositionFolder.Load(folder);
        using var inputs = ActivationInputs.Load(activationsPath, args.Get("targets"), args.Get("site"));
        var activations = inputs.Activations;
        using var truth = args.Get("ground-truth") is { } gt ? GroundTruth.Load(gt, (inputs.Targets ?? activations).Dimension) : null;
        var metrics = DecompositionMetrics.Compute(decomposition, activations, truth, device: device, targets: decomposition.ReconstructsTargets ? inputs.Targets : null);
        var context = new Dictionary<string, string>
        {
            ["decomposition"] = Path.GetFullPath(folder),
            ["architecture"] = decomposition.Architecture,
            ["activations"] = inputs.Description,
        };
        if (args.Get("targets") is { } targetsPath) context["targets"] = Path.GetFullPath(targetsPath);
        var json = MetricsReport.ToJsonText(metrics, context);
        if (args.Get("out") is { } outPath) AtomicFile.WriteText(outPath, json + "\n");
        if (format == "json") env.Out.WriteLine(json);
        else
        {
            env.Out.WriteLine($"{Path.GetFullPath(folder)} ({decomposition.Architecture}, d_in {decomposition.DIn}, d_sae {decomposition.DSae}) on {activations.Count} rows:");
            MetricsReport.WriteText(env.Out, metrics);
        }
        return ExitCodes.Ok;
    }
}
