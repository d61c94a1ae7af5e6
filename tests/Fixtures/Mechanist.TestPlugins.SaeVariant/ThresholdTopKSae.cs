using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Options;
using Mechanist.Sae;
using static TorchSharp.torch;

namespace Mechanist.TestPlugins.SaeVariant;

/// <summary>TopK SAE with AuxK whose inference also drops activations below θ, the moving average of the smallest kept one.</summary>
[Decomposer("test.sae.topk-threshold", Title = "TopK SAE with a learnt activation threshold (plugin variant)",
    Summary = "TopK + AuxK training; theta <- (1 - r) theta + r min(kept activation); inference keeps the top k above theta. Saved as 'topk_threshold'.",
    Reference = "Gao et al. 2024 (TopK, AuxK); Bussmann et al. 2024 (the threshold's moving average).",
    HelpLink = "tests/Fixtures/Mechanist.TestPlugins.SaeVariant/README.md")]
public sealed class ThresholdTopKSaeDecomposer : SaeDecomposer<ThresholdTopKOptions>
{
    protected override bool UnitNormDecoder => true;

    protected override void Check(SaeShape shape, ThresholdTopKOptions o)
    {
        if (o.K > shape.DSae) throw new MechanistInputException($"option 'k' is {o.K}, larger than d_sae = {shape.DSae}.");
    }

    protected override IReadOnlyDictionary<string, Tensor> InitialBuffers(SaeShape shape, ThresholdTopKOptions o) =>
        new Dictionary<string, Tensor> { ["threshold"] = zeros(1, ScalarType.Float64) };

    protected override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, ThresholdTopKOptions o)
    {
        var centered = Centered(p, batch.X);
        var encoded = TopKFamily.Encode(p, centered, o.K, batchWide: false, state, o.AuxkK, o.AuxkCoefficient, o.SparseDecode);
        var active = TopKFamily.ActiveValues(p, encoded.Selected, encoded.Pre, centered, o.SparseDecode, CentersInput);
        var reconstruction = TopKFamily.Decode(p, encoded.Selected, active, o.SparseDecode).Plus(p.DecoderBias);
        var fvu = batch.Fvu(reconstruction);
        var auxk = TopKFamily.AuxK(p, encoded, centered, batch, reconstruction, state, o.AuxkK, o.AuxkCoefficient, o.SparseDecode, CentersInput);
        using (no_grad())
        {
            var kept = active.detach().masked_select(active.detach().Positive());
            if (kept.numel() > 0)
                p.SetBuffer("threshold", p.Buffers["threshold"].Times(1 - o.ThresholdLr).Plus(kept.min().to(ScalarType.Float64).Times(o.ThresholdLr)));
        }
        return new StepOutput(fvu + auxk, reconstruction.detach(), TopKFamily.Fired(encoded.Selected, active),
            TopKFamily.L0(encoded.Selected, active), new Dictionary<string, Tensor> { ["auxk"] = auxk.detach() });
    }

    protected override Decomposition Export(SaeWeights w, SaeShape shape, ThresholdTopKOptions o) =>
        new ThresholdTopKSae(w.WEnc, w.BEnc!, w.WDec, w.BDec, o.K, w.Buffers["threshold"].to(ScalarType.Float32).expand(shape.DSae));
}

public sealed record ThresholdTopKOptions : TopKFamilyOptions
{
    [Option("Rate r of the threshold's moving average theta <- (1 - r) theta + r min(kept activation).")]
    public double ThresholdLr { get; init; } = 0.01;

    public override IEnumerable<OptionError> Validate() =>
        base.Validate().Concat(ThresholdLr is > 0 and <= 1 ? [] : [new OptionError("threshold_lr", $"must be in (0, 1], got {ThresholdLr}")]);
}
