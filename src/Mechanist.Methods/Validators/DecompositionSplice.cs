using System.Collections.Immutable;
using Mechanist.Discovery;
using Mechanist.Methods.Evaluation;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;

namespace Mechanist.Methods.Validators;

/// <summary>
/// Downstream quality of a decomposition: the model run with the activation at the site replaced by the
/// decomposition's reconstruction (spliced in), on the check's dataset. The CE-loss score says how much of the loss
/// the reconstruction recovers compared with zero ablation; the KL divergence how far the spliced model's outputs move.
/// For a task model (modular addition) the loss is the task's, at its answer positions.
/// </summary>
[Validator("decomposition.splice",
    Title = "Spliced-in downstream loss",
    Summary = "Splices the decomposition's reconstruction into the model at its site and runs the dataset: the CE-loss score (loss recovered relative to zero ablation, MECH1006) and the mean KL divergence of the outputs from the clean model's (MECH1007). A task model's loss is the task's at its answer positions.",
    Reference = "Bricken et al. 2023, Towards Monosemanticity (loss recovered); Gao et al. 2024, Scaling and evaluating sparse autoencoders (downstream loss, KL).",
    HelpLink = "docs/methods/decomposition.splice.md",
    Requires = ValidationInputs.Model | ValidationInputs.Decomposition | ValidationInputs.Site | ValidationInputs.Dataset)]
public sealed class DecompositionSplice : Validator<DecompositionSpliceOptions>
{
    public static readonly CheckDescriptor LossNotRecovered = new(
        "MECH1006", "Downstream loss not recovered",
        "splicing the reconstruction in at {0} recovers a CE-loss score of {1:0.####} ({2} loss: clean {3:0.####}, spliced {4:0.####}, zero-ablated {5:0.####}), below the threshold {6:0.####}",
        "Decomposition", Severity.Warning, CheckDescriptor.DocPath("MECH1006"),
        "ce_loss_score = (CE_zero_ablation − CE_spliced) / (CE_zero_ablation − CE_clean), CE the mean cross-entropy over the dataset: next-token loss for a language model, the task's loss at its answer positions for a task model; spliced = the activation at the site replaced by the reconstruction, zero-ablated = replaced by zeros",
        DefaultThreshold: 0.9, Direction: MetricDirection.HigherIsBetter);

    public static readonly CheckDescriptor OutputsDiverge = new(
        "MECH1007", "Spliced model's outputs diverge",
        "splicing the reconstruction in at {0} moves the outputs by a mean KL divergence of {1:0.####} nats (zero ablation: {2:0.####}), above the threshold {3:0.####}",
        "Decomposition", Severity.Warning, CheckDescriptor.DocPath("MECH1007"),
        "kl_spliced = mean over scored positions of KL(p_clean ‖ p_spliced) = Σ_v p_clean,v (log p_clean,v − log p_spliced,v), in nats; every position of a language model, the answer positions of a task model",
        DefaultThreshold: 0.1, Direction: MetricDirection.LowerIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [LossNotRecovered, OutputsDiverge];

    protected override void Validate(ValidationContext context, DecompositionSpliceOptions options)
    {
        if (context.Model is not { } model || context.Decomposition is not { } decomposition || context.Site is not { } site || context.InputBatches is not { Count: > 0 } batches)
        {
            context.CannotRun("it needs a model, a decomposition at a site and model inputs (a dataset).");
            return;
        }
        var output = options.OutputSite.Length > 0 ? options.OutputSite : null;
        if (decomposition.ReconstructsTargets && output is null)
        {
            context.CannotRun($"the decomposition is a {decomposition.Architecture}: set option output_site, the site it reconstructs (its input is read at {site}).");
            return;
        }
        var m = SpliceMetrics.Compute(model, site, decomposition, options.MaxBatches > 0 ? batches.Take(options.MaxBatches) : batches, output, context.CancellationToken);
        context.Logger.LogInformation("{Loss} loss clean {Clean:0.####}, spliced {Spliced:0.####}, zero-ablated {Zero:0.####} over {Tokens} positions; KL spliced {Kl:0.####}",
            m.Loss, m.CeClean, m.CeSpliced, m.CeZeroAblation, m.Tokens, m.KlSpliced);
        var at = output is null ? site : $"{site} -> {output}";
        context.Measure(OutputsDiverge, m.KlSpliced);
        if (!(m.CeZeroAblation > m.CeClean))
        {
            // The score compares the spliced loss with a worse one; when zeroing the site does not raise the loss, it measures nothing.
            if (context.IsEnabled(LossNotRecovered))
                context.CannotRun(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"the CE-loss score is undefined: zeroing {at} does not raise the {m.Loss} loss (clean {m.CeClean:0.####}, zero-ablated {m.CeZeroAblation:0.####}), so there is no loss for the reconstruction to recover."), LossNotRecovered);
        }
        else
        {
            context.Measure(LossNotRecovered, m.CeLossScore);
            if (context.ThresholdOf(LossNotRecovered) is double need && !(m.CeLossScore >= need))
                context.Report(LossNotRecovered, [at, m.CeLossScore, m.Loss, m.CeClean, m.CeSpliced, m.CeZeroAblation, need], m.CeLossScore);
        }
        if (context.ThresholdOf(OutputsDiverge) is double allow && !(m.KlSpliced <= allow))
            context.Report(OutputsDiverge, [at, m.KlSpliced, m.KlZeroAblation, allow], m.KlSpliced);
    }
}

public sealed record DecompositionSpliceOptions : MethodOptions
{
    [Option("for a transcoder: the site its output replaces (the validated site is its input); empty for an SAE")]
    public string OutputSite { get; init; } = "";

    [Option("input batches run (about 4096 tokens each); 0 runs the whole dataset")]
    public int MaxBatches { get; init; }

    public override IEnumerable<OptionError> Validate()
    {
        if (MaxBatches < 0) yield return new("max_batches", "must be 0 (all) or more");
    }
}
