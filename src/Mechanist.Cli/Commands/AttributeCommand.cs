using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Attribution;
using Mechanist.Cli.CommandLine;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Host.Formats;
using Mechanist.Host.Running;
using Mechanist.Host.Models;
using Mechanist.IO;
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
        new("metric", "logit (default), logprob, prob or logit-diff", ValueName: "KIND"),
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
        var metricKind = args.GetChoice("metric", "logit", "logit", "logprob", "prob", "logit-diff");
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
        var metric = BuildMetric(model, input, metricKind, target, contrast, position, out var description);
        var context = new AttributionContext
        {
            Model = model, Input = input, Baseline = baseline, Metric = metric, MetricDescription = description,
            Site = sites.Count == 1 ? sites[0] : null, Sites = sites.Count > 1 ? sites : null, Decomposition = decomposition,
            Options = options, Seed = seed, Device = device,
        };
        var result = runner.Attribute(bound, context);

        var json = Report(entry, modelDir, model, sites, metricKind, target, contrast, position, input, result, options, top);
        if (args.Has("tokens"))
        {
            // The token ids (and their text, when the model has a tokenizer) label a plot of the scores by position.
            json["input_tokens"] = JsonTensors.ToJson(input);
            if ((model as ITokenizedModel)?.TokenText is { } tokenText)
                json["input_token_text"] = new JsonArray(input.cpu().reshape(-1).data<long>().ToArray().Select(id => (JsonNode)tokenText(id)).ToArray());
        }
        var text = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (args.Get("out") is { } outPath) AtomicFile.WriteText(outPath, text + "\n");
        if (format == "json") env.Out.WriteLine(text);
        else WriteText(env.Out, entry.Id, result, json);
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

    /// <summary>Runs the model once to check the output's shape, the target and the position, then builds the metric.</summary>
    internal static Func<Tensor, Tensor> BuildMetric(IHookedModel model, Tensor input, string kind, long target, long? contrast, int position, out string description)
    {
        long[] shape;
        using (no_grad())
        {
            try
            {
                using var output = model.Run(input);
                shape = output.shape;
            }
            catch (Exception e) when (e is not MechanistInputException)
            {
                throw new MechanistInputException(
                    $"the model '{model.ModelType}' cannot run on the input of shape [{string.Join(", ", input.shape)}] ({input.dtype}): {e.Message}");
            }
        }
        if (shape.Length is not (2 or 3))
            throw new MechanistInputException(
                $"the model's output has shape [{string.Join(", ", shape)}]; a target metric needs logits [batch, classes] or [batch, pos, vocab].");
        long vocab = shape[^1];
        foreach (var (name, id) in new[] { ("target", target), ("contrast", contrast ?? 0) })
            if (id >= vocab)
                throw new MechanistInputException($"--{name} {id} is out of range: the model's output has {vocab} classes (0 … {vocab - 1}).");
        long pos = position;
        if (shape.Length == 3)
        {
            pos = position < 0 ? shape[1] + position : position;
            if (pos < 0 || pos >= shape[1])
                throw new MechanistInputException($"--position {position} is out of range for sequences of length {shape[1]}.");
        }
        string at = shape.Length == 3 ? $" at position {pos}{(position < 0 ? $" ({position} from the end)" : "")}" : "";
        Tensor Logits(Tensor o) => o.ndim == 3 ? o.select(1, pos) : o;
        switch (kind)
        {
            case "logit":
                description = $"logit of {target}{at}";
                return o => Logits(o).select(1, target);
            case "logprob":
                description = $"log-probability of {target}{at} (log_softmax over {vocab})";
                return o => Logits(o).log_softmax(1).select(1, target);
            case "prob":
                description = $"probability of {target}{at} (softmax over {vocab})";
                return o => Logits(o).softmax(1).select(1, target);
            default:
                description = $"logit of {target} minus logit of {contrast}{at}";
                return o => Logits(o).select(1, target) - Logits(o).select(1, contrast!.Value);
        }
    }

    static JsonObject Report(MethodEntry entry, string modelDir, IHookedModel model, List<string> sites, string kind, long target, long? contrast,
        int position, Tensor input, AttributionResult result, MethodOptions options, int top)
    {
        var json = new JsonObject
        {
            ["method"] = entry.Id,
            ["model"] = Path.GetFullPath(modelDir),
            ["model_type"] = model.ModelType,
            ["sites"] = new JsonArray(sites.Select(s => (JsonNode)s).ToArray()),
            ["metric"] = new JsonObject
            {
                ["description"] = result.Metric, ["kind"] = kind, ["target"] = target, ["contrast"] = contrast, ["position"] = position,
            },
            ["input_shape"] = JsonTensors.Shape(input),
            ["score_definition"] = result.ScoreDefinition,
            ["completeness_error"] = result.CompletenessError,
            ["completeness_definition"] = result.CompletenessDefinition,
            ["convergence_delta"] = result.ConvergenceDelta is { } d ? JsonTensors.ToJson(d) : null,
            ["metric_value"] = result.MetricValue is { } m ? JsonTensors.ToJson(m) : null,
            ["reference_metric_value"] = result.ReferenceMetricValue is { } r ? JsonTensors.ToJson(r) : null,
            ["settings"] = new JsonObject(result.Settings.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["options"] = new JsonObject(entry.Descriptor.Options.Select(o => KeyValuePair.Create(o.Name, (JsonNode?)OptionSchema.FormatValue(o.Property.GetValue(options))))),
            ["scores_shape"] = JsonTensors.Shape(result.Scores),
        };
        var scores = result.Scores.detach().to(ScalarType.Float64).cpu();
        var flat = scores.reshape(-1);
        int n = (int)Math.Min(top, flat.shape[0]);
        var topList = new JsonArray();
        if (n > 0)
        {
            var (_, index) = flat.abs().topk(n);
            foreach (var i in index.data<long>().ToArray())
            {
                var at = JsonTensors.Unravel(i, scores.shape);
                var item = new JsonObject { ["index"] = new JsonArray(at.Select(x => (JsonNode)x).ToArray()), ["score"] = flat[i].item<double>() };
                if (result.UnitLabels is { } labels && scores.ndim == 2) item["unit"] = labels[(int)at[1]];
                topList.Add(item);
            }
        }
        json["top"] = topList;
        if (result.UnitLabels is { } unitLabels) json["unit_labels"] = new JsonArray(unitLabels.Select(l => (JsonNode)l).ToArray());
        json["scores"] = JsonTensors.ToJson(result.Scores);
        if (result.Parts.Count > 0)
            json["parts"] = new JsonObject(result.Parts.Select(kv => KeyValuePair.Create(kv.Key,
                (JsonNode?)new JsonObject { ["shape"] = JsonTensors.Shape(kv.Value), ["values"] = JsonTensors.ToJson(kv.Value) })));
        return json;
    }

    static void WriteText(TextWriter w, string methodId, AttributionResult result, JsonObject json)
    {
        w.WriteLine($"{methodId} on {json["model_type"]} ({json["model"]})");
        w.WriteLine($"  metric: {result.Metric}");
        if (result.MetricValue is { } m) w.WriteLine($"  metric value: {string.Join(", ", m.to(ScalarType.Float64).cpu().data<double>().Select(v => v.ToString("0.#####", CultureInfo.InvariantCulture)))}");
        if (result.ReferenceMetricValue is { } r) w.WriteLine($"  reference metric value: {string.Join(", ", r.to(ScalarType.Float64).cpu().data<double>().Select(v => v.ToString("0.#####", CultureInfo.InvariantCulture)))}");
        w.WriteLine($"  score: {result.ScoreDefinition}");
        w.WriteLine($"  scores: shape [{string.Join(", ", result.Scores.shape)}]");
        if (result.CompletenessError is double e)
            w.WriteLine($"  completeness error: {e.ToString("0.######", CultureInfo.InvariantCulture)}  ({result.CompletenessDefinition})");
        var top = json["top"]!.AsArray();
        if (top.Count > 0)
        {
            w.WriteLine($"  top {top.Count} by |score|:");
            foreach (var item in top.Select(i => i!))
                w.WriteLine($"    [{string.Join(", ", item["index"]!.AsArray())}]{(item["unit"] is { } u ? $" {u}" : "")}  {item["score"]!.GetValue<double>().ToString("0.######", CultureInfo.InvariantCulture)}");
        }
    }
}
