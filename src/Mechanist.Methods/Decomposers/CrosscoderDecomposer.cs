using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Sae;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Methods.Decomposers;

/// <summary>
/// Acausal crosscoder (Lindsey et al. 2024): one dictionary read from and written to several sites (layers) at once.
/// f = ReLU(Σ_l a^l W_enc^l + b_enc), â^l = f W_dec^l + b_dec^l, L = Σ_l ‖a^l − â^l‖² + λ Σ_i f_i Σ_l ‖W_dec,i^l‖:
/// the penalty sums the decoder norms over sites, so a latent pays for every site it writes to. Sites come from
/// <see cref="DecomposeContext.Sites"/> (one site when absent); each site is normalised on its own. Saved as
/// architecture <c>crosscoder</c>.
/// </summary>
[Decomposer("crosscoder",
    Title = "Acausal crosscoder over several sites",
    Summary = "One dictionary over several row-aligned sites (layers): f = ReLU(sum_l a^l W_enc^l + b_enc), per-site decoders; L1 weighted by the sum over sites of the decoder norms. Saved as architecture 'crosscoder'.",
    Reference = "Lindsey et al. 2024, Sparse Crosscoders for Cross-Layer Features and Model Diffing.",
    HelpLink = "docs/methods/crosscoder.md")]
public sealed class CrosscoderDecomposer : SaeDecomposer<CrosscoderOptions>
{
    protected internal override (IReadOnlyList<IActivationSource> Inputs, IActivationSource? Target) Data(DecomposeContext context) =>
        (context.Sites is { Count: > 0 } sites ? sites : [context.Activations], null);

    protected internal override bool CentersInput => false;

    protected internal override void Check(SaeShape shape, CrosscoderOptions options)
    {
        if (shape.InputSites.Distinct().Count() > 1)
            throw new MechanistInputException(
                $"method 'crosscoder' needs sites of equal width; got widths {string.Join(", ", shape.InputSites)}.");
    }

    protected internal override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, CrosscoderOptions options)
    {
        var latents = nn.functional.linear(batch.X, p.EncoderRows, p.EncoderBias).relu_();
        var reconstruction = DecodeDense(p, latents);
        var mse = SquaredError(batch.Y, reconstruction);
        long sites = state.Shape.InputSites.Count;
        var norms = p.DecoderRows.view(p.Latents, sites, -1).norm(dim: 2).sum(1);
        var penalty = WeightedL1(latents, norms);
        var (fired, l0) = Activity(latents);
        return new StepOutput(mse.Plus(penalty.Times(state.SparsityCoefficient)), reconstruction.detach(), fired, l0,
            new Dictionary<string, Tensor> { ["mse"] = mse.detach(), ["l1"] = penalty.detach() });
    }

    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, CrosscoderOptions options) =>
        new Crosscoder(w.WEnc, w.BEnc!, w.WDec, w.BDec, shape.InputSites.Count, shape.HookNames);
}

public sealed record CrosscoderOptions : PenalizedSaeOptions
{
    public CrosscoderOptions() => SparsityCoefficient = 5.0;
}
