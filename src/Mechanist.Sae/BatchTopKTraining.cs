using Mechanist.Decomposers;
using TorchSharp;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Sae;

/// <summary>The BatchTopK training step (shared by BatchTopK and Matryoshka SAEs) and its export as JumpReLU.</summary>
public static class BatchTopKTraining
{
    /// <summary>The buffer holding θ, the moving average of the smallest selected activation (float64, [1]).</summary>
    public const string ThresholdBuffer = "threshold";

    /// <summary>
    /// One BatchTopK step: select, decode, FVU (or, with <paramref name="levels"/>, the sum of the nested prefix
    /// FVUs of a Matryoshka SAE), AuxK, and the threshold update.
    /// </summary>
    public static StepOutput Step(SaeParameters p, TrainingBatch batch, StepState state, TopKFamilyOptions options, double thresholdLr,
        IReadOnlyList<int>? levels, bool centersInput)
    {
        bool sparse = options.SparseDecode;
        var centered = centersInput ? batch.X - p.DecoderBias : batch.X;
        var encoded = TopKFamily.Encode(p, centered, options.K, batchWide: true, state, options.AuxkK, options.AuxkCoefficient, sparse);
        var selected = encoded.Selected;
        var active = TopKFamily.ActiveValues(p, selected, encoded.Pre, centered, sparse, centersInput);
        var terms = new Dictionary<string, Tensor>();
        Tensor reconstruction, loss;
        var variance = batch.TotalVariance.AtLeast(1e-12);
        if (levels is null)
        {
            reconstruction = TopKFamily.Decode(p, selected, active, sparse).Plus(p.DecoderBias);
            loss = (batch.Y - reconstruction).Squared().sum() / variance;
        }
        else
        {
            // Nested prefixes: x̂_m = b_dec + Σ over latents below width m. Each level is decoded once and the
            // prefixes are running sums, so all levels together cost one decode.
            reconstruction = p.DecoderBias.expand(batch.Y.shape[0], -1);
            loss = zeros(1, device: batch.Y.device).squeeze();
            long from = 0;
            foreach (var width in levels)
            {
                using var first = from.ToScalar();
                using var end = width.ToScalar();
                var keep = selected.Columns.ge(first).logical_and(selected.Columns.lt(end)).nonzero().reshape(-1);
                var level = new SparseLatents(selected.Rows.index_select(0, keep), selected.Columns.index_select(0, keep),
                    selected.Values.index_select(0, keep), selected.BatchSize, selected.Latents);
                reconstruction = reconstruction.Plus(TopKFamily.Decode(p, level, active.index_select(0, keep), sparse));
                var levelLoss = (batch.Y - reconstruction).Squared().sum() / variance;
                terms[$"fvu_{width}"] = levelLoss.detach();
                loss = loss.Plus(levelLoss);
                from = width;
            }
        }
        var auxk = TopKFamily.AuxK(p, encoded, centered, batch, reconstruction, state, options.AuxkK, options.AuxkCoefficient, sparse, centersInput);
        terms["auxk"] = auxk.detach();
        using (no_grad())
        {
            var positive = active.detach().masked_select(active.detach().Positive());
            if (positive.numel() > 0)
            {
                var threshold = p.Buffers[ThresholdBuffer];
                var updated = threshold.Times(1 - thresholdLr).Plus(positive.min().to(ScalarType.Float64).Times(thresholdLr));
                p.SetBuffer(ThresholdBuffer, updated);
            }
            terms["threshold"] = p.Buffers[ThresholdBuffer].to(ScalarType.Float32).squeeze();
        }
        return new StepOutput(loss.Plus(auxk), reconstruction.detach(), TopKFamily.Fired(selected, active), TopKFamily.L0(selected, active), terms);
    }

    /// <summary>JumpReLU with θ for every latent: BatchTopK's inference form.</summary>
    public static Decomposition AsJumpRelu(SaeWeights w, SaeShape shape)
    {
        var theta = w.Buffers[ThresholdBuffer].to(ScalarType.Float32).expand(shape.DSae);
        return new JumpReluSae(w.WEnc, w.BEnc!, w.WDec, w.BDec, theta);
    }
}
