using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Sae;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Methods.Decomposers;

/// <summary>
/// The standard ReLU SAE: f = ReLU((x − b_dec) W_enc + b_enc), x̂ = f W_dec + b_dec, trained on
/// L = ‖x − x̂‖² + λ Σ_i f_i ‖W_dec,i‖ (the L1 penalty weighted by decoder norms, so the decoder needs no norm
/// constraint). Saved as SAELens <c>standard</c>.
/// </summary>
[Decomposer("sae.relu",
    Title = "ReLU sparse autoencoder (L1 weighted by decoder norms)",
    Summary = "f = ReLU((x - b_dec) W_enc + b_enc); loss ||x - xhat||^2 + lambda sum_i f_i ||W_dec,i||. Dead latents can be resampled. Saved as SAELens 'standard'.",
    Reference = "Bricken et al. 2023, Towards Monosemanticity; Conerly et al. 2024, Circuits Updates (April): decoder-norm-weighted L1.",
    HelpLink = "docs/methods/sae.relu.md")]
public sealed class ReluSaeDecomposer : SaeDecomposer<ReluSaeOptions>
{
    protected internal override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, ReluSaeOptions options)
    {
        // The encoder's output is used only by the ReLU, which can overwrite it (one [B, d_sae] buffer less).
        var latents = nn.functional.linear(Centered(p, batch.X), p.EncoderRows, p.EncoderBias).relu_();
        var reconstruction = DecodeDense(p, latents);
        var mse = SquaredError(batch.Y, reconstruction);
        var l1 = WeightedL1(latents, p.DecoderRows.norm(dim: 1));
        var (fired, l0) = Activity(latents);
        return new StepOutput(mse.Plus(l1.Times(state.SparsityCoefficient)), reconstruction.detach(), fired, l0,
            new Dictionary<string, Tensor> { ["mse"] = mse.detach(), ["l1"] = l1.detach() });
    }

    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, ReluSaeOptions options) =>
        new StandardSae(w.WEnc, w.BEnc!, w.WDec, w.BDec);
}

public sealed record ReluSaeOptions : PenalizedSaeOptions
{
    public ReluSaeOptions() => SparsityCoefficient = 5.0;
}
