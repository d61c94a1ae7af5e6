using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Methods.Training;
using static TorchSharp.torch;

namespace Mechanist.Methods.Decomposers;

/// <summary>
/// Gated SAE (Rajamanoharan et al. 2024): with x' = x − b_dec, π_gate = x' W_enc + b_gate and
/// π_mag = x' (W_enc ⊙ exp(r_mag)) + b_mag share W_enc; f = 1[π_gate &gt; 0] ⊙ ReLU(π_mag). The gate decides which
/// latents fire, the magnitude path how much, so the L1 penalty no longer shrinks the magnitudes:
/// L = ‖x − x̂‖² + λ Σ_i ReLU(π_gate)_i ‖W_dec,i‖ + ‖x − x̂_frozen(ReLU(π_gate))‖², the last term decoding the gate
/// activations through a frozen (gradient-stopped) copy of the decoder. Saved as SAELens <c>gated</c>.
/// </summary>
[Decomposer("sae.gated",
    Title = "Gated sparse autoencoder",
    Summary = "Separate gate (which latents fire) and magnitude (how much) paths sharing W_enc; L1 on the gate weighted by decoder norms, plus an auxiliary reconstruction from the gate through a frozen decoder. Saved as SAELens 'gated'.",
    Reference = "Rajamanoharan et al. 2024, Improving Dictionary Learning with Gated Sparse Autoencoders.",
    HelpLink = "docs/methods/sae.gated.md")]
public sealed class GatedSaeDecomposer : SaeDecomposer<GatedSaeOptions>
{
    protected internal override bool HasEncoderBias => false;

    protected internal override bool UnitNormDecoder => true;

    protected internal override IEnumerable<ExtraParameter> ExtraParameters(SaeShape shape, GatedSaeOptions options) =>
    [
        new("b_gate", s => zeros(s.DSae)),
        new("r_mag", s => zeros(s.DSae)),
        new("b_mag", s => zeros(s.DSae)),
    ];

    protected internal override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, GatedSaeOptions options)
    {
        var shared = Centered(p, batch.X).matmul(p.EncoderRows.t());
        var gate = shared + p.Extra["b_gate"];
        var magnitude = shared * p.Extra["r_mag"].exp() + p.Extra["b_mag"];
        var open = (gate > 0).to(gate.dtype).detach();
        var latents = open * nn.functional.relu(magnitude);
        var reconstruction = latents.matmul(p.DecoderRows) + p.DecoderBias;
        var mse = SquaredError(batch.Y, reconstruction);
        var gateActivity = nn.functional.relu(gate);
        var l1 = (gateActivity * p.DecoderRows.norm(dim: 1)).sum(1).mean();
        var viaGate = gateActivity.matmul(p.DecoderRows.detach()) + p.DecoderBias.detach();
        var auxiliary = SquaredError(batch.Y, viaGate);
        var fired = latents.detach() > 0;
        return new StepOutput(mse + state.SparsityCoefficient * l1 + auxiliary, reconstruction.detach(), fired.any(0),
            fired.sum(1).to(ScalarType.Float32).mean(),
            new Dictionary<string, Tensor> { ["mse"] = mse.detach(), ["l1"] = l1.detach(), ["aux"] = auxiliary.detach() });
    }

    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, GatedSaeOptions options) =>
        new GatedSae(w.WEnc, w.Extra["b_gate"], w.Extra["r_mag"], w.Extra["b_mag"], w.WDec, w.BDec);
}

public sealed record GatedSaeOptions : PenalizedSaeOptions
{
    public GatedSaeOptions() => SparsityCoefficient = 3.0;
}
