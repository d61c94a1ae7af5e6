using System.Collections.Immutable;
using Mechanist.Discovery;
using Mechanist.Methods.Evaluation;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// Quality of a decomposition on activations: explained variance, L0, dead and dense latents, and finite weights.
/// Thresholds and severities are configurable per check ID.
/// </summary>
[Validator("decomposition.quality",
    Title = "Decomposition quality",
    Summary = "Reconstruction (explained variance), sparsity (L0), dead and dense latents and finite weights of a decomposition on activations.",
    Reference = "Bricken et al. 2023, Towards Monosemanticity; Gao et al. 2024, Scaling and evaluating sparse autoencoders.",
    HelpLink = "docs/methods/decomposition.quality.md",
    Requires = ValidationInputs.Decomposition)]
public sealed class DecompositionQuality : Validator
{
    public static readonly CheckDescriptor LowExplainedVariance = new(
        "MECH1001", "Explained variance below threshold",
        "explained variance {0:0.####} is below the threshold {1:0.####}", "Decomposition", Severity.Warning,
        CheckDescriptor.DocPath("MECH1001"), DecompositionMetrics.Definitions["explained_variance"] + "; " + DecompositionMetrics.Definitions["fvu"],
        DefaultThreshold: 0.7, Requires: ValidationInputs.Activations, Direction: MetricDirection.HigherIsBetter);

    public static readonly CheckDescriptor HighL0 = new(
        "MECH1002", "L0 above threshold",
        "mean L0 {0:0.##} is above the threshold {1:0.##}", "Decomposition", Severity.Warning,
        CheckDescriptor.DocPath("MECH1002"), DecompositionMetrics.Definitions["l0"], DefaultThreshold: 128,
        Requires: ValidationInputs.Activations, Direction: MetricDirection.LowerIsBetter);

    public static readonly CheckDescriptor DeadLatents = new(
        "MECH1003", "Too many dead latents",
        "{0:0.##%} of latents never fire, above the threshold {1:0.##%}", "Decomposition", Severity.Warning,
        CheckDescriptor.DocPath("MECH1003"), DecompositionMetrics.Definitions["dead_fraction"] + "; each dead latent is also measured on its own (its firing count, 0), so a baseline knows which latents were dead",
        DefaultThreshold: 0.1, Requires: ValidationInputs.Activations, Direction: MetricDirection.LowerIsBetter);

    public static readonly CheckDescriptor DenseLatents = new(
        "MECH1004", "Too many dense latents",
        "{0:0.##%} of latents fire on more than 10% of rows, above the threshold {1:0.##%}", "Decomposition", Severity.Warning,
        CheckDescriptor.DocPath("MECH1004"), DecompositionMetrics.Definitions["dense_fraction"], DefaultThreshold: 0.5,
        Requires: ValidationInputs.Activations, Direction: MetricDirection.LowerIsBetter);

    public static readonly CheckDescriptor NonFiniteWeights = new(
        "MECH1005", "Non-finite weights",
        "decomposition tensor '{0}' contains {1} NaN or infinite values", "Decomposition", Severity.Error,
        CheckDescriptor.DocPath("MECH1005"), "count of elements e of each saved tensor with isfinite(e) false (no threshold: any count above 0 is reported)",
        Direction: MetricDirection.LowerIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } =
        [LowExplainedVariance, HighL0, DeadLatents, DenseLatents, NonFiniteWeights];

    public override void Validate(ValidationContext context)
    {
        if (context.Decomposition is not { } decomposition)
        {
            context.CannotRun("it needs a decomposition to validate.");
            return;
        }
        bool finite = true;
        foreach (var (name, tensor) in decomposition.StateDict())
        {
            using var scope = NewDisposeScope();
            long bad = isfinite(tensor).logical_not().sum().item<long>();
            if (bad > 0)
            {
                finite = false;
                context.Report(NonFiniteWeights, [name, bad], value: bad);
            }
        }
        if (finite) context.Measure(NonFiniteWeights, 0);
        if (!finite) return;
        if (context.Activations is null)
        {
            var needing = SupportedChecks.Where(c => c.Requires.HasFlag(ValidationInputs.Activations) && context.IsEnabled(c)).ToArray();
            if (needing.Length > 0) context.CannotRun("there are no activations to measure the decomposition on.", needing);
            return;
        }

        var m = DecompositionMetrics.Compute(decomposition, context.Activations, device: context.Device,
            cancellation: context.CancellationToken);
        context.Measure(LowExplainedVariance, m.ExplainedVariance);
        context.Measure(HighL0, m.L0);
        context.Measure(DeadLatents, m.DeadFraction);
        foreach (var latent in m.DeadLatents) context.Measure(DeadLatents, 0, feature: latent);
        context.Measure(DenseLatents, m.DenseFraction);
        if (context.ThresholdOf(LowExplainedVariance) is double ev && m.ExplainedVariance < ev)
            context.Report(LowExplainedVariance, [m.ExplainedVariance, ev], m.ExplainedVariance);
        if (context.ThresholdOf(HighL0) is double l0 && m.L0 > l0)
            context.Report(HighL0, [m.L0, l0], m.L0);
        if (context.ThresholdOf(DeadLatents) is double dead && m.DeadFraction > dead)
            context.Report(DeadLatents, [m.DeadFraction, dead], m.DeadFraction);
        if (context.ThresholdOf(DenseLatents) is double dense && m.DenseFraction > dense)
            context.Report(DenseLatents, [m.DenseFraction, dense], m.DenseFraction);
    }
}
