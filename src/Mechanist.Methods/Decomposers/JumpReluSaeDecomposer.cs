using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Methods.Training;
using Mechanist.Options;
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
        [new(LogThreshold, s => full(s.DSae, Math.Log(options.InitThreshold), ScalarType.Float32))];

    protected internal override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, JumpReluSaeOptions options)
    {
        var pre = nn.functional.linear(Centered(p, batch.X), p.EncoderRows, p.EncoderBias);
        var theta = p.Extra[LogThreshold].exp();
        var (latents, step) = JumpRelu(pre, theta, options.Bandwidth);
        var reconstruction = latents.matmul(p.DecoderRows) + p.DecoderBias;
        var mse = SquaredError(batch.Y, reconstruction);
        var l0 = step.sum(1).mean();
        var fired = (latents.detach() > 0);
        return new StepOutput(mse + state.SparsityCoefficient * l0, reconstruction.detach(), fired.any(0),
            fired.sum(1).to(ScalarType.Float32).mean(), new Dictionary<string, Tensor> { ["mse"] = mse.detach(), ["l0_penalty"] = l0.detach() });
    }

    /// <summary>
    /// f = z H(z − θ) and H(z − θ), each with straight-through θ-gradients: the value is exact, and a term whose
    /// value is zero carries the pseudo-gradient (c θ − stop(c θ) has value 0 and gradient c).
    /// </summary>
    internal static (Tensor Latents, Tensor Step) JumpRelu(Tensor pre, Tensor theta, double bandwidth)
    {
        var heaviside = (pre > theta).to(pre.dtype).detach();
        var kernel = ((pre.detach() - theta.detach()) / bandwidth).abs().lt(0.5).to(pre.dtype);
        var latentSlope = (-(theta.detach() / bandwidth) * kernel).detach();
        var stepSlope = (-(1.0 / bandwidth) * kernel).detach();
        var latentSurrogate = latentSlope * theta;
        var stepSurrogate = stepSlope * theta;
        var latents = pre * heaviside + (latentSurrogate - latentSurrogate.detach());
        var step = heaviside + (stepSurrogate - stepSurrogate.detach());
        return (latents, step);
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
