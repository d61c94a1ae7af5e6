using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Attribution;
using Mechanist.Cli.CommandLine;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Reports;
using Mechanist.Host.Running;
using Mechanist.Host.Models;
using Mechanist.IO;
using Mechanist.Methods.Attribution;
using Mechanist.Models;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist attribute</c>: runs one attribution method on a model folder for a target metric on its logits and
/// reports the scores with the metric's definition and, where the method has one, its completeness error.
/// </summary>
public sealed class AttributeCommand : ICommand
{
    public string Name => "attribute";
    public string Summary => "an attribution method on a model: scores, the target metric and the completeness error";
    public string Usage => "--model DIR --method ID (--tokens IDS|FILE | --input FILE) --target T [--metric logit|logprob|prob|logit-diff] [--contrast T2] [--position P] [--baseline-tokens IDS|FILE | --baseline FILE] [--site SITE]... [--decomposition DIR] [--set key=value]... [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("model", "model folder (config.json with model_type + model.safetensors)", ValueName: "DIR"),
        new("method", "attribution method ID (see 'mechanist plugins list')", ValueName: "ID"),
        CommonOptions.Tokens,
        new("input", "a floating-point model input [batch, …]: .safetensors (tensor 'input') or .npy", ValueName: "FILE"),
        new("baseline-tokens", "reference / corrupted token ids (same forms as --tokens)", ValueName: "IDS|FILE"),
        new("baseline", "reference / corrupted input file (same forms as --input)", ValueName: "FILE"),
        new("target", "target class or token id of the metric", ValueName: "T"),
        new("contrast", "second token id for --metric logit-diff (target − contrast)", ValueName: "T2"),
        new("metric", "logit (default), logprob, prob or logit-diff", ValueName: "KIND", Choices: TargetMetric.Kinds),
        new("position", "sequence position the metric reads for [batch, pos, vocab] outputs (default -1, the last)", ValueName: "P"),
        new("site", "hook site to attribute to (repeatable for patching methods)", Repeatable: true, ValueName: "SITE"),
        new("decomposition", "SAELens-layout folder spliced by feature-attribution (its hook_name is the default site)", ValueName: "DIR"),
        new("top", "largest-magnitude scores listed (default 20)", ValueName: "N"),
        CommonOptions.Set, CommonOptions.Seed, CommonOptions.Device, CommonOptions.Plugins, CommonOptions.Format,
        CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var modelDir = args.Require("model");
        var methodId = args.Require("method");
        var format = args.GetChoice("format", "text", "text", "json");
        var metricKind = args.GetChoice("metric", "logit", TargetMetric.Kinds);
        var seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);
        int top = args.GetInt("top", 20);
        if (top < 0) throw new UsageException("option '--top' must be 0 or more.");
        if (args.Has("tokens") == args.Has("input"))
            throw new UsageException("'attribute' needs exactly one of --tokens and --input. See 'mechanist attribute --help'.");
        if (args.Has("baseline-tokens") && args.Has("baseline"))
            throw new UsageException("give at most one of --baseline-tokens and --baseline.");
        var targetText = args.Require("target");
        long target = ParseId("target", targetText);
        long? contrast = args.Get("contrast") is { } c ? ParseId("contrast", c) : null;
        if (metricKind == "logit-diff" && contrast is null) throw new UsageException("--metric logit-diff needs --contrast T2.");
        if (metricKind != "logit-diff" && contrast is not null) throw new UsageException("--contrast is only used with --metric logit-diff.");
        int position = args.GetInt("position", -1);

        using var host = CommonOptions.CreateHost(args, env);
        var runner = MethodRunner.For(host);
        var bound = runner.Bind(methodId, MethodKind.Attribution, args.Settings(methodId));
        var (entry, options) = (bound.Entry, bound.Options);
        using var decomposition = args.Get("decomposition") is { } dir ? DecompositionFolder.Load(dir) : null;
        using var model = ModelFolder.Load(modelDir, host.Catalog, host.Services, device, seed);
        var input = TokenArgument.Get(args) is { } tokens ? tokens.Matrix(model as ILanguageModel) : TensorArguments.Input("input", args.Get("input")!);
        Tensor? baseline = TokenArgument.Get(args, "baseline-tokens") is { } bt ? bt.Matrix(model as ILanguageModel)
            : args.Get("baseline") is { } b ? TensorArguments.Input("baseline", b) : null;

        var sites = args.GetAll("site").ToList();
        if (sites.Count == 0 && decomposition?.Metadata.HookName is { Length: > 0 } hookName) sites.Add(hookName);
        foreach (var site in sites) RequireSite(model, site);

        using var scope = NewDisposeScope();
        input = input.to(device);
        baseline = baseline?.to(device);
        var metric = TargetMetric.Build(model, input, metricKind, target, contrast, position);
        var context = new AttributionContext
        {
            Model = model, Input = input, Baseline = baseline, Metric = metric.Of, MetricDescription = metric.Description,
            Site = sites.Count == 1 ? sites[0] : null, Sites = sites.Count > 1 ? sites : null, Decomposition = decomposition,
            Options = options, Seed = seed, Device = device,
        };
        var result = runner.Attribute(bound, context);

        var json = AttributionReport.ToJson(entry, modelDir, model, sites, new AttributionReport.Target(metricKind, target, contrast, position),
            input, args.Has("tokens"), result, options, top);
        var text = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (args.Get("out") is { } outPath) AtomicFile.WriteText(outPath, text + "\n");
        if (format == "json") env.Out.WriteLine(text);
        else AttributionReport.WriteText(env.Out, entry.Id, result, json);
        return ExitCodes.Ok;
    }

    static long ParseId(string option, string text) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v
            : throw new UsageException($"option '--{option}' expects a non-negative token or class id, got '{text}'.");

    static void RequireSite(IHookedModel model, string site)
    {
        if (model.HookSites.Contains(site)) return;
        var closest = NameSuggester.Closest(site, model.HookSites);
        throw new MechanistInputException(
            $"--site {site}: model '{model.ModelType}' has no such hook site.{(closest is null ? "" : $" Did you mean '{closest}'?")} " +
            $"Sites: {string.Join(", ", model.HookSites.Take(12))}{(model.HookSites.Count > 12 ? ", …" : "")}.");
    }
}
