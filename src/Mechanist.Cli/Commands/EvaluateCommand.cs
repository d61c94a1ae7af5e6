using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Formats;
using Mechanist.Host.Models;
using Mechanist.Host.Reports;
using Mechanist.Host.Activations;
using Mechanist.IO;
using Mechanist.Methods.Evaluation;
using Mechanist.Models;
using Mechanist.Models.Text;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist evaluate</c>: the metrics of any SAELens-layout (or sparsify) folder on any activations, and, with a
/// language model and tokens, the CE-loss and KL scores of splicing its reconstruction into the model.
/// </summary>
public sealed class EvaluateCommand : ICommand
{
    public string Name => "evaluate";
    public string Summary => "metrics of a SAELens-layout folder on activations; with --model, CE-loss and KL scores of splicing it in";
    public string Usage => "--decomposition DIR (--activations FILE|DIR[,FILE...] [--site SITE] [--targets FILE] [--ground-truth FILE] | --model DIR (--tokens FILE | --text FILE) [--splice-site SITE] [--output-site SITE] [--batch-size B] [--context C]) [--format text|json] [--device D] [--plugins DIR]... [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("decomposition", "SAELens-layout folder (cfg.json + sae_weights.safetensors) or sparsify folder (cfg.json + sae.safetensors)", ValueName: "DIR"),
        new("activations", ".safetensors (tensor 'activations' [N, d]), .npy, or an activation store folder; several sites comma-separated (a crosscoder)", ValueName: "FILE|DIR"),
        new("site", "tensor or store site to read (default: 'activations', or a store's only site)", ValueName: "SITE"),
        new("targets", "row-aligned targets (a transcoder's MLP output); metrics compare the reconstruction with them", ValueName: "FILE"),
        new("ground-truth", ".safetensors with tensor 'directions' [n, d]: adds mmcs", ValueName: "FILE"),
        new("model", "language-model folder (config.json + model.safetensors): adds the splice metrics (ce_loss_score, kl_score)", ValueName: "DIR"),
        CommonOptions.Tokens with { Help = $"with --model: {CommonOptions.Tokens.Help}" },
        new("text", "with --model: UTF-8 text, tokenised with GPT-2's BPE", ValueName: "FILE"),
        new("splice-site", "hook site whose activation is replaced (default: the decomposition's hook_name)", ValueName: "SITE"),
        new("output-site", "for a transcoder: the site it reconstructs (its input is read at --splice-site)", ValueName: "SITE"),
        new("batch-size", "sequences per forward pass for the splice metrics (default 8)", ValueName: "B"),
        new("context", "tokens per sequence (default and maximum: the model's positions)", ValueName: "C"),
        CommonOptions.Format, CommonOptions.Device, CommonOptions.Plugins, CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var folder = args.Require("decomposition");
        var activationsPath = args.Get("activations");
        var modelPath = args.Get("model");
        if (activationsPath is null && modelPath is null)
            throw new UsageException("'evaluate' needs --activations (reconstruction metrics), --model with --tokens or --text (splice metrics), or both.");
        if (modelPath is null)
            foreach (var name in new[] { "tokens", "text", "splice-site", "output-site", "context", "batch-size" })
                if (args.Has(name)) throw new UsageException($"option '--{name}' needs --model.");
        var format = args.GetChoice("format", "text", "text", "json");
        var device = CommonOptions.ParseDevice(args);
        // Plugins first: a plugin's SAE architecture loads once its plugin is loaded.
        using var host = CommonOptions.CreateHost(args, env);
        using var decomposition = DecompositionFolder.Load(folder);

        var report = new JsonObject
        {
            ["decomposition"] = Path.GetFullPath(folder),
            ["architecture"] = decomposition.Architecture,
        };
        var lines = new List<string> { $"{Path.GetFullPath(folder)} ({decomposition.Architecture}, d_in {decomposition.DIn}, d_sae {decomposition.DSae})" };
        if (activationsPath is not null)
        {
            using var inputs = ActivationInputs.Load(activationsPath, args.Get("targets"), args.Get("site"));
            var activations = inputs.Activations;
            using var truth = args.Get("ground-truth") is { } gt ? GroundTruth.Load(gt, (inputs.Targets ?? activations).Dimension) : null;
            var metrics = DecompositionMetrics.Compute(decomposition, activations, truth, device: device,
                targets: decomposition.ReconstructsTargets ? inputs.Targets : null);
            var context = new Dictionary<string, string> { ["activations"] = inputs.Description };
            if (args.Get("targets") is { } targetsPath) context["targets"] = Path.GetFullPath(targetsPath);
            foreach (var (k, v) in MetricsReport.ToJson(metrics, context)) report[k] = v?.DeepClone();
            var text = new StringWriter();
            MetricsReport.WriteText(text, metrics);
            lines.Add($"on {activations.Count} rows:");
            lines.Add(text.ToString().TrimEnd('\n'));
        }
        if (modelPath is not null)
        {
            var splice = Splice(args, host, decomposition, modelPath, device);
            report["splice"] = MetricsReport.SpliceJson(splice.Metrics, modelPath, splice.Site, splice.OutputSite);
            var text = new StringWriter();
            MetricsReport.WriteSpliceText(text, splice.Metrics, modelPath, splice.Site, splice.OutputSite);
            lines.Add(text.ToString().TrimEnd('\n'));
        }
        var json = report.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (args.Get("out") is { } outPath) AtomicFile.WriteText(outPath, json + "\n");
        if (format == "json") env.Out.WriteLine(json);
        else foreach (var line in lines) env.Out.WriteLine(line);
        return ExitCodes.Ok;
    }

    sealed record SpliceResult(SpliceMetrics Metrics, string Site, string? OutputSite);

    static SpliceResult Splice(ParsedArguments args, MechanistHost host, Decomposition decomposition, string modelPath, Device device)
    {
        var text = args.Get("text");
        var tokensArgument = TokenArgument.Get(args);
        if ((text is null) == (tokensArgument is null))
            throw new UsageException("'evaluate --model' needs exactly one of --tokens FILE or --text FILE.");
        var site = args.Get("splice-site") ?? decomposition.Metadata.HookName;
        if (string.IsNullOrEmpty(site))
            throw new UsageException("--splice-site is needed: the decomposition's cfg.json records no hook_name.");
        var outputSite = args.Get("output-site");
        if (decomposition.ReconstructsTargets && outputSite is null)
            throw new UsageException($"the decomposition is a {decomposition.Architecture}: give --output-site, the site it reconstructs (its input is read at {site}).");
        int batchSize = args.GetInt("batch-size", 8);
        if (batchSize < 1) throw new UsageException($"option '--batch-size' must be at least 1, got {batchSize}.");

        using var loaded = ModelFolder.Load(modelPath, host.Catalog, host.Services, device);
        if (loaded is not ILanguageModel model)
            throw new MechanistInputException($"{modelPath}: model type '{loaded.ModelType}' does not read token ids; the splice metrics need a language model.");
        int context = args.GetInt("context", model.ContextLength);
        if (context < 2 || context > model.ContextLength)
            throw new UsageException($"option '--context' must be between 2 and the model's {model.ContextLength} positions, got {context}.");
        var tokens = text is not null
            ? TokenSequences.ReadText(text, model.VocabSize, context)
            : tokensArgument!.Sequences(model.VocabSize, context);
        var metrics = SpliceMetrics.Compute(model, site, decomposition, tokens.Batches(batchSize, device, model is ITaskModel ? 1 : 2), outputSite);
        return new SpliceResult(metrics, site, outputSite);
    }
}
