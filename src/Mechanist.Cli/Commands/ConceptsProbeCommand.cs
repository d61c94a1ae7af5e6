using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Methods.Concepts;
using Mechanist.Methods.Validators;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist concepts probe</c>: linear probes per site and concept with their control tasks (selectivity).</summary>
public sealed class ConceptsProbeCommand : ICommand
{
    public string Name => "concepts probe";
    public string Summary => "linear probes per site and concept, with Hewitt-Liang control tasks: held-out accuracy, control accuracy, selectivity";
    public string Usage => "--model DIR --labels FILE [--tokens IDS|FILE] --sites S1,S2 [--concepts A,B] [--set l2=…|control=token|token_position|test_fraction=…]... [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        ConceptCommandInputs.Model, ConceptCommandInputs.Labels, ConceptCommandInputs.Tokens,
        new("sites", "hook sites to probe, comma-separated", ValueName: "S1,S2"),
        new("concepts", "concepts to probe, comma-separated (default: all in the labels file)", ValueName: "A,B"),
        .. ConceptCommandInputs.Common,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var sites = ConceptCommandInputs.List(args.Require("sites"));
        if (sites.Count == 0) throw new UsageException("--sites names no hook site.");
        var (labels, tokens) = ConceptCommandInputs.Load(args);
        int seed = CommonOptions.ParseSeed(args);
        using var host = CommonOptions.CreateHost(args, env);
        var options = ConceptCommandInputs.Options<ConceptProbeOptions>(args, host, "concept.probe");
        using var model = ConceptCommandInputs.LoadModel(args, host, CommonOptions.ParseDevice(args), seed);
        var scores = LinearProbe.Run(model, tokens, labels, sites, ConceptCommandInputs.List(args.Get("concepts")), options.Settings(), seed);

        var result = new JsonObject
        {
            ["method"] = "concept.probe", ["labels"] = labels.Source, ["control"] = options.Control.ToString(), ["l2"] = options.L2,
            ["scores"] = new JsonArray(scores.Select(s => (JsonNode)new JsonObject
            {
                ["site"] = s.Site, ["concept"] = s.Concept, ["accuracy"] = s.Accuracy, ["control_accuracy"] = s.ControlAccuracy,
                ["selectivity"] = s.Selectivity, ["majority"] = s.Majority, ["train_accuracy"] = s.TrainAccuracy,
                ["train_rows"] = s.TrainRows, ["test_rows"] = s.TestRows,
            }).ToArray()),
            ["definitions"] = new JsonObject
            {
                ["accuracy"] = "held-out accuracy of an L2 softmax regression on the site's per-token activations (sequences split by test_fraction, seeded)",
                ["control_accuracy"] = "held-out accuracy of the same probe on the control task: each key (token, or token and position) gets one label drawn from the concept's class frequencies",
                ["selectivity"] = "accuracy − control_accuracy (Hewitt and Liang 2019)",
                ["majority"] = "held-out accuracy of predicting the training rows' most frequent class",
            },
        };
        ReportOutput.Emit(args, env, result, o =>
        {
            var inv = CultureInfo.InvariantCulture;
            o.WriteLine($"concept.probe: {scores.Count} probes (control: {options.Control}); accuracy / control / selectivity (majority)");
            foreach (var s in scores)
                o.WriteLine($"  {s.Site,-30} {s.Concept,-12} {s.Accuracy.ToString("0.000", inv)} / {s.ControlAccuracy.ToString("0.000", inv)} / {s.Selectivity.ToString("0.000", inv)}  ({s.Majority.ToString("0.000", inv)})");
        });
        return ExitCodes.Ok;
    }
}
