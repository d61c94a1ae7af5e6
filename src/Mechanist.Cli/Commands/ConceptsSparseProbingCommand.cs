using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Host.Formats;
using Mechanist.Methods.Concepts;
using Mechanist.Methods.Validators;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist concepts sparse-probing</c>: SAEBench sparse probing of a decomposition's latents for every concept class.</summary>
public sealed class ConceptsSparseProbingCommand : ICommand
{
    public string Name => "concepts sparse-probing";
    public string Summary => "for each concept class: the best latent's correlation and the accuracy of probes on the top-k latents against the raw activations";
    public string Usage => "--model DIR --labels FILE [--tokens IDS|FILE] --decomposition DIR [--site SITE] [--concepts A,B] [--k 1,2,5] [--set l2=…|test_fraction=…]... [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        ConceptCommandInputs.Model, ConceptCommandInputs.Labels, ConceptCommandInputs.Tokens,
        new("decomposition", "SAELens-layout folder whose latents are probed", ValueName: "DIR"),
        new("site", "hook site the decomposition reads (default: its cfg.json hook_name)", ValueName: "SITE"),
        new("concepts", "concepts, comma-separated (default: all)", ValueName: "A,B"),
        new("k", "latent counts of the sparse probes, comma-separated (default 1,2,5)", ValueName: "K1,K2"),
        .. ConceptCommandInputs.Common,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var ks = ConceptCommandInputs.List(args.Get("k") ?? "1,2,5").Select(k =>
            int.TryParse(k, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= 1 ? v : throw new UsageException($"--k: '{k}' is not a positive integer.")).ToList();
        var (labels, tokens) = ConceptCommandInputs.Load(args);
        var concepts = labels.Select(ConceptCommandInputs.List(args.Get("concepts")));
        int seed = CommonOptions.ParseSeed(args);
        using var host = CommonOptions.CreateHost(args, env);
        using var decomposition = DecompositionFolder.Load(args.Require("decomposition"));
        var site = args.Get("site") ?? (decomposition.Metadata.HookName is { Length: > 0 } h ? h
            : throw new UsageException("the decomposition's cfg.json names no hook_name; give --site."));
        var options = ConceptCommandInputs.Options<ConceptSparseProbingOptions>(args, host, "concept.sparse-probing");
        using var model = ConceptCommandInputs.LoadModel(args, host, CommonOptions.ParseDevice(args), seed);
        using var scope = NewDisposeScope();
        var raw = SiteActivations.Harvest(model, tokens, [site])[site];
        if (raw.shape[1] != decomposition.DIn)
            throw new MechanistInputException($"{args.Get("decomposition")}: d_in is {decomposition.DIn} but {site} has width {raw.shape[1]}.");
        var latents = decomposition.Encode(raw.to(decomposition.DecoderDirections.device)).cpu();
        var split = RowSplit.BySequence(tokens.shape[0], tokens.shape[1], options.TestFraction, seed);
        var results = new List<SparseProbingResult>();
        foreach (var concept in concepts)
            for (int c = 0; c < concept.Classes.Count; c++)
            {
                long count = concept.Labels.LongCount(l => l == c);
                if (count < 4 || concept.Rows - count < 4) continue;
                results.Add(SparseProbing.Run(latents, raw, concept, c, split, ks, options.L2, options.MaxRows, seed));
            }

        var result = new JsonObject
        {
            ["method"] = "concept.sparse-probing", ["site"] = site, ["d_sae"] = decomposition.DSae,
            ["results"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject
            {
                ["concept"] = r.Concept, ["class"] = r.Class, ["best_latent"] = r.BestLatent, ["best_correlation"] = r.BestCorrelation,
                ["raw_accuracy"] = r.RawAccuracy,
                ["sparse"] = new JsonArray(r.Sparse.Select(s => (JsonNode)new JsonObject
                {
                    ["k"] = s.K, ["accuracy"] = s.Accuracy, ["latents"] = new JsonArray(s.Latents.Select(l => (JsonNode)l).ToArray()),
                }).ToArray()),
            }).ToArray()),
            ["definitions"] = new JsonObject
            {
                ["best_correlation"] = "the largest |Pearson r| over latents between a latent's activation and the class indicator, over all tokens (sign kept)",
                ["sparse"] = "held-out accuracy of an L2 logistic probe on the k latents with the largest |mean on the class − mean on the others| (training rows), balanced one-class-against-the-rest samples",
                ["raw_accuracy"] = "the same probe on all raw activation dimensions",
            },
        };
        ReportOutput.Emit(args, env, result, o =>
        {
            var inv = CultureInfo.InvariantCulture;
            o.WriteLine($"concept.sparse-probing at {site} ({decomposition.DSae} latents): best latent (r); accuracy at k = {string.Join(", ", ks)}; raw");
            foreach (var r in results)
                o.WriteLine($"  {r.Concept + " = " + r.Class,-20} latent {r.BestLatent} ({r.BestCorrelation.ToString("0.000", inv)});  "
                    + string.Join("  ", r.Sparse.Select(s => s.Accuracy.ToString("0.000", inv))) + $";  raw {r.RawAccuracy.ToString("0.000", inv)}");
        });
        return ExitCodes.Ok;
    }
}
