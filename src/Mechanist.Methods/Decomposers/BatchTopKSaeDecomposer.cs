using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Sae;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Methods.Decomposers;

/// <summary>
/// BatchTopK SAE (Bussmann et al. 2024): keeps the k·B largest ReLU(z) over the whole batch, so k is an average
/// per row. Training tracks θ ← (1 − r) θ + r · (smallest selected positive activation); inference is JumpReLU with
/// that θ, and the SAE is saved as SAELens <c>jumprelu</c> with threshold θ for every latent.
/// </summary>
[Decomposer("sae.batchtopk",
    Title = "BatchTopK sparse autoencoder (saved as JumpReLU)",
    Summary = "Top k*B activations over the batch; unit-norm decoder; loss FVU + alpha AuxK. Learns a global threshold theta (EMA of the smallest selected activation); saved and run at inference as JumpReLU with threshold theta.",
    Reference = "Bussmann, Leask & Nanda 2024, BatchTopK Sparse Autoencoders.",
    HelpLink = "docs/methods/sae.batchtopk.md")]
public sealed class BatchTopKSaeDecomposer : SaeDecomposer<BatchTopKSaeOptions>
{
    protected internal override bool UnitNormDecoder => true;

    protected internal override void Check(SaeShape shape, BatchTopKSaeOptions options) => TopKChecks.RequireKWithin(shape, options);

    protected internal override IReadOnlyDictionary<string, Tensor> InitialBuffers(SaeShape shape, BatchTopKSaeOptions options) =>
        new Dictionary<string, Tensor> { [BatchTopKTraining.ThresholdBuffer] = zeros(1, ScalarType.Float64) };

    protected internal override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, BatchTopKSaeOptions options) =>
        BatchTopKTraining.Step(p, batch, state, options, options.ThresholdLr, levels: null, CentersInput);

    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, BatchTopKSaeOptions options) =>
        BatchTopKTraining.AsJumpRelu(w, shape);
}

public sealed record BatchTopKSaeOptions : TopKFamilyOptions
{
    [Option("Rate r of the threshold's moving average theta <- (1 - r) theta + r min(selected positive activation).")]
    public double ThresholdLr { get; init; } = 0.01;

    public override IEnumerable<OptionError> Validate()
    {
        foreach (var e in base.Validate()) yield return e;
        if (ThresholdLr is <= 0 or > 1) yield return new("threshold_lr", $"must be in (0, 1], got {ThresholdLr}");
    }
}
