using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Sae;
using Mechanist.Sae.CpuKernels;
using static Mechanist.Sae.KeptScalars;
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
        var gated = GatedDecode(shared, p.Extra["b_gate"], p.Extra["r_mag"], p.Extra["b_mag"], p.DecoderRows, p.DecoderBias,
            p.DecoderRows.norm(dim: 1));
        // Nothing keeps the shared product for the backward pass (the function works from its own activations, the
        // product's backward from its inputs): free its [B, d_sae] buffer now rather than at the end of the step.
        shared.Dispose();
        var mse = SquaredError(batch.Y, gated.Reconstruction);
        var auxiliary = SquaredError(batch.Y, gated.ViaGate);
        return new StepOutput(mse.Plus(gated.L1.Times(state.SparsityCoefficient)).Plus(auxiliary), gated.Reconstruction.detach(), gated.Fired, gated.L0,
            new Dictionary<string, Tensor> { ["mse"] = mse.detach(), ["l1"] = gated.L1.detach(), ["aux"] = auxiliary.detach() });
    }

    /// <summary>What <see cref="GatedDecode"/> returns: everything [B, d_in] or smaller.</summary>
    /// <param name="Reconstruction">x̂ = f W_dec + b_dec.</param>
    /// <param name="ViaGate">ReLU(π_gate) W_dec + b_dec through gradient-stopped W_dec and b_dec (the auxiliary term's decode).</param>
    /// <param name="L1">Σ_bi ReLU(π_gate)_bi ‖W_dec,i‖ / B.</param>
    /// <param name="Fired">Which latents fired (f &gt; 0) in some row ([d_sae] bool; no gradient).</param>
    /// <param name="L0">The mean number of non-zero latents per row (no gradient).</param>
    internal readonly record struct GatedOutputs(Tensor Reconstruction, Tensor ViaGate, Tensor L1, Tensor Fired, Tensor L0);

    /// <summary>
    /// The gated SAE from the shared product s = x' W_enc to its decodes, as one autograd function: π_gate = s + b_gate,
    /// π_mag = s e^r_mag + b_mag, f = 1[π_gate &gt; 0] ReLU(π_mag), both decodes, the decoder-norm-weighted L1 and the
    /// activity statistics. Its outputs are [B, d_in] or smaller, so no [B, d_sae] tensor outlives the call except f and
    /// ReLU(π_gate), which the function keeps for its own backward pass and frees there (the composition of libtorch ops
    /// keeps half a dozen [B, d_sae] tensors, and autograd would keep the incoming gradients of f and π besides).
    /// The backward pass orders its work so that three [B, d_sae] buffers suffice: ∂s = g_x̂ W_decᵀ is made, ∂W_dec = fᵀ g_x̂
    /// taken, the magnitude path applied to ∂s in place (active where f &gt; 0, and there s e^r_mag = f − b_mag, so s is
    /// not kept); f is then dead and its buffer takes g_π = g_x̃ W_decᵀ, to which the L1's gradient ‖W_dec,i‖ / B is added
    /// per latent before the gate's mask adds it to ∂s. The gate's step passes no gradient. The backward pass frees the
    /// activations it kept, so it can run once (training never retains the graph).
    /// </summary>
    internal static GatedOutputs GatedDecode(Tensor shared, Tensor bGate, Tensor rMag, Tensor bMag, Tensor decoderRows, Tensor decoderBias,
        Tensor decoderNorms)
    {
        // TorchSharp's function node keeps an uninitialised copy of each output to fill in zeros for a missing output
        // gradient. The backward pass takes a missing gradient as zero itself, so that copy is not needed: it is made in a
        // scope of its own and freed at once, the outputs moved out of that scope.
        using var scope = NewDisposeScope();
        var activations = new KeptActivations();
        var outputs = GatedFunction.apply(shared, bGate, rMag, bMag, decoderRows, decoderBias, decoderNorms, activations);
        if (outputs[0].requires_grad)
            activations.MoveToOuterDisposeScope();
        else
            activations.Dispose(); // no backward pass will come for them
        return new GatedOutputs(outputs[0].MoveToOuterDisposeScope(), outputs[1].MoveToOuterDisposeScope(),
            outputs[2].MoveToOuterDisposeScope(), outputs[3].MoveToOuterDisposeScope(), outputs[4].MoveToOuterDisposeScope());
    }

    /// <summary>
    /// f and ReLU(π_gate), kept by the forward pass for the backward pass outside autograd's saved variables, so that the
    /// backward pass can reuse f's buffer and free both as soon as it is done with them. The step's dispose scope also
    /// holds them, in case no backward pass comes.
    /// </summary>
    sealed class KeptActivations : IDisposable
    {
        Tensor? _latents, _gateActivity;

        public void Keep(Tensor latents, Tensor gateActivity) => (_latents, _gateActivity) = (latents, gateActivity);

        public void MoveToOuterDisposeScope()
        {
            _latents?.MoveToOuterDisposeScope();
            _gateActivity?.MoveToOuterDisposeScope();
        }

        /// <summary>Hands the activations over to the backward pass, which frees them.</summary>
        public (Tensor Latents, Tensor GateActivity) Take()
        {
            if (_latents is null || _gateActivity is null || _latents.IsInvalid || _gateActivity.IsInvalid)
                throw new InvalidOperationException(
                    "the gated SAE's backward pass frees the activations it keeps, so it runs once per forward pass (do not retain the graph)");
            var taken = (_latents, _gateActivity);
            (_latents, _gateActivity) = (null, null);
            return taken;
        }

        public void Dispose()
        {
            _latents?.Dispose();
            _gateActivity?.Dispose();
            (_latents, _gateActivity) = (null, null);
        }
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
            var decoderRows = (Tensor)vars[4];
            var decoderBias = (Tensor)vars[5];
            var norms = (Tensor)vars[6];
            var kept = (KeptActivations)vars[7];
            ctx.set_materialize_grads(false);
            long rows = shared.shape[0];
            var expR = rMag.exp();
            Tensor latents, gateActivity, fired, l0;
            if (DenseKernels.Apply(shared, bGate, rMag, bMag))
            {
                (latents, gateActivity, fired, long active) = DenseKernels.GatedForward(shared, bGate, expR, bMag);
                l0 = tensor((float)((double)active / rows));
            }
            else
            {
                var gate = shared.Plus(bGate);
                latents = where(gate.Positive(), nn.functional.relu((shared * expR).Plus(bMag)), zeros_like(gate));
                gateActivity = nn.functional.relu(gate);
                // f is never negative: reductions alone, no [B, d_sae] mask.
                fired = latents.amax([0]).Positive();
                l0 = latents.count_nonzero().to(ScalarType.Float32).Over(rows);
            }
            var reconstruction = addmm(decoderBias, latents, decoderRows, 1, 1);
            var viaGate = addmm(decoderBias, gateActivity, decoderRows, 1, 1);
            var gateSums = gateActivity.sum([0]);
            kept.Keep(latents, gateActivity);
            ctx.save_data("kept", kept);
            ctx.save_for_backward([rMag, bMag, decoderRows, gateSums, norms]);
            ctx.mark_non_differentiable([fired, l0]);
            return [reconstruction, viaGate, gateSums.dot(norms).Over(rows), fired, l0];
        }

        public override List<Tensor> backward(TorchSharp.torch.autograd.AutogradContext ctx, List<Tensor> grads)
        {
            var saved = ctx.get_saved_variables();
            Tensor rMag = saved[0], bMag = saved[1], decoderRows = saved[2], gateSums = saved[3], norms = saved[4];
            var (latents, gateActivity) = ((KeptActivations)ctx.get_data("kept")).Take();
            Tensor? gradX = Defined(grads, 0), gradViaGate = Defined(grads, 1), gradL1 = Defined(grads, 2);
            long rows = latents.shape[0];
            var expR = rMag.exp();
            // ∂L1/∂π_bi = ‖W_dec,i‖ / B for every row: one [d_sae] term added to the gate's gradient per latent.
            var perLatent = gradL1 is null ? null : (norms * gradL1).Over(rows);
            var gradNorms = gradL1 is null ? null : (gateSums * gradL1).Over(rows);
            // The reconstruction's decode; the auxiliary one is gradient-stopped (no ∂W_dec, ∂b_dec from it).
            var gradDecoder = gradX is null ? null : latents.t().mm(gradX);
            var gradBias = gradX?.sum([0]);
            bool kernels = DenseKernels.Apply(latents, gateActivity, rMag, bMag, decoderRows)
                && (gradX is null || DenseKernels.Apply(gradX)) && (gradViaGate is null || DenseKernels.Apply(gradViaGate))
                && (perLatent is null || DenseKernels.Apply(perLatent));
            // ∂s starts as g_f = g_x̂ W_decᵀ and takes the magnitude path's mask and scale in place.
            Tensor gradShared, gradR, gradMag;
            if (gradX is null)
                (gradShared, gradR, gradMag) = (zeros_like(latents), zeros_like(rMag), zeros_like(bMag));
            else
            {
                gradShared = gradX.mm(decoderRows.t());
                (gradR, gradMag) = kernels
                    ? DenseKernels.GatedMagnitudeBackward(gradShared, latents, expR, bMag)
                    : MagnitudeBackward(gradShared, latents, expR, bMag);
            }
            // f is no longer needed: g_π = g_x̃ W_decᵀ goes into its buffer (beta 0: its old values are ignored).
            var gradPi = gradViaGate is null ? null : latents.addmm_(gradViaGate, decoderRows.t(), beta: 0, alpha: 1);
            var gradGate = kernels
                ? DenseKernels.GatedGateBackward(gradShared, gateActivity, gradPi, perLatent)
                : GateBackward(gradShared, gateActivity, gradPi, perLatent);
            latents.Dispose();
            gateActivity.Dispose();
            return [gradShared, gradGate, gradR, gradMag, gradDecoder!, gradBias!, gradNorms!, null!];
        }

        /// <summary>libtorch ops for <see cref="DenseKernels.GatedMagnitudeBackward"/> (the path a GPU runs).</summary>
        static (Tensor R, Tensor BMag) MagnitudeBackward(Tensor grad, Tensor latents, Tensor expR, Tensor bMag)
        {
            grad.mul_(latents.Positive());
            var gradR = (grad * (latents - bMag)).sum([0]);
            var gradMag = grad.sum([0]);
            grad.mul_(expR);
            return (gradR, gradMag);
        }

        /// <summary>libtorch ops for <see cref="DenseKernels.GatedGateBackward"/> (the path a GPU runs).</summary>
        static Tensor GateBackward(Tensor gradShared, Tensor gateActivity, Tensor? gradPi, Tensor? perLatent)
        {
            var gradGateActivity = (gradPi, perLatent) switch
            {
                (null, null) => null,
                (null, { } column) => column.expand(gateActivity.shape),
                ({ } g, null) => g,
                ({ } g, { } column) => g.PlusInPlace(column),
            };
            if (gradGateActivity is null) return zeros(gateActivity.shape[1], gateActivity.dtype, gateActivity.device);
            var through = gradGateActivity * gateActivity.Positive();
            gradShared.PlusInPlace(through);
            return through.sum([0]);
        }

        /// <summary>An output's incoming gradient, or null where autograd passes none (an output the loss did not use).</summary>
        static Tensor? Defined(List<Tensor> grads, int i) => i < grads.Count && grads[i] is { IsInvalid: false } g ? g : null;
    }

    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, GatedSaeOptions options) =>
        new GatedSae(w.WEnc, w.Extra["b_gate"], w.Extra["r_mag"], w.Extra["b_mag"], w.WDec, w.BDec);
}

public sealed record GatedSaeOptions : PenalizedSaeOptions
{
    public GatedSaeOptions() => SparsityCoefficient = 3.0;
}
