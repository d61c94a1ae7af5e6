using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Sae;
using Mechanist.Sae.CpuKernels;
using Mechanist.Options;
using TorchSharp;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Methods.Decomposers;

/// <summary>
/// JumpReLU SAE (Rajamanoharan et al. 2024): z = (x − b_dec) W_enc + b_enc, f = z · H(z − θ) with a learned
/// threshold per latent stored as log θ; L = ‖x − x̂‖² + λ Σ_i H(z_i − θ_i). The step function has no gradient, so θ
/// gets straight-through pseudo-gradients with a rectangle kernel of bandwidth ε:
/// ∂f/∂θ = −(θ/ε) K((z − θ)/ε), ∂H/∂θ = −(1/ε) K((z − θ)/ε), K(u) = 1[|u| &lt; ½]; z gets H as its gradient.
/// Saved as SAELens <c>jumprelu</c>.
/// </summary>
[Decomposer("sae.jumprelu",
    Title = "JumpReLU sparse autoencoder (L0 penalty, straight-through threshold gradients)",
    Summary = "f = z H(z - theta), theta = exp(log_theta) per latent; loss ||x - xhat||^2 + lambda L0 with rectangle-kernel straight-through gradients for theta. Saved as SAELens 'jumprelu'.",
    Reference = "Rajamanoharan et al. 2024, Jumping Ahead: Improving Reconstruction Fidelity with JumpReLU Sparse Autoencoders.",
    HelpLink = "docs/methods/sae.jumprelu.md")]
public sealed class JumpReluSaeDecomposer : SaeDecomposer<JumpReluSaeOptions>
{
    internal const string LogThreshold = "log_threshold";

    protected internal override IEnumerable<ExtraParameter> ExtraParameters(SaeShape shape, JumpReluSaeOptions options) =>
        [new(LogThreshold, s =>
        {
            using var start = Math.Log(options.InitThreshold).ToScalar();
            return full(s.DSae, start, ScalarType.Float32);
        })];

    protected internal override string ThresholdParameter => LogThreshold;

    protected internal override bool SignedSparsityCoefficient => true;

    protected internal override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, JumpReluSaeOptions options)
    {
        var pre = nn.functional.linear(Centered(p, batch.X), p.EncoderRows, p.EncoderBias);
        var theta = p.Extra[LogThreshold].exp();
        var (latents, l0Penalty) = JumpRelu(pre, theta, options.Bandwidth);
        var reconstruction = DecodeDense(p, latents);
        var mse = SquaredError(batch.Y, reconstruction);
        var (fired, l0) = Activity(latents);
        return new StepOutput(mse.Plus(l0Penalty.Times(state.SparsityCoefficient)), reconstruction.detach(), fired, l0,
            new Dictionary<string, Tensor> { ["mse"] = mse.detach(), ["l0_penalty"] = l0Penalty.detach() });
    }

    /// <summary>
    /// f = z H(z − θ) and the L0 penalty Σ_b Σ_i H(z_bi − θ_i) / B, each with straight-through θ-gradients, as custom
    /// autograd functions that keep only z and θ for the backward pass (a composition of element-wise ops would hold
    /// a dozen [B, d_sae] tensors, and the step function's [B, d_sae] values are never needed, only their sum).
    /// </summary>
    internal static (Tensor Latents, Tensor L0) JumpRelu(Tensor pre, Tensor theta, double bandwidth) =>
        (JumpReluFunction.apply(pre, theta, bandwidth), L0Function.apply(pre, theta, bandwidth));

    /// <summary>K((z − θ)/ε) = 1[|z − θ| &lt; ε/2] as a float mask.</summary>
    static Tensor Kernel(Tensor pre, Tensor theta, double bandwidth)
    {
        using var half = (bandwidth / 2).ToScalar();
        return (pre - theta).abs_().lt_(half).to(pre.dtype);
    }

    /// <summary>f = z H(z − θ); ∂f/∂z = H(z − θ), ∂f/∂θ = −(θ/ε) K((z − θ)/ε).</summary>
    sealed class JumpReluFunction : TorchSharp.torch.autograd.SingleTensorFunction<JumpReluFunction>
    {
        public override string Name => nameof(JumpReluFunction);

        public override Tensor forward(TorchSharp.torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var pre = (Tensor)vars[0];
            var theta = (Tensor)vars[1];
            ctx.save_for_backward([pre, theta]);
            ctx.save_data("bandwidth", (double)vars[2]);
            if (DenseKernels.Apply(pre, theta)) return DenseKernels.JumpReluForward(pre, theta);
            return pre * (pre > theta).to(pre.dtype);
        }

        public override List<Tensor> backward(TorchSharp.torch.autograd.AutogradContext ctx, Tensor grad)
        {
            var saved = ctx.get_saved_variables();
            Tensor pre = saved[0], theta = saved[1];
            double bandwidth = (double)ctx.get_data("bandwidth");
            if (DenseKernels.Apply(pre, theta, grad))
            {
                var (gradPre, gradTheta) = DenseKernels.JumpReluBackward(pre, theta, grad, bandwidth);
                return [gradPre, gradTheta, null!];
            }
            var torchGradPre = grad * (pre > theta).to(grad.dtype);
            var torchGradTheta = (Kernel(pre, theta, bandwidth).mul_(grad)).sum(dim: 0).mul_((-theta).Over(bandwidth));
            return [torchGradPre, torchGradTheta, null!];
        }
    }

    /// <summary>Σ_b Σ_i H(z_bi − θ_i) / B; no gradient for z, ∂/∂θ_i = −(1/(B ε)) Σ_b K((z_bi − θ_i)/ε).</summary>
    sealed class L0Function : TorchSharp.torch.autograd.SingleTensorFunction<L0Function>
    {
        public override string Name => nameof(L0Function);

        public override Tensor forward(TorchSharp.torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var pre = (Tensor)vars[0];
            var theta = (Tensor)vars[1];
            ctx.save_for_backward([pre, theta]);
            ctx.save_data("bandwidth", (double)vars[2]);
            if (DenseKernels.Apply(pre, theta))
                return tensor((float)DenseKernels.CountAbove(pre, theta));
            return (pre > theta).sum().to(pre.dtype).Over(pre.shape[0]);
        }

        public override List<Tensor> backward(TorchSharp.torch.autograd.AutogradContext ctx, Tensor grad)
        {
            var saved = ctx.get_saved_variables();
            Tensor pre = saved[0], theta = saved[1];
            double bandwidth = (double)ctx.get_data("bandwidth");
            if (DenseKernels.Apply(pre, theta))
                return [null!, DenseKernels.CountAboveBackward(pre, theta, grad.item<float>(), bandwidth), null!];
            var gradTheta = Kernel(pre, theta, bandwidth).sum(dim: 0).mul_(grad.Over(-bandwidth * pre.shape[0]));
            return [null!, gradTheta, null!];
        }
    }

    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, JumpReluSaeOptions options) =>
        new JumpReluSae(w.WEnc, w.BEnc!, w.WDec, w.BDec, w.Extra[LogThreshold].exp());
}

public sealed record JumpReluSaeOptions : PenalizedSaeOptions
{
    public JumpReluSaeOptions() => SparsityCoefficient = 0.5;

    [Option("Initial threshold theta of every latent (in normalised units).")]
    public double InitThreshold { get; init; } = 0.3;

    [Option("Bandwidth epsilon of the rectangle kernel in the threshold's straight-through gradient.")]
    public double Bandwidth { get; init; } = 0.05;

    public override IEnumerable<OptionError> Validate()
    {
        foreach (var e in base.Validate()) yield return e;
        if (!(InitThreshold > 0)) yield return new("init_threshold", $"must be positive, got {InitThreshold}");
        if (!(Bandwidth > 0)) yield return new("bandwidth", $"must be positive, got {Bandwidth}");
    }
}
