using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Host.Activations;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Reports;
using Mechanist.Host.Running;
using Mechanist.Interpreters;
using Mechanist.Host.Models;
using Mechanist.IO;
using Mechanist.Models;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist interpret</c>: runs one interpreter over a decomposition's features and writes one JSON record per
/// feature (JSON Lines).
/// </summary>
public sealed class InterpretCommand : ICommand
{
    public string Name => "interpret";
    public string Summary => "per-feature explanations (top examples, output effects, synthesis), one JSON record per feature";
    public string Usage => "--decomposition DIR --method ID [--model DIR] [--site SITE] [--tokens IDS|FILE] [--activations FILE] [--input FILE] [--features LIST] [--set key=value]... [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("decomposition", "SAELens-layout folder whose features are explained", ValueName: "DIR"),
        new("method", "interpreter ID: top-examples, output-effects, feature-synthesis, or a plugin's", ValueName: "ID"),
        new("model", "model folder (config.json with model_type + model.safetensors)", ValueName: "DIR"),
        new("site", "hook site the decomposition reads (default: its cfg.json hook_name)", ValueName: "SITE"),
        CommonOptions.Tokens,
        new("activations", "precomputed activations [N, d_in] (.safetensors 'activations' or .npy), rows matching --tokens when given", ValueName: "FILE"),
        new("input", "template input [1, …] for feature-synthesis mode=input (.safetensors 'input' or .npy)", ValueName: "FILE"),
        new("features", "features to explain: \"0,5,17\" or \"0-31\" (default: all)", ValueName: "LIST"),
        new("harvest-batch", "sequences per forward pass when harvesting (default 64)", ValueName: "N"),
        CommonOptions.Set, CommonOptions.Seed, CommonOptions.Device, CommonOptions.Plugins, CommonOptions.Format,
        CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var decompositionDir = args.Require("decomposition");
        var methodId = args.Require("method");
        var format = args.GetChoice("format", "text", "text", "json");
        var seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);
        int harvestBatch = args.GetInt("harvest-batch", 64);
        if (harvestBatch < 1) throw new UsageException("option '--harvest-batch' must be at least 1.");

        using var host = CommonOptions.CreateHost(args, env);
        var runner = MethodRunner.For(host);
        var bound = runner.Bind(methodId, MethodKind.Interpreter, args.Settings(methodId));
        var (entry, options) = (bound.Entry, bound.Options);
        using var decomposition = DecompositionFolder.Load(decompositionDir);
        var features = args.Get("features") is { } list ? FeatureList.Parse(list, decomposition.DSae) : null;
        var site = args.Get("site") ?? (decomposition.Metadata.HookName is { Length: > 0 } h ? h : null);
        var modelDir = args.Get("model");
        using var model = modelDir is null ? null : ModelFolder.Load(modelDir, host.Catalog, host.Services, device, seed);
        // Rows to harvest activations from, and the first one as feature synthesis's template.
        var tokens = TokenArgument.Get(args)?.Matrix(model as ILanguageModel);
        var template = args.Get("input") is { } input ? TensorArguments.Input("input", input) : tokens?.narrow(0, 0, 1);
        if (model is not null && site is not null && !model.HookSites.Contains(site))
        {
            var closest = NameSuggester.Closest(site, model.HookSites);
            throw new MechanistInputException(
                $"--site {site}: model '{model.ModelType}' has no such hook site.{(closest is null ? "" : $" Did you mean '{closest}'?")}");
        }

        using var scope = NewDisposeScope();
        ActivationMatrix? activations = null;
        Tensor? rowTokens = tokens;
        bool readsActivations = methodId is not ("feature-synthesis" or "output-effects");
        if (args.Get("activations") is { } actsPath) activations = ActivationFiles.Load(actsPath);
        else if (readsActivations && model is not null && tokens is not null && site is not null)
        {
            activations = Harvester.Matrix(model, tokens.to(device), site, harvestBatch, decomposition.DIn, out var perToken);
            if (!perToken) rowTokens = null;
        }
        else if (methodId == "top-examples")
            throw new UsageException("top-examples needs --activations FILE, or --model DIR, --tokens and a site (--site or the decomposition's hook_name) to harvest from.");
        using var _ = activations;
        if (activations is not null && activations.Dimension != decomposition.DIn)
            throw new MechanistInputException(
                $"{activations.Name}: activations have dimension {activations.Dimension} but the decomposition's d_in is {decomposition.DIn}.");

        var context = new InterpretContext
        {
            Decomposition = decomposition, Activations = activations, Model = model, Features = features, Site = site,
            Tokens = rowTokens, TokenText = (model as ITokenizedModel)?.TokenText, Unembedding = (model as IEmbeddingModel)?.Unembedding(site),
            Embedding = (model as IEmbeddingModel)?.TokenEmbedding(), InputTemplate = template?.to(device),
            Options = options, Seed = seed, Device = device,
        };
        var explanations = runner.Interpret(bound, context);

        var lines = ExplanationRecords.ToJsonl(explanations, entry.Id, site);
        if (args.Get("out") is { } outPath) AtomicFile.WriteText(outPath, lines);
        if (format == "json") env.Out.Write(lines);
        else
        {
            env.Out.WriteLine($"{entry.Id}: {explanations.Count} feature(s) of {Path.GetFullPath(decompositionDir)}{(site is null ? "" : $" at {site}")}");
            foreach (var e in explanations) env.Out.WriteLine($"  feature {e.Feature}: {e.Summary}");
        }
        return ExitCodes.Ok;
    }

}
