using System.Collections.Immutable;
using Mechanist.Discovery;
using Mechanist.Methods.Concepts;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// A claim that a concept at a site matters for a behaviour, tested with TCAV: the TCAV scores of the concept's
/// activation vectors must differ significantly from those of random concepts (two-sided t-test).
/// </summary>
[Validator("concept.tcav",
    Title = "TCAV significance against random concepts",
    Summary = "Trains random_cavs concept activation vectors (the concept class's tokens against a random set of tokens, L2 logistic regression on the site's activations) and as many random CAVs (random set against random set), scores each by the share of the behaviour's inputs whose metric grows along it (directional derivative > 0), and compares the two groups with a two-sided t-test. A concept whose CAVs do not differ from random ones (p ≥ the threshold) has no demonstrated influence on the behaviour (MECH4003). Needs concept labels, a concept and class, a model, token ids (context or labels file), a site and a behaviour.",
    Reference = "Kim et al. 2018, Interpretability Beyond Feature Attribution: Quantitative Testing with Concept Activation Vectors (TCAV).",
    HelpLink = "docs/methods/concept.tcav.md",
    Requires = ValidationInputs.ConceptLabels | ValidationInputs.Model | ValidationInputs.Site | ValidationInputs.Behaviour | ValidationInputs.DifferentiableMetric)]
public sealed class ConceptTcav : Validator<ConceptTcavOptions>
{
    public static readonly CheckDescriptor NotSignificant = new(
        "MECH4003", "TCAV score not significant against random concepts",
        "TCAV of '{0}' = '{1}' at {2} for '{3}': mean score {4:0.###} over {5} CAVs against {6:0.###} for random CAVs, p = {7:0.####}, not below the threshold {8:0.####}",
        "Interpretation", Severity.Warning, CheckDescriptor.DocPath("MECH4003"),
        "p = two-sided p-value of Student's two-sample t-test between the TCAV scores of N concept CAVs and N random CAVs; TCAV score of a CAV v = |{x in the behaviour's inputs : ∇_a M(x) · v > 0}| / |inputs|, a the site's activation (last position unless positions=all); CAV = unit normal of an L2 logistic regression separating the two token sets",
        DefaultThreshold: 0.05);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [NotSignificant];

    protected override void Validate(ValidationContext context, ConceptTcavOptions options)
    {
        if (context.ConceptLabels is not { } labels || context.Model is not { } model || context.Behaviour is not { } behaviour || context.Site is not { } site)
        {
            context.CannotRun("it needs concept labels (the entry's 'labels'), a model, a site and a behaviour.");
            return;
        }
        if (ConceptInputs.RequiredTokens(context, labels) is not { } tokens) return;
        if (context.ThresholdOf(NotSignificant) is not double alpha) return;
        var (concept, cls) = ConceptInputs.Claim(labels, options, "concept.tcav");
        using var scope = NewDisposeScope();
        var rows = ConceptInputs.Rows(context, tokens, site)!;
        var result = Tcav.Run(model, site, rows, concept, cls, behaviour, options.Settings(alpha), context.Seed, context.CancellationToken);
        context.Measure(NotSignificant, result.Test.P);
        if (!result.Significant)
            context.Report(NotSignificant, [result.Concept, result.Class, site, behaviour.Description, result.Score, result.ConceptScores.Length, result.RandomScore, result.Test.P, alpha], result.Test.P);
    }
}

public sealed record ConceptTcavOptions : ConceptOptions
{
    [Option("concept CAVs and random CAVs trained (each against its own random set); at least 10 for the t-test")]
    public int RandomCavs { get; init; } = 20;

    [Option("tokens in each concept set and each random set")]
    public int Examples { get; init; } = 200;

    [Option("L2 penalty of the CAV classifiers")]
    public double L2 { get; init; } = 1e-2;

    [Option("where the directional derivative is taken: last (the last position) or all (adding the CAV at every position)")]
    public TcavPositions Positions { get; init; } = TcavPositions.Last;

    public TcavSettings Settings(double alpha) => new() { RandomCavs = RandomCavs, Examples = Examples, L2 = L2, Positions = Positions, Alpha = alpha };

    public override IEnumerable<OptionError> Validate()
    {
        if (RandomCavs < TcavSettings.MinimumRandomCavs)
            yield return new("random_cavs", $"must be at least {TcavSettings.MinimumRandomCavs}: the significance test compares at least {TcavSettings.MinimumRandomCavs} random concepts");
        if (Examples < 4) yield return new("examples", "must be at least 4");
        if (!(L2 >= 0)) yield return new("l2", "must be 0 or more");
    }
}
