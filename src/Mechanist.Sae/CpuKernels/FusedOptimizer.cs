using System.Numerics;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Mechanist.Sae.CpuKernels;

/// <summary>
/// The trainer's optimiser step on the CPU in two passes over each parameter instead of a dozen: the first removes
/// the gradient's component along unit-norm rows and sums the squared gradient (for global clipping); the second
/// scales the gradient by the clip factor and applies Adam (m, v, bias correction, the update) element by element,
/// and renormalises unit-norm rows while each row is still in cache. Same arithmetic as the libtorch-op version,
/// element for element; partial sums are taken over fixed chunks and added in order, so results do not depend on
/// the thread count.
/// </summary>
internal static unsafe class FusedOptimizer
{
    const long Chunk = 16_384;

    /// <summary>Whether every tensor of a parameter (value, gradient, moments) suits the kernels.</summary>
    public static bool Fits(Tensor parameter, Tensor? grad, Tensor m, Tensor v) =>
        TensorMemory.Fits(parameter) && TensorMemory.Fits(grad) && TensorMemory.Fits(m) && TensorMemory.Fits(v)
        && grad!.numel() == parameter.numel();

    /// <summary>g_i ← g_i − ⟨g_i, w_i⟩ w_i for each row i (w_i of unit norm).</summary>
    public static void RemoveParallel(Tensor grad, Tensor rows)
    {
        long n = rows.shape[0], d = rows.shape[1];
        float* g = TensorMemory.Floats(grad), w = TensorMemory.Floats(rows);
        CpuParallel.For(n, 64, (from, to) =>
        {
            for (long r = from; r < to; r++)
            {
                float* gr = g + r * d, wr = w + r * d;
                float dot = SparseKernels.Dot(gr, wr, d);
                AddScaled(gr, wr, -dot, d);
            }
        });
    }

    /// <summary>Σ g² over the tensor, in float64 over fixed chunks added in order.</summary>
    public static double SumSquares(Tensor grad)
    {
        long n = grad.numel();
        float* g = TensorMemory.Floats(grad);
        long chunks = (n + Chunk - 1) / Chunk;
        var partial = new double[chunks];
        CpuParallel.For(chunks, 4, (from, to) =>
        {
            for (long c = from; c < to; c++)
            {
                long start = c * Chunk, count = Math.Min(Chunk, n - start);
                partial[c] = SparseKernels.Dot(g + start, g + start, count);
            }
        });
        double sum = 0;
        foreach (var p in partial) sum += p;
        return sum;
    }

    /// <summary>
    /// Adam on one parameter with the gradient scaled by <paramref name="gradScale"/> (the clip factor):
    /// m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g², p ← p − (lr / c₁) m / (√(v / c₂) + ε); then, with
    /// <paramref name="normalizeRows"/>, each row of p divided by its norm.
    /// </summary>
    public static void Adam(Tensor parameter, Tensor grad, Tensor m, Tensor v, float gradScale, double lr, double beta1, double beta2,
        double correction1, double correction2, double epsilon, bool normalizeRows)
    {
        long rows = parameter.dim() >= 2 ? parameter.shape[0] : 1;
        long d = parameter.numel() / Math.Max(1, rows);
        if (!normalizeRows)
        {
            // Element-wise: any split works; fixed chunks keep big 1-D tensors parallel.
            rows = (parameter.numel() + Chunk - 1) / Chunk;
            d = Chunk;
        }
        long total = parameter.numel();
        float* p = TensorMemory.Floats(parameter), g = TensorMemory.Floats(grad), mp = TensorMemory.Floats(m), vp = TensorMemory.Floats(v);
        float b1 = (float)beta1, b2 = (float)beta2, a1 = (float)(1 - beta1), a2 = (float)(1 - beta2);
        float c2 = (float)correction2, eps = (float)epsilon, step = (float)(-lr / correction1);
        CpuParallel.For(rows, normalizeRows ? 64 : 1, (from, to) =>
        {
            for (long r = from; r < to; r++)
            {
                long start = r * d, count = Math.Min(d, total - start);
                if (count <= 0) continue;
                Update(p + start, g + start, mp + start, vp + start, count, gradScale, b1, a1, b2, a2, c2, eps, step);
                if (normalizeRows)
                {
                    float norm = MathF.Sqrt(SparseKernels.Dot(p + start, p + start, count));
                    Divide(p + start, Math.Max(norm, 1e-12f), count);
                }
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Update(float* p, float* g, float* m, float* v, long n, float scale, float b1, float a1, float b2, float a2,
        float c2, float eps, float step)
    {
        int width = Vector<float>.Count;
        var vs = new Vector<float>(scale);
        var vb1 = new Vector<float>(b1);
        var va1 = new Vector<float>(a1);
        var vb2 = new Vector<float>(b2);
        var va2 = new Vector<float>(a2);
        var vc2 = new Vector<float>(c2);
        var veps = new Vector<float>(eps);
        var vstep = new Vector<float>(step);
        long i = 0;
        for (; i <= n - width; i += width)
        {
            var gi = Unsafe.ReadUnaligned<Vector<float>>(g + i) * vs;
            var mi = Unsafe.ReadUnaligned<Vector<float>>(m + i) * vb1 + gi * va1;
            var vi = Unsafe.ReadUnaligned<Vector<float>>(v + i) * vb2 + gi * gi * va2;
            Unsafe.WriteUnaligned(m + i, mi);
            Unsafe.WriteUnaligned(v + i, vi);
            var denominator = Vector.SquareRoot(vi / vc2) + veps;
            Unsafe.WriteUnaligned(p + i, Unsafe.ReadUnaligned<Vector<float>>(p + i) + vstep * (mi / denominator));
        }
        for (; i < n; i++)
        {
            float gi = g[i] * scale;
            float mi = m[i] * b1 + gi * a1;
            float vi = v[i] * b2 + gi * gi * a2;
            m[i] = mi;
            v[i] = vi;
            p[i] += step * (mi / (MathF.Sqrt(vi / c2) + eps));
        }
    }

    static void AddScaled(float* output, float* source, float weight, long d)
    {
        int width = Vector<float>.Count;
        var w = new Vector<float>(weight);
        long i = 0;
        for (; i <= d - width; i += width)
            Unsafe.WriteUnaligned(output + i, Unsafe.ReadUnaligned<Vector<float>>(output + i) + Unsafe.ReadUnaligned<Vector<float>>(source + i) * w);
        for (; i < d; i++) output[i] += source[i] * weight;
    }

    static void Divide(float* values, float divisor, long d)
    {
        int width = Vector<float>.Count;
        var f = new Vector<float>(divisor);
        long i = 0;
        for (; i <= d - width; i += width)
            Unsafe.WriteUnaligned(values + i, Unsafe.ReadUnaligned<Vector<float>>(values + i) / f);
        for (; i < d; i++) values[i] /= divisor;
    }
}
