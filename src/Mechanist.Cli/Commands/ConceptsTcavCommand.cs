using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Attribution;
using Mechanist.Cli.CommandLine;
using Mechanist.Methods.Concepts;
using Mechanist.Methods.Validators;
using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist concepts tcav</c>: TCAV of one concept class at a site for a next-token behaviour, with the t-test against random CAVs.</summary>
public sealed class ConceptsTcavCommand : ICommand
{
    public string Name => "concepts tcav";
    public string Summary => "TCAV of a concept class at a site for a target token's logit (or a logit difference): scores, random-CAV scores, t-test p-value";
    public string Usage => "--model DIR --labels FILE [--tokens IDS|FILE] --site SITE --concept C --class K --target T [--contrast T2] [--inputs IDS|FILE] [--shuffled] [--set random_cavs=N|examples=N|positions=last|all]... [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        ConceptCommandInputs.Model, ConceptCommandInputs.Labels, ConceptCommandInputs.Tokens,
        new("site", "hook site of the concept activation vectors", ValueName: "SITE"),
        new("concept", "concept name in the labels file", ValueName: "C"),
        new("class", "the concept's class (name or index)", ValueName: "K"),
        new("target", "the behaviour's metric: logit of this token at the last position", ValueName: "T"),
        new("contrast", "… minus the logit of this token", ValueName: "T2"),
        new("inputs", $"the behaviour's inputs (default: the labelled token sequences): {TokenArgument.Forms}", ValueName: "IDS|FILE"),
        new("shuffled", "permute the concept's labels first (a control that should not be significant)", TakesValue: false),
        .. ConceptCommandInputs.Common,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var site = args.Require("site");
        var (labels, tokens) = ConceptCommandInputs.Load(args);
        var concept = labels[args.Require("concept")];
        concept.RequireTwoClasses(labels.Source);
        int cls = concept.ClassIndex(args.Require("class"));
        if (args.Has("shuffled")) concept = concept.Shuffled(CommonOptions.ParseSeed(args) + 1);
        long target = Id("target", args.Require("target"));
        long? contrast = args.Get("contrast") is { } c ? Id("contrast", c) : null;
        var inputs = TokenArgument.Get(args, "inputs") is { } i ? i.Matrix() : tokens;
        int seed = CommonOptions.ParseSeed(args);
        using var host = CommonOptions.CreateHost(args, env);
        var options = ConceptCommandInputs.Options<ConceptTcavOptions>(args, host, "concept.tcav");
        using var model = ConceptCommandInputs.LoadModel(args, host, CommonOptions.ParseDevice(args), seed);
        SiteActivations.RequireSite(model, site);
        if (model is ILanguageModel lm && (target >= lm.VocabSize || contrast >= lm.VocabSize))
            throw new MechanistInputException($"--target/--contrast: token ids must be below the model's vocabulary of {lm.VocabSize}.");
        var description = contrast is null ? $"logit of token {target} at the last position" : $"logit({target}) − logit({contrast}) at the last position";
        var behaviour = new Behaviour(inputs, o => contrast is null ? o[.., -1, target] : o[.., -1, target] - o[.., -1, contrast.Value], description);
        using var scope = NewDisposeScope();
        var rows = SiteActivations.Harvest(model, tokens, [site])[site];
        var r = Tcav.Run(model, site, rows, concept, cls, behaviour, options.Settings(0.05), seed);

        var result = new JsonObject
        {
            ["method"] = "concept.tcav", ["site"] = site, ["concept"] = r.Concept, ["class"] = r.Class, ["metric"] = r.Metric,
            ["score"] = r.Score, ["random_score"] = r.RandomScore, ["t"] = r.Test.T, ["degrees_of_freedom"] = r.Test.DegreesOfFreedom,
            ["p"] = r.Test.P, ["significant"] = r.Significant, ["cav_accuracy"] = r.CavAccuracy,
            ["concept_scores"] = new JsonArray(r.ConceptScores.Select(v => (JsonNode)v).ToArray()),
            ["random_scores"] = new JsonArray(r.RandomScores.Select(v => (JsonNode)v).ToArray()),
            ["definitions"] = new JsonObject
            {
                ["score"] = "mean over concept CAVs of the share of the behaviour's inputs whose metric grows along the CAV (∇_a M · v > 0)",
                ["p"] = "two-sided p of Student's two-sample t-test between the concept CAVs' and the random CAVs' scores",
                ["significant"] = "p < 0.05",
            },
        };
        ReportOutput.Emit(args, env, result, o =>
        {
            var inv = CultureInfo.InvariantCulture;
            o.WriteLine($"concept.tcav: '{r.Concept}' = '{r.Class}' at {site} for {description}");
            o.WriteLine($"  TCAV score {r.Score.ToString("0.000", inv)} over {r.ConceptScores.Length} CAVs (random CAVs {r.RandomScore.ToString("0.000", inv)}); t = {r.Test.T.ToString("0.00", inv)}, p = {r.Test.P.ToString("G3", inv)}: {(r.Significant ? "significant" : "not significant")} at 0.05; CAV accuracy {r.CavAccuracy.ToString("0.000", inv)}");
        });
        return ExitCodes.Ok;
    }

    static long Id(string option, string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id
            : throw new UsageException($"--{option} expects a token id (a non-negative integer), got '{text}'.");
}
