using System.Collections.Immutable;
using Mechanist.Discovery;
using Mechanist.Methods.Concepts;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// Whether a decomposition carries the concepts a site represents in a few latents: SAEBench's sparse probing, the
/// k best latents against the raw activations.
/// </summary>
[Validator("concept.sparse-probing",
    Title = "Sparse probing over a decomposition's latents",
    Summary = "For each concept class (one against the rest, balanced), selects the k latents whose mean activation differs most between the class's tokens and the others on training sequences, fits an L2 logistic probe on them and on the raw activations, and compares their held-out accuracies. A class the raw activations carry but the k best latents do not (accuracy gap above the threshold) is a concept the dictionary has not isolated (MECH4005). Needs concept labels, a decomposition, and the site's activations (a model with token ids, or the context's activations).",
    Reference = "Karvonen et al. 2025, SAEBench (sparse probing); Gurnee et al. 2023, Finding Neurons in a Haystack.",
    HelpLink = "docs/methods/concept.sparse-probing.md",
    Requires = ValidationInputs.ConceptLabels | ValidationInputs.Decomposition | ValidationInputs.Site)]
public sealed class ConceptSparseProbing : Validator<ConceptSparseProbingOptions>
{
    public static readonly CheckDescriptor ConceptNotSparse = new(
        "MECH4005", "Concept not carried by a few latents",
        "'{0}' = '{1}': the best {2} latents ({3}) reach held-out accuracy {4:0.###}, the raw activations {5:0.###}; the gap {6:0.###} is above the threshold {7:0.###} (best single latent {8}, r = {9:0.###})",
        "Interpretation", Severity.Warning, CheckDescriptor.DocPath("MECH4005"),
        "gap = acc(L2 logistic probe on all raw dimensions) − acc(the same probe on the k latents with the largest |mean on the class − mean on the others| over training rows), both held-out accuracies on balanced one-class-against-the-rest samples of held-out sequences",
        DefaultThreshold: 0.1, Direction: MetricDirection.LowerIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [ConceptNotSparse];

    protected override void Validate(ValidationContext context, ConceptSparseProbingOptions options)
    {
        if (context.ConceptLabels is not { } labels || context.Decomposition is not { } decomposition || context.Site is not { } site)
        {
            context.CannotRun("it needs concept labels (the entry's 'labels'), a decomposition and its site.");
            return;
        }
        if (context.ThresholdOf(ConceptNotSparse) is not double threshold) return;
        var tokens = ConceptInputs.Tokens(context, labels);
        using var scope = NewDisposeScope();
        if (ConceptInputs.Rows(context, tokens, site) is not { } raw)
        {
            context.CannotRun($"it needs the activations at {site}: the decomposition's, or a model and the token ids the labels describe to harvest them.");
            return;
        }
        labels.RequireRows(raw.shape[0], $"the activations at {site}");
        if (raw.shape[1] != decomposition.DIn)
            throw new MechanistInputException($"the decomposition's d_in is {decomposition.DIn} but the activations at {site} have width {raw.shape[1]}.");
        var latents = decomposition.Encode(raw.to(decomposition.DecoderDirections.device)).cpu();
        long seqLen = labels.Shape.Length == 2 ? labels.Shape[1] : 1;
        var split = RowSplit.BySequence(labels.Rows / seqLen, seqLen, options.TestFraction, context.Seed);
        int scored = 0;
        foreach (var concept in labels.Select(ConceptOptions.List(options.Concept)))
        {
            var classes = string.IsNullOrWhiteSpace(options.Class) ? Enumerable.Range(0, concept.Classes.Count).ToList() : [concept.ClassIndex(options.Class)];
            foreach (var cls in classes)
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                long inTrain = split.Train.Count(r => concept.Labels[r] == cls), inTest = split.Test.Count(r => concept.Labels[r] == cls);
                if (Math.Min(inTrain, split.Train.Length - inTrain) < options.MinExamples || Math.Min(inTest, split.Test.Length - inTest) < options.MinExamples / 4)
                {
                    var why = $"'{concept.Name}' = '{concept.Classes[cls]}' has too few tokens on one side (train {inTrain} of {split.Train.Length}, held out {inTest} of {split.Test.Length}; min_examples {options.MinExamples})";
                    if (classes.Count == 1) context.CannotRun(why + ".", ConceptNotSparse);
                    else context.Logger.LogInformation("concept.sparse-probing: {Why}; skipped.", why);
                    continue;
                }
                scored++;
                var r = SparseProbing.Run(latents, raw, concept, cls, split, [options.K], options.L2, options.MaxRows, context.Seed);
                var sparse = r.Sparse[0];
                double gap = r.RawAccuracy - sparse.Accuracy;
                if (!(gap <= threshold))
                    context.Report(ConceptNotSparse, [r.Concept, r.Class, options.K, string.Join(", ", sparse.Latents), sparse.Accuracy, r.RawAccuracy, gap, threshold, r.BestLatent, r.BestCorrelation], gap);
            }
        }
        if (scored == 0)
            context.CannotRun("no concept class has enough tokens on both sides to probe (min_examples); nothing was scored.", ConceptNotSparse);
    }
}

public sealed record ConceptSparseProbingOptions : ConceptOptions
{
    [Option("latents the sparse probe may use")]
    public int K { get; init; } = 5;

    [Option("L2 penalty of the probes")]
    public double L2 { get; init; } = 1e-3;

    [Option("share of the sequences held out for scoring")]
    public double TestFraction { get; init; } = 0.2;

    [Option("at most this many rows (balanced) per training or held-out sample")]
    public int MaxRows { get; init; } = 8000;

    [Option("a class is checked only with at least this many training tokens on each side")]
    public int MinExamples { get; init; } = 20;

    public override IEnumerable<OptionError> Validate()
    {
        if (K < 1) yield return new("k", "must be at least 1");
        if (!(L2 >= 0)) yield return new("l2", "must be 0 or more");
        if (!(TestFraction > 0 && TestFraction < 1)) yield return new("test_fraction", "must be in (0, 1)");
        if (MaxRows < 4) yield return new("max_rows", "must be at least 4");
        if (MinExamples < 4) yield return new("min_examples", "must be at least 4");
    }
}
