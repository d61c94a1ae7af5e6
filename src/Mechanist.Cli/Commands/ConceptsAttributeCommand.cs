using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Host.Formats;
using Mechanist.Methods.Concepts;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist concepts attribute</c>: which heads, neurons or latents carry a concept, by ablation and attribution patching of a probe.</summary>
public sealed class ConceptsAttributeCommand : ICommand
{
    public string Name => "concepts attribute";
    public string Summary => "concept → component attribution: each head, neuron or latent ablated, the fall of a concept probe's log-odds, and the attribution-patching estimate";
    public string Usage => "--model DIR --labels FILE [--tokens IDS|FILE] --site SITE --concept C --class K [--probe-site SITE] [--decomposition DIR] [--units LIST] [--ablation mean|zero] [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        ConceptCommandInputs.Model, ConceptCommandInputs.Labels, ConceptCommandInputs.Tokens,
        new("site", "the components' hook site: [batch, pos, head, d_head] (heads), [batch, pos, d] (neurons), or a decomposition's site (latents)", ValueName: "SITE"),
        new("probe-site", "where the concept probe reads (default: --site)", ValueName: "SITE"),
        new("concept", "concept name in the labels file", ValueName: "C"),
        new("class", "the concept's class (name or index)", ValueName: "K"),
        new("decomposition", "score this decomposition's latents, spliced at --site with its error term", ValueName: "DIR"),
        new("units", "units to score, comma-separated (default: all)", ValueName: "LIST"),
        new("ablation", "mean (default) or zero, for heads and neurons", ValueName: "KIND"),
        new("top", "units listed, by effect (default 20)", ValueName: "N"),
        CommonOptions.Seed, CommonOptions.Device, CommonOptions.Plugins, CommonOptions.Format, CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var site = args.Require("site");
        var probeSite = args.Get("probe-site") ?? site;
        var ablation = args.GetChoice("ablation", "mean", "mean", "zero") == "mean" ? ComponentAblation.Mean : ComponentAblation.Zero;
        int top = args.GetInt("top", 20);
        if (top < 0) throw new UsageException("option '--top' must be 0 or more.");
        var units = ConceptCommandInputs.List(args.Get("units")).Select(u =>
            int.TryParse(u, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw new UsageException($"--units: '{u}' is not a unit index.")).ToList();
        var (labels, tokens) = ConceptCommandInputs.Load(args);
        var concept = labels[args.Require("concept")];
        concept.RequireTwoClasses(labels.Source);
        int cls = concept.ClassIndex(args.Require("class"));
        int seed = CommonOptions.ParseSeed(args);
        using var host = CommonOptions.CreateHost(args, env);
        using var decomposition = args.Get("decomposition") is { } dir ? DecompositionFolder.Load(dir) : null;
        using var model = ConceptCommandInputs.LoadModel(args, host, CommonOptions.ParseDevice(args), seed);
        var r = ConceptAttribution.Run(model, tokens, concept, cls, site, probeSite, decomposition,
            new ConceptAttribution.Settings { Ablation = ablation, Units = units.Count == 0 ? null : units }, seed);

        var ranked = r.Scores.OrderByDescending(s => s.Effect).ToList();
        var result = new JsonObject
        {
            ["method"] = "concept-attribution", ["site"] = site, ["probe_site"] = probeSite, ["concept"] = r.Concept, ["class"] = r.Class,
            ["units"] = r.Units, ["probe_accuracy"] = r.ProbeAccuracy, ["clean_log_odds"] = r.CleanLogOdds, ["other_log_odds"] = r.OtherLogOdds,
            ["scores"] = new JsonArray(ranked.Select(s => (JsonNode)new JsonObject
            {
                ["unit"] = s.Unit, ["index"] = s.Index, ["effect"] = s.Effect, ["estimate"] = s.Estimate, ["fraction"] = s.Fraction, ["active"] = s.Active,
            }).ToArray()),
            ["definitions"] = new JsonObject
            {
                ["effect"] = "M(clean) − M(unit ablated at every position); M = mean log-odds of the class over its tokens under a binary L2 logistic probe at probe_site",
                ["estimate"] = "attribution patching: −Σ (ablated − a) · ∂M/∂a over the unit's elements",
                ["fraction"] = "effect / (M(clean) − mean log-odds over the other tokens)",
            },
        };
        ReportOutput.Emit(args, env, result, o =>
        {
            var inv = CultureInfo.InvariantCulture;
            o.WriteLine($"concept attribution of '{r.Concept}' = '{r.Class}' to the {r.Units} of {site} (probe at {probeSite}: accuracy {r.ProbeAccuracy.ToString("0.000", inv)}, log-odds {r.CleanLogOdds.ToString("0.00", inv)} on the class, {r.OtherLogOdds.ToString("0.00", inv)} elsewhere)");
            foreach (var s in ranked.Take(top))
                o.WriteLine($"  {s.Unit,-12} effect {s.Effect.ToString("0.000", inv),8} ({s.Fraction.ToString("0.0%", inv)} of the margin)   estimate {s.Estimate.ToString("0.000", inv),8}");
        });
        return ExitCodes.Ok;
    }
}
