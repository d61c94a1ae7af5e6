using static Mechanist.Methods.Attribution.AttributionCore;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>
/// The batched path integral behind integrated gradients: Σ_k w_k ∂M/∂p(α_k) for every example, with the
/// steps × examples points evaluated in chunks of <c>internalBatchSize</c> rows (one forward and one backward per chunk).
/// </summary>
internal static class PathIntegrator
{
    /// <param name="batch">Number of examples B.</param>
    /// <param name="alphas">Quadrature points α_k.</param>
    /// <param name="weights">Quadrature weights w_k.</param>
    /// <param name="internalBatchSize">Rows per forward/backward pass; 0 evaluates all steps × examples at once.</param>
    /// <param name="point">(example index [R], α [R]) → the path points [R, …] for those rows.</param>
    /// <param name="metric">(example index [R], points requiring grad) → the metric of those rows [R].</param>
    /// <returns>Σ_k w_k ∂M_b/∂p evaluated at p(α_k), per example: [B, …point shape].</returns>
    public static Tensor IntegrateGradients(long batch, double[] alphas, double[] weights, int internalBatchSize,
        Func<Tensor, Tensor, Tensor> point, Func<Tensor, Tensor, Tensor> metric, CancellationToken cancellation)
    {
        long rows = alphas.Length * batch;
        long chunk = internalBatchSize > 0 ? internalBatchSize : rows;
        Tensor? total = null;
        using var grad = enable_grad();
        for (long r0 = 0; r0 < rows; r0 += chunk)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            long r1 = Math.Min(rows, r0 + chunk);
            var r = arange(r0, r1, dtype: ScalarType.Int64);
            var example = r.remainder(batch);
            var step = r.div(batch, rounding_mode: RoundingMode.floor);
            var alpha = tensor(alphas, ScalarType.Float64).index_select(0, step);
            var weight = tensor(weights, ScalarType.Float64).index_select(0, step);
            var p = point(example, alpha).detach().requires_grad_(true);
            var m = metric(example, p);
            if (m.ndim != 1 || m.shape[0] != r1 - r0)
                throw new InvalidOperationException($"the path metric returned shape {Shape(m)} for {r1 - r0} rows.");
            var g = Gradient(m.sum(), p);
            var shape = new long[g.ndim];
            Array.Fill(shape, 1L);
            shape[0] = r1 - r0;
            var weighted = g * weight.to(g.dtype, g.device).view(shape);
            if (total is null)
            {
                var size = g.shape.ToArray();
                size[0] = batch;
                total = zeros(size, g.dtype, g.device).MoveToOuterDisposeScope();
            }
            total.index_add_(0, example.to(g.device), weighted.detach(), 1);
        }
        return total!;
    }

    /// <summary>Rows of <paramref name="t"/> for the given example indices, interpolated: from + α (to − from).</summary>
    public static Tensor Interpolate(Tensor from, Tensor to, Tensor example, Tensor alpha)
    {
        var idx = example.to(from.device);
        var a0 = from.index_select(0, idx);
        var a1 = to.index_select(0, idx);
        var shape = new long[from.ndim];
        Array.Fill(shape, 1L);
        shape[0] = idx.shape[0];
        var a = alpha.to(from.dtype, from.device).view(shape);
        return a0 + a * (a1 - a0);
    }
}
