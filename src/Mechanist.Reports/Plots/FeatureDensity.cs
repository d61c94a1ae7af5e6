using Mechanist.Decomposers;
using static TorchSharp.torch;

namespace Mechanist.Reports.Plots;

/// <summary>Each feature's firing frequency on a set of activations: the input of the feature-density histogram.</summary>
public static class FeatureDensity
{
    /// <summary>Fraction of the rows of <paramref name="source"/> on which each latent is non-zero, one streamed pass.</summary>
    public static double[] Compute(Decomposition decomposition, IActivationSource source, int batchSize = 4096, Device? device = null)
    {
        if (decomposition.DIn != source.Dimension)
            throw new MechanistInputException($"{source.Name}: activations have dimension {source.Dimension} but the decomposition's d_in is {decomposition.DIn}.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var firing = zeros(decomposition.DSae, ScalarType.Float64, device ?? CPU);
        long n = 0;
        foreach (var batch in source.ReadBatches(batchSize))
        {
            using var step = NewDisposeScope();
            var f = decomposition.Encode(batch.to(device ?? CPU));
            firing.add_((f != 0).to(ScalarType.Float64).sum(dim: 0));
            n += batch.shape[0];
            batch.Dispose(); // read before this step's scope opened: freed here, not at the end of the pass
        }
        if (n == 0) throw new MechanistInputException($"{source.Name}: no activation rows.");
        return (firing / n).cpu().data<double>().ToArray();
    }
}
