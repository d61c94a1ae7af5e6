using System.Diagnostics;
using Mechanist.Cli.CommandLine;
using Mechanist.Decomposers;
using Mechanist.Host.Activations;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Running;
using Mechanist.IO;
using Mechanist.Methods.Evaluation;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist decompose</c>: fits one decomposer and writes a SAELens-layout folder plus <c>metrics.json</c>.</summary>
public sealed class DecomposeCommand : ICommand
{
    public string Name => "decompose";
    public string Summary => "fit one decomposer, write a SAELens-layout folder + metrics.json";
    public string Usage => "--activations FILE|DIR [--site SITE] --method ID [--set key=value]... [--ground-truth FILE] [--hook-name SITE] [--seed S] [--device D] [--plugins DIR]... --out DIR";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("activations", ".safetensors (tensor 'activations' [N, d]), .npy, or an activation store folder", ValueName: "FILE|DIR"),
        new("site", "tensor or store site to read (default: 'activations', or a store's only site)", ValueName: "SITE"),
        new("method", "decomposer ID (see 'mechanist plugins list')", ValueName: "ID"),
        new("ground-truth", ".safetensors with tensor 'directions' [n, d]: adds mmcs to the metrics", ValueName: "FILE"),
        new("hook-name", "hook site the activations came from (recorded in cfg.json)", ValueName: "SITE"),
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
        var entry = host.Catalog.Resolve(methodId, MethodKind.Decomposer);
        var settings = args.Settings(methodId);
        var options = MethodCatalog.BindOptions(entry, settings);

        var activations = ActivationSources.Open(activationsPath, args.Get("site"));
        using var ownedActivations = activations as IDisposable;
        using var truth = args.Get("ground-truth") is { } gt ? GroundTruth.Load(gt, activations.Dimension) : null;

        random.manual_seed(seed);
        var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
        var context = new DecomposeContext
        {
            Activations = activations, Options = options, Seed = seed, Device = device, HookName = args.Get("hook-name") ?? ActivationSources.SiteName(activations, args.Get("site")),
            Progress = new Progress<ProgressReport>(p => env.Error.WriteLine($"[{entry.Id}] step {p.Step}/{p.Total} " +
                string.Join(" ", p.Values.Select(v => $"{v.Key}={v.Value:0.####}")))),
        };
        var watch = Stopwatch.StartNew();
        using var decomposition = MethodInvoker.Invoke(entry, () => decomposer.Fit(context));
        var fitSeconds = watch.Elapsed.TotalSeconds;
        if (decomposition.DIn != activations.Dimension)
            throw new MethodFailedException(entry, new InvalidOperationException(
                $"returned a decomposition with d_in {decomposition.DIn} for activations of dimension {activations.Dimension}"));
        decomposition.Metadata = new DecompositionMetadata
        {
            Method = entry.Id, Seed = seed, HookName = context.HookName,
            Options = entry.Descriptor.Options.ToDictionary(o => o.Name, o => OptionSchema.FormatValue(o.Property.GetValue(options))),
        };

        var metrics = DecompositionMetrics.Compute(decomposition, activations, truth, device: device);
        var report = MetricsReport.ToJsonText(metrics, new Dictionary<string, string>
        {
            ["method"] = entry.Id,
            ["activations"] = Path.GetFullPath(activationsPath),
            ["fit_seconds"] = fitSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
        });
        DecompositionFolder.Save(outDir, decomposition, new Dictionary<string, string> { ["metrics.json"] = report });

        env.Out.WriteLine($"{entry.Id}: d_in {decomposition.DIn}, d_sae {decomposition.DSae}, fitted on {activations.Count} rows in {fitSeconds:0.##} s -> {Path.GetFullPath(outDir)}");
        MetricsReport.WriteText(env.Out, metrics);
        return ExitCodes.Ok;
    }
}
