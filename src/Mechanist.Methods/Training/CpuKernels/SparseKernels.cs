using System.Numerics;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Mechanist.Methods.Training.CpuKernels;

/// <summary>
/// The sparse products of a TopK step on the CPU, row by row with vector instructions and without materialising
/// the gathered rows: the decoder product Σ_n f_n W[col_n], its gradients, and the encoder's gradient in the active
/// rows. Each output row is summed by one thread in entry order, so results are reproducible.
/// </summary>
internal static unsafe class SparseKernels
{
    /// <summary>
    /// out[t] = Σ_{n: targets[n] = t} weights[n] · source[sources[n]], [outRows, d]; rows no entry targets are 0.
    /// </summary>
    public static Tensor GatherSum(Tensor targets, Tensor sources, Tensor weights, Tensor source, long outRows)
    {
        using var _ = no_grad();
        var src = source.detach().contiguous();
        var w = weights.detach().contiguous();
        var t = targets.contiguous();
        var s = sources.contiguous();
        long n = t.shape[0], d = src.shape[1];
        var result = empty(outRows, d, ScalarType.Float32);
        if (outRows == 0) return result;
        long* tp = TensorMemory.Longs(t), sp = TensorMemory.Longs(s);
        float* wp = TensorMemory.Floats(w), srcp = TensorMemory.Floats(src), outp = TensorMemory.Floats(result);

        // Entries grouped by target (a stable counting sort).
        var start = new long[outRows + 1];
        for (long i = 0; i < n; i++)
        {
            long target = tp[i];
            if ((ulong)target >= (ulong)outRows) throw new IndexOutOfRangeException($"target {target} outside [0, {outRows})");
            start[target + 1]++;
        }
        for (long r = 0; r < outRows; r++) start[r + 1] += start[r];
        var order = new long[n];
        var next = (long[])start.Clone();
        for (long i = 0; i < n; i++) order[next[tp[i]]++] = i;
        long sourceRows = src.shape[0];
        for (long i = 0; i < n; i++)
            if ((ulong)sp[i] >= (ulong)sourceRows) throw new IndexOutOfRangeException($"source {sp[i]} outside [0, {sourceRows})");

        CpuParallel.For(outRows, Math.Max(1, 4096 / Math.Max(1, n / outRows + 1)), (from, to) =>
        {
            fixed (long* orderp = order)
                for (long r = from; r < to; r++)
                {
                    float* o = outp + r * d;
                    long first = start[r], last = start[r + 1];
                    if (first == last)
                    {
                        new Span<float>(o, checked((int)d)).Clear();
                        continue;
                    }
                    long e = orderp[first];
                    Scale(o, srcp + sp[e] * d, wp[e], d);
                    for (long j = first + 1; j < last; j++)
                    {
                        e = orderp[j];
                        AddScaled(o, srcp + sp[e] * d, wp[e], d);
                    }
                }
        });
        return result;
    }

    /// <summary>out[n] = ⟨a[rows[n]], b[cols[n]]⟩.</summary>
    public static Tensor SampledDot(Tensor a, Tensor b, Tensor rows, Tensor cols)
    {
        using var _ = no_grad();
        var ac = a.detach().contiguous();
        var bc = b.detach().contiguous();
        var r = rows.contiguous();
        var c = cols.contiguous();
        long n = r.shape[0], d = ac.shape[1];
        var result = empty(n, ScalarType.Float32);
        float* ap = TensorMemory.Floats(ac), bp = TensorMemory.Floats(bc), outp = TensorMemory.Floats(result);
        long* rp = TensorMemory.Longs(r), cp = TensorMemory.Longs(c);
        long aRows = ac.shape[0], bRows = bc.shape[0];
        for (long i = 0; i < n; i++)
            if ((ulong)rp[i] >= (ulong)aRows || (ulong)cp[i] >= (ulong)bRows)
                throw new IndexOutOfRangeException($"entry ({rp[i]}, {cp[i]}) outside [{aRows}, {bRows}]");
        CpuParallel.For(n, 2048, (from, to) =>
        {
            for (long i = from; i < to; i++) outp[i] = Dot(ap + rp[i] * d, bp + cp[i] * d, d);
        });
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Scale(float* output, float* source, float weight, long d)
    {
        int width = Vector<float>.Count;
        var w = new Vector<float>(weight);
        long i = 0;
        for (; i <= d - width; i += width)
            Unsafe.WriteUnaligned(output + i, Unsafe.ReadUnaligned<Vector<float>>(source + i) * w);
        for (; i < d; i++) output[i] = source[i] * weight;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddScaled(float* output, float* source, float weight, long d)
    {
        int width = Vector<float>.Count;
        var w = new Vector<float>(weight);
        long i = 0;
        for (; i <= d - width; i += width)
            Unsafe.WriteUnaligned(output + i,
                Vector.FusedMultiplyAdd(Unsafe.ReadUnaligned<Vector<float>>(source + i), w, Unsafe.ReadUnaligned<Vector<float>>(output + i)));
        for (; i < d; i++) output[i] = MathF.FusedMultiplyAdd(source[i], weight, output[i]);
    }

    /// <summary>⟨a, b⟩ with four vector accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot(float* a, float* b, long d)
    {
        int width = Vector<float>.Count;
        Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
        long i = 0;
        for (; i <= d - 4 * width; i += 4 * width)
        {
            s0 = Vector.FusedMultiplyAdd(Unsafe.ReadUnaligned<Vector<float>>(a + i), Unsafe.ReadUnaligned<Vector<float>>(b + i), s0);
            s1 = Vector.FusedMultiplyAdd(Unsafe.ReadUnaligned<Vector<float>>(a + i + width), Unsafe.ReadUnaligned<Vector<float>>(b + i + width), s1);
            s2 = Vector.FusedMultiplyAdd(Unsafe.ReadUnaligned<Vector<float>>(a + i + 2 * width), Unsafe.ReadUnaligned<Vector<float>>(b + i + 2 * width), s2);
            s3 = Vector.FusedMultiplyAdd(Unsafe.ReadUnaligned<Vector<float>>(a + i + 3 * width), Unsafe.ReadUnaligned<Vector<float>>(b + i + 3 * width), s3);
        }
        for (; i <= d - width; i += width)
            s0 = Vector.FusedMultiplyAdd(Unsafe.ReadUnaligned<Vector<float>>(a + i), Unsafe.ReadUnaligned<Vector<float>>(b + i), s0);
        float sum = Vector.Sum((s0 + s1) + (s2 + s3));
        for (; i < d; i++) sum = MathF.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }
}
