using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Sae;
using Mechanist.Sae.CpuKernels;
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

    protected internal override string ThresholdParameter => "b_gate";

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
        var (latents, gateActivity) = GatedActivation(shared, p.Extra["b_gate"], p.Extra["r_mag"], p.Extra["b_mag"]);
        // Nothing keeps the shared product for the backward pass (the activation works from its outputs, the product's
        // backward from its inputs): free its [B, d_sae] buffer now rather than at the end of the step.
        shared.Dispose();
        var reconstruction = DecodeDense(p, latents);
        var mse = SquaredError(batch.Y, reconstruction);
        var l1 = WeightedL1(gateActivity, p.DecoderRows.norm(dim: 1));
        var viaGate = addmm(p.DecoderBias.detach(), gateActivity, p.DecoderRows.detach(), 1, 1);
        var auxiliary = SquaredError(batch.Y, viaGate);
        var (fired, l0) = Activity(latents);
        return new StepOutput(mse + state.SparsityCoefficient * l1 + auxiliary, reconstruction.detach(), fired, l0,
            new Dictionary<string, Tensor> { ["mse"] = mse.detach(), ["l1"] = l1.detach(), ["aux"] = auxiliary.detach() });
    }

    /// <summary>
    /// f = 1[π_gate &gt; 0] ReLU(π_mag) and ReLU(π_gate) from the shared product s = x' W_enc, with π_gate = s + b_gate
    /// and π_mag = s e^r_mag + b_mag, as one autograd function (the composition of libtorch ops keeps half a dozen
    /// [B, d_sae] tensors). Its backward pass needs only its own outputs, which the loss keeps anyway: the gate is open
    /// where ReLU(π_gate) &gt; 0, the magnitude path passes gradient where f &gt; 0, and there s e^r_mag = f − b_mag; so s
    /// is not kept and is freed once the encoder's product has been used. The gate's step passes no gradient.
    /// </summary>
    internal static (Tensor Latents, Tensor GateActivity) GatedActivation(Tensor shared, Tensor bGate, Tensor rMag, Tensor bMag)
    {
        var outputs = GatedFunction.apply(shared, bGate, rMag, bMag);
        return (outputs[0], outputs[1]);
    }

    sealed class GatedFunction : TorchSharp.torch.autograd.MultiTensorFunction<GatedFunction>
    {
        public override string Name => nameof(GatedFunction);

        public override List<Tensor> forward(TorchSharp.torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var shared = (Tensor)vars[0];
            var bGate = (Tensor)vars[1];
            var rMag = (Tensor)vars[2];
            var bMag = (Tensor)vars[3];
            var expR = rMag.exp();
            Tensor latents, gateActivity;
            if (DenseKernels.Apply(shared, bGate, rMag, bMag))
                (latents, gateActivity) = DenseKernels.GatedForward(shared, bGate, expR, bMag);
            else
            {
                var gate = shared + bGate;
                latents = where(gate > 0, nn.functional.relu(shared * expR + bMag), zeros_like(gate));
                gateActivity = nn.functional.relu(gate);
            }
            ctx.save_for_backward([latents, gateActivity, rMag, bMag]);
            return [latents, gateActivity];
        }

        public override List<Tensor> backward(TorchSharp.torch.autograd.AutogradContext ctx, List<Tensor> grads)
        {
            var saved = ctx.get_saved_variables();
            Tensor latents = saved[0], gateActivity = saved[1], rMag = saved[2], bMag = saved[3];
            var expR = rMag.exp();
            Tensor? gradF = grads.Count > 0 ? grads[0] : null, gradPi = grads.Count > 1 ? grads[1] : null;
            if (DenseKernels.Apply(latents, gateActivity, rMag, bMag)
                && (gradF is null || DenseKernels.Apply(gradF)) && (gradPi is null || DenseKernels.Apply(gradPi)))
            {
                var (gs, gr, gm, gg) = DenseKernels.GatedBackward(latents, gateActivity, expR, bMag, gradF, gradPi);
                Release(gradF, gradPi);
                return [gs, gg, gr, gm];
            }
            var gradShared = zeros_like(latents);
            var gradR = zeros_like(rMag);
            var gradMag = zeros_like(bMag);
            var gradGate = zeros_like(bMag);
            if (gradF is not null)
            {
                var through = gradF * (latents > 0).to(latents.dtype);
                gradShared.add_(through * expR);
                gradR.add_((through * (latents - bMag)).sum([0]));
                gradMag.add_(through.sum([0]));
            }
            if (gradPi is not null)
            {
                var through = gradPi * (gateActivity > 0).to(latents.dtype);
                gradShared.add_(through);
                gradGate.add_(through.sum([0]));
            }
            Release(gradF, gradPi);
            return [gradShared, gradGate, gradR, gradMag];
        }

        /// <summary>
        /// Drops this function's handles on the incoming [B, d_sae] gradients once they are used, so autograd frees them
        /// as soon as it is done with them instead of the step's dispose scope keeping them through the rest of backward.
        /// </summary>
        static void Release(Tensor? gradF, Tensor? gradPi)
        {
            gradF?.Dispose();
            gradPi?.Dispose();
        }
    }

    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, GatedSaeOptions options) =>
        new GatedSae(w.WEnc, w.Extra["b_gate"], w.Extra["r_mag"], w.Extra["b_mag"], w.WDec, w.BDec);
}

public sealed record GatedSaeOptions : PenalizedSaeOptions
{
    public GatedSaeOptions() => SparsityCoefficient = 3.0;
}
