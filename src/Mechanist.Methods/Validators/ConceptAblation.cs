using System.Collections.Immutable;
using Mechanist.Discovery;
using Mechanist.Methods.Concepts;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// A claim that a latent is a concept feature, tested causally: zero-ablating the latent (the decomposition spliced
/// at its site with the error term kept) must lower a linear probe's log-odds of the concept on the concept's
/// tokens by at least a set share of the probe's margin.
/// </summary>
[Validator("concept.ablation",
    Title = "Concept features must carry the concept",
    Summary = "Trains a binary L2 logistic probe for the concept class at probe_site (default: the decomposition's site) on clean activations, splices the decomposition at its site with the error term, and zero-ablates each claimed latent alone at every position: the probe's mean log-odds on the class's tokens must fall by at least the threshold share of its margin over the other tokens (MECH4004). The claimed latents are the option features, else the top_k latents whose mean activation on the class exceeds that on the others the most. Needs concept labels, a concept and class, a model, token ids (context or labels file), a decomposition and its site.",
    Reference = "Concept-based interpretability: probing (Alain & Bengio 2016) tested causally by ablation, as in Ravfogel et al. 2020 (INLP) and Elazar et al. 2021 (amnesic probing).",
    HelpLink = "docs/methods/concept.ablation.md",
    Requires = ValidationInputs.ConceptLabels | ValidationInputs.Model | ValidationInputs.Decomposition | ValidationInputs.Site)]
public sealed class ConceptAblation : Validator<ConceptAblationOptions>
{
    public static readonly CheckDescriptor AblationDoesNotReduceProbe = new(
        "MECH4004", "Claimed concept feature does not carry the concept",
        "ablating latent {0}, claimed for '{1}' = '{2}', lowers the probe's log-odds at {3} by {4:0.###} ({5:0.#%} of the margin {6:0.###}; active on {7} tokens), below the threshold {8:0.#%}",
        "Interpretation", Severity.Warning, CheckDescriptor.DocPath("MECH4004"),
        "fraction = (M(clean) − M(latent zeroed at every position, error term kept)) / (M(clean) − mean log-odds on the other tokens), M = mean over the class's tokens of the log-odds of a binary L2 logistic probe trained (balanced, training sequences) on clean activations at probe_site",
        DefaultThreshold: 0.1, Direction: MetricDirection.HigherIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [AblationDoesNotReduceProbe];

    protected override void Validate(ValidationContext context, ConceptAblationOptions options)
    {
        if (context.ConceptLabels is not { } labels || context.Model is not { } model || context.Decomposition is not { } decomposition || context.Site is not { } site)
        {
            context.CannotRun("it needs concept labels (the entry's 'labels'), a model, a decomposition and its site.");
            return;
        }
        if (ConceptInputs.RequiredTokens(context, labels) is not { } tokens) return;
        if (context.ThresholdOf(AblationDoesNotReduceProbe) is not double threshold) return;
        var (concept, cls) = ConceptInputs.Claim(labels, options, "concept.ablation");
        using var scope = NewDisposeScope();
        var probeSite = string.IsNullOrWhiteSpace(options.ProbeSite) ? site : options.ProbeSite;
        var claimed = ConceptOptions.Ints("features", options.Features).ToList();
        if (claimed.Count == 0)
        {
            var raw = ConceptInputs.Rows(context, tokens, site)!;
            var latents = decomposition.Encode(raw.to(decomposition.DecoderDirections.device)).cpu();
            claimed = SparseProbing.TopLatents(latents, concept.Labels.Select(l => l == cls ? 1L : 0L).ToArray(), options.TopK, signed: true).ToList();
        }
        var result = ConceptAttribution.Run(model, tokens, concept, cls, site, probeSite, decomposition,
            new ConceptAttribution.Settings { Units = claimed, L2 = options.L2 }, context.Seed, context.CancellationToken);
        double margin = result.CleanLogOdds - result.OtherLogOdds;
        foreach (var s in result.Scores)
            if (s.Fraction >= threshold) context.Measure(AblationDoesNotReduceProbe, s.Fraction, s.Index);
            else
                context.Report(AblationDoesNotReduceProbe, [s.Index, concept.Name, result.Class, probeSite, s.Effect, s.Fraction, margin, s.Active, threshold], s.Fraction, s.Index);
    }
}

public sealed record ConceptAblationOptions : ConceptOptions
{
    [Option("the latents claimed to carry the concept, comma-separated (default: the top_k by mean activation on the class minus on the others)")]
    public string Features { get; init; } = "";

    [Option("claimed latents when features is empty")]
    public int TopK { get; init; } = 3;

    [Option("hook site the concept probe reads (default: the decomposition's site)")]
    public string ProbeSite { get; init; } = "";

    [Option("L2 penalty of the concept probe")]
    public double L2 { get; init; } = 1e-2;

    public override IEnumerable<OptionError> Validate()
    {
        if (TopK < 1) yield return new("top_k", "must be at least 1");
        if (!(L2 >= 0)) yield return new("l2", "must be 0 or more");
    }
}
