using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Sae;

/// <summary>The geometric median argmin_y Σ_i ‖x_i − y‖ of a set of rows, by Weiszfeld's iteration in float64.</summary>
public static class GeometricMedian
{
    /// <summary>Starts at the mean; stops after <paramref name="maxIterations"/> or when y moves less than <paramref name="tolerance"/>·‖y‖.</summary>
    public static Tensor Compute(Tensor rows, int maxIterations = 100, double tolerance = 1e-7)
    {
        using var scope = NewDisposeScope();
        var x = rows.to(ScalarType.Float64);
        var y = x.mean([0]);
        for (int i = 0; i < maxIterations; i++)
        {
            using var step = NewDisposeScope();
            var distances = (x - y).norm(dim: 1).AtLeast(1e-12);
            var weights = 1.0.Dividing(distances);
            var next = (weights.unsqueeze(1) * x).sum(dim: 0) / weights.sum();
            double moved = (next - y).norm().item<double>();
            double size = Math.Max(next.norm().item<double>(), 1e-12);
            step.MoveToOuter(next);
            y = next;
            if (moved <= tolerance * size) break;
        }
        return y.to(rows.dtype).MoveToOuterDisposeScope();
    }
}
