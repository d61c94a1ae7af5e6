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
        var (latents, gateActivity, l1) = GatedActivation(shared, p.Extra["b_gate"], p.Extra["r_mag"], p.Extra["b_mag"],
            p.DecoderRows.norm(dim: 1), gradientOfLatentsIsPrivate: true);
        // Nothing keeps the shared product for the backward pass (the activation works from its outputs, the product's
        // backward from its inputs): free its [B, d_sae] buffer now rather than at the end of the step.
        shared.Dispose();
        var reconstruction = DecodeDense(p, latents);
        var mse = SquaredError(batch.Y, reconstruction);
        var viaGate = addmm(p.DecoderBias.detach(), gateActivity, p.DecoderRows.detach(), 1, 1);
        var auxiliary = SquaredError(batch.Y, viaGate);
        var (fired, l0) = NonNegativeActivity(latents);
        return new StepOutput(mse + state.SparsityCoefficient * l1 + auxiliary, reconstruction.detach(), fired, l0,
            new Dictionary<string, Tensor> { ["mse"] = mse.detach(), ["l1"] = l1.detach(), ["aux"] = auxiliary.detach() });
    }

    /// <summary>
    /// <see cref="SaeDecomposer{TOptions}.Activity"/> for latents that are never negative (f is 0 or a positive
    /// magnitude), from reductions alone: no [B, d_sae] mask is made, whose buffer would split a freed [B, d_sae] block
    /// that the backward pass's gradients could otherwise reuse.
    /// </summary>
    static (Tensor Fired, Tensor L0) NonNegativeActivity(Tensor latents)
    {
        using var _ = no_grad();
        var f = latents.detach();
        return (f.amax([0]) > 0, f.count_nonzero().to(ScalarType.Float32) / f.shape[0]);
    }

    /// <summary>
    /// f = 1[π_gate &gt; 0] ReLU(π_mag) and ReLU(π_gate) from the shared product s = x' W_enc, with π_gate = s + b_gate
    /// and π_mag = s e^r_mag + b_mag, as one autograd function (the composition of libtorch ops keeps half a dozen
    /// [B, d_sae] tensors). Its backward pass needs only its own outputs, which the loss keeps anyway: the gate is open
    /// where ReLU(π_gate) &gt; 0, the magnitude path passes gradient where f &gt; 0, and there s e^r_mag = f − b_mag; so s
    /// is not kept and is freed once the encoder's product has been used. The gate's step passes no gradient. The
    /// function also returns the gate's decoder-norm-weighted L1, Σ_bi ReLU(π_gate)_bi ‖W_dec,i‖ / B, so that its
    /// gradient ‖W_dec,i‖ / B is added to the gate's inside the backward pass instead of autograd broadcasting it to a
    /// [B, d_sae] tensor and adding that to the auxiliary term's gradient. With <paramref name="gradientOfLatentsIsPrivate"/>
    /// the caller promises that f feeds a single product whose backward makes a fresh gradient for f alone (the decoder);
    /// the CPU kernel then writes ∂s over that gradient instead of into another [B, d_sae] buffer.
    /// </summary>
    internal static (Tensor Latents, Tensor GateActivity, Tensor L1) GatedActivation(Tensor shared, Tensor bGate, Tensor rMag, Tensor bMag,
        Tensor decoderNorms, bool gradientOfLatentsIsPrivate = false)
    {
        // TorchSharp's function node keeps an uninitialised copy of each output (two [B, d_sae] buffers) to fill in
        // zeros for a missing output gradient. The backward pass takes a missing gradient as zero itself, so that copy
        // is not needed: it is made in a scope of its own and freed at once, the outputs moved out of that scope.
        using var scope = NewDisposeScope();
        var outputs = GatedFunction.apply(shared, bGate, rMag, bMag, decoderNorms, gradientOfLatentsIsPrivate);
        return (outputs[0].MoveToOuterDisposeScope(), outputs[1].MoveToOuterDisposeScope(), outputs[2].MoveToOuterDisposeScope());
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
            var norms = (Tensor)vars[4];
            ctx.save_data("private", (bool)vars[5]);
            ctx.set_materialize_grads(false);
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
            var gateSums = gateActivity.sum([0]);
            ctx.save_for_backward([latents, gateActivity, rMag, bMag, gateSums, norms]);
            return [latents, gateActivity, gateSums.dot(norms) / latents.shape[0]];
        }

        public override List<Tensor> backward(TorchSharp.torch.autograd.AutogradContext ctx, List<Tensor> grads)
        {
            var saved = ctx.get_saved_variables();
            Tensor latents = saved[0], gateActivity = saved[1], rMag = saved[2], bMag = saved[3], gateSums = saved[4], norms = saved[5];
            var expR = rMag.exp();
            Tensor? gradF = Defined(grads, 0), gradPi = Defined(grads, 1), gradL1 = Defined(grads, 2);
            long rows = latents.shape[0];
            // ∂L1/∂π_bi = ‖W_dec,i‖ / B for every row: one [d_sae] term added to the gate's gradient per latent.
            var perLatent = gradL1 is null ? null : norms * gradL1 / rows;
            var gradNorms = gradL1 is null ? null : gateSums * gradL1 / rows;
            if (DenseKernels.Apply(latents, gateActivity, rMag, bMag)
                && (gradF is null || DenseKernels.Apply(gradF)) && (gradPi is null || DenseKernels.Apply(gradPi))
                && (perLatent is null || DenseKernels.Apply(perLatent)))
            {
                bool overwrite = gradF is not null && gradF.is_contiguous() && (bool)ctx.get_data("private");
                var (gs, gr, gm, gg) = DenseKernels.GatedBackward(latents, gateActivity, expR, bMag, gradF, gradPi, perLatent, overwrite);
                Release(overwrite ? null : gradF, gradPi);
                return [gs, gg, gr, gm, gradNorms!, null!];
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
            var gradGateActivity = (gradPi, perLatent) switch
            {
                (null, null) => null,
                (null, { } column) => column.expand(latents.shape),
                ({ } g, null) => g,
                ({ } g, { } column) => g + column,
            };
            if (gradGateActivity is not null)
            {
                var through = gradGateActivity * (gateActivity > 0).to(latents.dtype);
                gradShared.add_(through);
                gradGate.add_(through.sum([0]));
            }
            Release(gradF, gradPi);
            return [gradShared, gradGate, gradR, gradMag, gradNorms!, null!];
        }

        /// <summary>An output's incoming gradient, or null where autograd passes none (an output the loss did not use).</summary>
        static Tensor? Defined(List<Tensor> grads, int i) => i < grads.Count && grads[i] is { IsInvalid: false } g ? g : null;

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
