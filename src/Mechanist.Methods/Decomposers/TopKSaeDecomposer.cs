using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Sae;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Methods.Decomposers;

/// <summary>
/// TopK SAE (Gao et al. 2024): z = (x − b_dec) W_enc + b_enc, f keeps each row's k largest z (through a ReLU),
/// x̂ = f W_dec + b_dec with unit-norm decoder rows. Loss: the batch FVU plus AuxK on dead latents. Decoding
/// gathers the k active decoder rows and the gradients touch only active latents. Saved as SAELens <c>topk</c>.
/// </summary>
[Decomposer("sae.topk",
    Title = "TopK sparse autoencoder with AuxK",
    Summary = "f = TopK_k(ReLU((x - b_dec) W_enc + b_enc)), unit-norm decoder; loss FVU + alpha AuxK(dead latents). Sparse decode and sparse gradients. Saved as SAELens 'topk'.",
    Reference = "Gao et al. 2024, Scaling and evaluating sparse autoencoders; Makhzani & Frey 2013, k-Sparse Autoencoders.",
    HelpLink = "docs/methods/sae.topk.md")]
public sealed class TopKSaeDecomposer : SaeDecomposer<TopKSaeOptions>
{
    protected internal override bool UnitNormDecoder => true;

    protected internal override void Check(SaeShape shape, TopKSaeOptions options) => TopKChecks.RequireKWithin(shape, options);

    protected internal override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, TopKSaeOptions options)
    {
        bool sparse = options.SparseDecode;
        var centered = Centered(p, batch.X);
        var encoded = TopKFamily.Encode(p, centered, options.K, batchWide: false, state, options.AuxkK, options.AuxkCoefficient, sparse);
        var selected = encoded.Selected;
        var active = TopKFamily.ActiveValues(p, selected, encoded.Pre, centered, sparse, CentersInput);
        var reconstruction = TopKFamily.Decode(p, selected, active, sparse).Plus(p.DecoderBias);
        var fvu = batch.Fvu(reconstruction);
        var auxk = TopKFamily.AuxK(p, encoded, centered, batch, reconstruction, state, options.AuxkK, options.AuxkCoefficient, sparse, CentersInput);
        return new StepOutput(fvu.Plus(auxk), reconstruction.detach(), TopKFamily.Fired(selected, active), TopKFamily.L0(selected, active),
            new Dictionary<string, Tensor> { ["auxk"] = auxk.detach() });
    }

    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, TopKSaeOptions options) =>
        new TopKSae(w.WEnc, w.BEnc!, w.WDec, w.BDec, options.K);
}

public sealed record TopKSaeOptions : TopKFamilyOptions;

/// <summary>Checks shared by the TopK variants.</summary>
static class TopKChecks
{
    public static void RequireKWithin(SaeShape shape, TopKFamilyOptions options)
    {
        if (options.K > shape.DSae)
            throw new MechanistInputException(
                $"option 'k' is {options.K}, larger than the dictionary: d_sae = {shape.DSae} (d_sae {(options.DSae > 0 ? "set" : $"= expansion_factor {options.ExpansionFactor} x d_in {shape.DIn}")}).");
    }
}
