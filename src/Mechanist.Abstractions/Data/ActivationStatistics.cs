using static TorchSharp.torch;

namespace Mechanist;

/// <summary>Streaming statistics of an activation source, accumulated in float64 with bounded memory.</summary>
public static class ActivationStatistics
{
    /// <summary>
    /// The mean [d] and the covariance [d, d] (divided by N − 1; by N when N = 1), in float64 on
    /// <paramref name="device"/>. One pass; centred on the first batch's mean for numerical stability.
    /// </summary>
    public static (Tensor Mean, Tensor Covariance) MeanAndCovariance(IActivationSource source, int batchSize, Device device,
        CancellationToken cancellation = default)
    {
        int d = source.Dimension;
        var shift = (Tensor?)null;
        var sum = zeros(d, ScalarType.Float64, device);
        var scatter = zeros(d, d, ScalarType.Float64, device);
        long n = 0;
        foreach (var batch in source.ReadBatches(batchSize))
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = NewDisposeScope();
            var x = batch.to(ScalarType.Float64, device);
            batch.Dispose();
            if (shift is null)
            {
                shift = x.mean([0]);
                step.MoveToOuter(shift);
            }
            var c = x - shift;
            sum.add_(c.sum(dim: 0));
            scatter.add_(c.t().matmul(c));
            n += x.shape[0];
        }
        if (n == 0 || shift is null) throw new MechanistInputException($"{source.Name}: no activations to read.");
        var meanShifted = sum / n;
        var covariance = (scatter - n * meanShifted.outer(meanShifted)) / Math.Max(1, n - 1);
        return (meanShifted + shift, covariance);
    }
}
