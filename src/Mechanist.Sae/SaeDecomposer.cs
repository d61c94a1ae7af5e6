using Mechanist.Decomposers;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Sae;

/// <summary>
/// Base of every SAE-family decomposer. There is one training loop (<see cref="SaeTrainer"/>); a variant only says
/// what it trains on, which extra parameters it has, its encode/activation/loss terms at one step, and how the
/// trained weights become an inference architecture.
/// </summary>
public abstract class SaeDecomposer<TOptions> : Decomposer<TOptions> where TOptions : SaeOptions, new()
{
    protected sealed override Decomposition Fit(DecomposeContext context, TOptions options) =>
        SaeTrainer.Train(context, options, this);

    /// <summary>The input sites (concatenated) and the target; by default an autoencoder on the activations.</summary>
    protected internal virtual (IReadOnlyList<IActivationSource> Inputs, IActivationSource? Target) Data(DecomposeContext context) =>
        ([context.Activations], null);

    /// <summary>Checks options against the data's sizes (after d_sae is known); throws <see cref="MechanistInputException"/>.</summary>
    protected internal virtual void Check(SaeShape shape, TOptions options) { }

    protected internal virtual IEnumerable<ExtraParameter> ExtraParameters(SaeShape shape, TOptions options) => [];

    /// <summary>Whether the architecture has b_enc.</summary>
    protected internal virtual bool HasEncoderBias => true;

    /// <summary>Whether b_dec is subtracted from the input before encoding (needs d_in = d_out).</summary>
    protected internal virtual bool CentersInput => true;

    /// <summary>Whether decoder rows are kept at unit norm (the gradient's component along each row is removed first).</summary>
    protected internal virtual bool UnitNormDecoder => false;

    /// <summary>The norm decoder rows start with (0.1 for L1 variants, after Conerly et al. 2024).</summary>
    protected internal virtual double DecoderInitNorm => UnitNormDecoder ? 1.0 : 0.1;

    /// <summary>Whether the encoder starts as the decoder's transpose (false: a random encoder and a zero decoder).</summary>
    protected internal virtual bool TiedInit => true;

    /// <summary>The sparsity coefficient before warm-up (0 for variants without a penalty).</summary>
    protected internal virtual double SparsityCoefficient(TOptions options) =>
        options is PenalizedSaeOptions p ? p.SparsityCoefficient : 0;

    /// <summary>
    /// Whether target_l0 may drive the sparsity coefficient below zero (a reward for firing). Only for a penalty that
    /// counts firings (bounded, so a negative coefficient cannot blow activations up); an L1 penalty stays positive.
    /// </summary>
    protected internal virtual bool SignedSparsityCoefficient => false;

    /// <summary>Resampling period for dead latents (0 = off).</summary>
    protected internal virtual int ResampleEvery(TOptions options) => options is PenalizedSaeOptions p ? p.ResampleEvery : 0;

    /// <summary>
    /// A factor on the learning rate of one trained tensor (W_enc_T, b_enc, W_dec, b_dec or an extra parameter). Adam
    /// moves each parameter by about lr per step whatever its gradient's size, so a parameter that must travel far
    /// within the step budget, such as JumpReLU's log-threshold, needs a larger factor.
    /// </summary>
    protected internal virtual double LearningRateScale(string parameter, TOptions options) =>
        options is PenalizedSaeOptions p && parameter == ThresholdParameter ? p.ThresholdLrScale : 1.0;

    /// <summary>The trained tensor that sets each latent's firing threshold (penalised variants scale its learning rate).</summary>
    protected internal virtual string ThresholdParameter => "b_enc";

    /// <summary>Initial values of non-trained state (checkpointed).</summary>
    protected internal virtual IReadOnlyDictionary<string, Tensor> InitialBuffers(SaeShape shape, TOptions options) =>
        new Dictionary<string, Tensor>();

    /// <summary>The loss of one batch: encode, activate, decode, penalise. Runs inside the step's dispose scope.</summary>
    protected internal abstract StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, TOptions options);

    /// <summary>The inference decomposition from the folded weights.</summary>
    protected internal abstract Decomposition Export(SaeWeights weights, SaeShape shape, TOptions options);

    /// <summary>b_dec subtracted from the input when <see cref="CentersInput"/> (else the input itself).</summary>
    protected Tensor Centered(SaeParameters p, Tensor x) => CentersInput ? x - p.DecoderBias : x;

    /// <summary>Σ_b ‖y − ŷ‖² / B: the squared error summed over features, averaged over rows (SAELens's MSE term).</summary>
    protected static Tensor SquaredError(Tensor y, Tensor yHat) => (y - yHat).Squared().sum(1).mean();

    /// <summary>
    /// Σ_b Σ_i f_bi w_i / B, the L1 penalty weighted per latent (by decoder norms), as (Σ_b f_b) · w / B: no [B, d_sae]
    /// product is formed or kept for the backward pass.
    /// </summary>
    protected static Tensor WeightedL1(Tensor latents, Tensor weights) => latents.sum([0]).dot(weights).Over(latents.shape[0]);

    /// <summary>b_dec + f W_dec for dense latents f [B, d_sae], in one fused product.</summary>
    protected static Tensor DecodeDense(SaeParameters p, Tensor latents) => addmm(p.DecoderBias, latents, p.DecoderRows, 1, 1);

    /// <summary>Which latents fired anywhere in the batch ([d_sae] bool) and the mean number firing per row.</summary>
    protected static (Tensor Fired, Tensor L0) Activity(Tensor latents)
    {
        using var _ = no_grad();
        var active = latents.detach().Positive();
        // count_nonzero, not sum: summing a bool tensor first widens it to int64, a [B, d_sae] temporary 8× its size.
        return (active.any(0), active.count_nonzero().to(ScalarType.Float32).Over(latents.shape[0]));
    }
}
