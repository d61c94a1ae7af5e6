using System.Collections.Immutable;
using Mechanist.Discovery;
using Mechanist.Methods.Concepts;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// A claim that a site represents a concept, tested with a linear probe and a control task: the probe's held-out
/// accuracy must exceed the same probe's accuracy on a control task (labels a random function of the token type)
/// by at least a set margin — the selectivity of Hewitt and Liang (2019).
/// </summary>
[Validator("concept.probe",
    Title = "Linear probe selectivity",
    Summary = "Fits an L2 softmax probe per site and concept on per-token activations (training sequences), scores it on held-out sequences, and fits the same probe on a Hewitt-Liang control task (each token type, or token and position, gets a random label drawn from the concept's class frequencies). A concept claim whose selectivity (accuracy − control accuracy) is below the threshold is something a probe finds by memorising token types (MECH4002). Needs concept labels (a validation entry's labels file), a site, token ids (the harvested activations' or the labels file's) and either a model or the site's activations.",
    Requires = ValidationInputs.ConceptLabels | ValidationInputs.Site,
    Reference = "Hewitt & Liang 2019, Designing and Interpreting Probes with Control Tasks; Alain & Bengio 2016, Understanding intermediate layers using linear classifier probes.",
    HelpLink = "docs/methods/concept.probe.md")]
public sealed class ConceptProbe : Validator<ConceptProbeOptions>
{
    public static readonly CheckDescriptor LowSelectivity = new(
        "MECH4002", "Concept probe not selective",
        "a linear probe for '{0}' at {1} reaches held-out accuracy {2:0.###} but {3:0.###} on its control task (majority {4:0.###}): selectivity {5:0.###} is below the threshold {6:0.###}",
        "Interpretation", Severity.Warning, CheckDescriptor.DocPath("MECH4002"),
        "selectivity = acc(probe on the concept) − acc(probe on the control task), both held-out accuracies of an L2 softmax regression (λ = l2 on the mean cross-entropy, standardised features) trained on the same rows; control labels: each token (control=token) or (token, position) (control=token_position) gets one label drawn from the concept's empirical class distribution",
        DefaultThreshold: 0.1, Direction: MetricDirection.HigherIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [LowSelectivity];

    protected override void Validate(ValidationContext context, ConceptProbeOptions options)
    {
        if (context.ConceptLabels is not { } labels || context.Site is not { } site)
        {
            context.CannotRun("it needs concept labels (the entry's 'labels') and a site.");
            return;
        }
        if (ConceptInputs.RequiredTokens(context, labels) is not { } tokens) return;
        if (context.ThresholdOf(LowSelectivity) is not double threshold) return;
        var concepts = labels.Select(ConceptOptions.List(options.Concept));
        using var scope = NewDisposeScope();
        if (ConceptInputs.Rows(context, tokens, site) is not { } rows)
        {
            context.CannotRun($"it needs the activations at {site}: a model to harvest them from, or a decomposition's activations at that site.");
            return;
        }
        var scores = LinearProbe.Score(new Dictionary<string, Tensor> { [site] = rows }, tokens, concepts, options.Settings(), context.Seed, context.CancellationToken);
        foreach (var score in scores)
            if (!(score.Selectivity >= threshold))
                context.Report(LowSelectivity, [score.Concept, score.Site, score.Accuracy, score.ControlAccuracy, score.Majority, score.Selectivity, threshold], score.Selectivity);
            else if (scores.Count == 1)
                context.Measure(LowSelectivity, score.Selectivity); // one value per run: a baseline can track it
    }
}

public sealed record ConceptProbeOptions : ConceptOptions
{
    [Option("L2 penalty λ on the mean cross-entropy (standardised features)")]
    public double L2 { get; init; } = 1e-3;

    [Option("what control labels are a function of: token (Hewitt and Liang's word type) or token_position (for small vocabularies)")]
    public ControlKey Control { get; init; } = ControlKey.Token;

    [Option("share of the sequences held out for scoring")]
    public double TestFraction { get; init; } = 0.2;

    [Option("at most this many training rows per probe (a seeded sample)")]
    public int MaxTrainRows { get; init; } = 20_000;

    public ProbeSettings Settings() => new() { L2 = L2, Control = Control, TestFraction = TestFraction, MaxTrainRows = MaxTrainRows };

    public override IEnumerable<OptionError> Validate()
    {
        if (!(L2 >= 0)) yield return new("l2", "must be 0 or more");
        if (!(TestFraction > 0 && TestFraction < 1)) yield return new("test_fraction", "must be in (0, 1)");
        if (MaxTrainRows < 2) yield return new("max_train_rows", "must be at least 2");
    }
}
