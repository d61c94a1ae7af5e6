using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace Mechanist.Sae.CpuKernels;

/// <summary>
/// The sparse products of a TopK step on the CPU, with vector instructions and without materialising gathered rows:
/// the decoder product x̂_b = Σ_n f_n W[c_n] (entries grouped by row), and the backward products grouped by latent,
/// where a latent's decoder (or encoder) row stays in cache while its entries stream past: the values' gradient
/// ⟨g_b, W[c]⟩ and the decoder's gradient Σ_n f_n g_b in one pass, the encoder's gradient Σ_n g_n x_b in another.
/// Each output row is summed by one thread in entry order, so results are reproducible.
/// </summary>
internal static unsafe class SparseKernels
{
    /// <summary>Entries ahead whose rows are prefetched (random rows defeat the hardware prefetcher).</summary>
    const int PrefetchDistance = 3;

    /// <summary>The entries of a sparse matrix grouped by one index: group g holds Order[Start[g] .. Start[g + 1]).</summary>
    internal sealed class Grouping(long[] start, long[] order)
    {
        public long[] Start { get; } = start;
        public long[] Order { get; } = order;
        public long Groups => Start.Length - 1;
    }

    static readonly ConditionalWeakTable<SparseLatents, Grouping> RowGroups = new(), ColumnGroups = new();

    /// <summary>The entries grouped by batch row (cached per <see cref="SparseLatents"/>).</summary>
    public static Grouping ByRow(SparseLatents s) => RowGroups.GetValue(s, x => Group(x.Rows, x.BatchSize));

    /// <summary>The entries grouped by latent (cached per <see cref="SparseLatents"/>).</summary>
    public static Grouping ByColumn(SparseLatents s) => ColumnGroups.GetValue(s, x => Group(x.Columns, x.Latents));

    /// <summary>A stable counting sort of the entries by <paramref name="keys"/> in [0, groups).</summary>
    static Grouping Group(Tensor keys, long groups)
    {
        var k = keys.contiguous();
        long n = k.shape[0];
        long* kp = TensorMemory.Longs(k);
        var start = new long[groups + 1];
        for (long i = 0; i < n; i++)
        {
            long key = kp[i];
            if ((ulong)key >= (ulong)groups) throw new IndexOutOfRangeException($"index {key} outside [0, {groups})");
            start[key + 1]++;
        }
        for (long g = 0; g < groups; g++) start[g + 1] += start[g];
        var order = new long[n];
        var next = (long[])start.Clone();
        for (long i = 0; i < n; i++) order[next[kp[i]]++] = i;
        return new Grouping(start, order);
    }

    /// <summary>
    /// out[t] = Σ_{n in group t} weights[n] · source[sources[n]], [groups, d]; empty groups give 0. With
    /// <paramref name="accumulateInto"/> (contiguous float32 [groups, d]) the sums are added to it in place and it is
    /// returned.
    /// </summary>
    public static Tensor GatherSum(Grouping groups, Tensor sources, Tensor weights, Tensor source, Tensor? accumulateInto = null)
    {
        using var _ = no_grad();
        var src = source.detach().contiguous();
        var w = weights.detach().contiguous();
        var s = sources.contiguous();
        long outRows = groups.Groups, d = src.shape[1];
        bool accumulate = accumulateInto is not null;
        if (accumulateInto is not null && (accumulateInto.shape.Length != 2 || accumulateInto.shape[0] != outRows || accumulateInto.shape[1] != d))
            throw new ArgumentException($"accumulation target has shape [{string.Join(", ", accumulateInto.shape)}], expected [{outRows}, {d}]");
        var result = accumulateInto ?? empty(outRows, d, ScalarType.Float32);
        if (outRows == 0) return result;
        long* sp = TensorMemory.Longs(s);
        float* wp = TensorMemory.Floats(w), srcp = TensorMemory.Floats(src), outp = TensorMemory.Floats(result);
        CheckIndices(sp, s.shape[0], src.shape[0]);
        var start = groups.Start;
        var order = groups.Order;
        CpuParallel.For(outRows, Grain(order.LongLength, outRows), (from, to) =>
        {
            long end = start[to];
            fixed (long* op = order)
            {
                for (long j = start[from]; j < Math.Min(end, start[from] + PrefetchDistance); j++) Prefetch(srcp + sp[op[j]] * d, d);
                for (long r = from; r < to; r++)
                {
                    float* o = outp + r * d;
                    long first = start[r], last = start[r + 1];
                    if (first == last)
                    {
                        if (!accumulate) new Span<float>(o, checked((int)d)).Clear();
                        continue;
                    }
                    for (long j = first; j < last; j++)
                    {
                        long e = op[j];
                        if (j + PrefetchDistance < end) Prefetch(srcp + sp[op[j + PrefetchDistance]] * d, d);
                        if (j == first && !accumulate) Scale(o, srcp + sp[e] * d, wp[e], d);
                        else AddScaled(o, srcp + sp[e] * d, wp[e], d);
                    }
                }
            }
        });
        return result;
    }

    /// <summary>
    /// The decoder product's backward pass, latent by latent: for each entry n (row b, latent c, value f_n),
    /// gradValues[n] = ⟨g_b, W[c]⟩ and gradW[c] += f_n g_b. Returns gradW in <paramref name="accumulateInto"/> when
    /// given, else in a new [d_sae, d] tensor (rows of latents without entries 0).
    /// </summary>
    public static (Tensor GradValues, Tensor GradWeight) DecodeBackward(Grouping byColumn, Tensor rows, Tensor values, Tensor weight,
        Tensor grad, Tensor? accumulateInto)
    {
        using var _ = no_grad();
        var r = rows.contiguous();
        var v = values.detach().contiguous();
        var w = weight.detach().contiguous();
        var g = grad.detach().contiguous();
        long n = r.shape[0], latents = w.shape[0], d = w.shape[1];
        if (byColumn.Groups != latents) throw new ArgumentException($"grouping has {byColumn.Groups} latents, the decoder {latents}");
        bool accumulate = accumulateInto is not null;
        var gradWeight = accumulateInto ?? empty(latents, d, ScalarType.Float32);
        var gradValues = empty(n, ScalarType.Float32);
        long* rp = TensorMemory.Longs(r);
        float* vp = TensorMemory.Floats(v), wp = TensorMemory.Floats(w), gp = TensorMemory.Floats(g);
        float* gwp = TensorMemory.Floats(gradWeight), gvp = TensorMemory.Floats(gradValues);
        CheckIndices(rp, n, g.shape[0]);
        var start = byColumn.Start;
        var order = byColumn.Order;
        CpuParallel.For(latents, Grain(n, latents), (from, to) =>
        {
            long end = start[to];
            fixed (long* op = order)
            {
                for (long j = start[from]; j < Math.Min(end, start[from] + PrefetchDistance); j++) Prefetch(gp + rp[op[j]] * d, d);
                for (long c = from; c < to; c++)
                {
                    float* o = gwp + c * d;
                    float* wc = wp + c * d;
                    long first = start[c], last = start[c + 1];
                    if (first == last)
                    {
                        if (!accumulate) new Span<float>(o, checked((int)d)).Clear();
                        continue;
                    }
                    for (long j = first; j < last; j++)
                    {
                        long e = op[j];
                        if (j + PrefetchDistance < end) Prefetch(gp + rp[op[j + PrefetchDistance]] * d, d);
                        float* gb = gp + rp[e] * d;
                        gvp[e] = Dot(gb, wc, d);
                        if (j == first && !accumulate) Scale(o, gb, vp[e], d);
                        else AddScaled(o, gb, vp[e], d);
                    }
                }
            }
        });
        return (gradValues, gradWeight);
    }

    /// <summary>Rows per part so that each part holds a few thousand entries.</summary>
    static long Grain(long entries, long rows) => Math.Max(1, 4096 / Math.Max(1, entries / Math.Max(1, rows) + 1));

    static void CheckIndices(long* indices, long n, long rows)
    {
        for (long i = 0; i < n; i++)
            if ((ulong)indices[i] >= (ulong)rows) throw new IndexOutOfRangeException($"row {indices[i]} outside [0, {rows})");
    }

    /// <summary>Asks for the cache lines of a row that is read soon.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Prefetch(float* row, long d)
    {
        if (!Sse.IsSupported) return;
        byte* p = (byte*)row, end = (byte*)(row + d);
        for (; p < end; p += 64) Sse.Prefetch0(p);
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
