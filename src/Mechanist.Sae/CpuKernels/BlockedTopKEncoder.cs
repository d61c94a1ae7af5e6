using System.Numerics;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Mechanist.Sae.CpuKernels;

/// <summary>
/// The TopK family's encoder without the [B, d_sae] pre-activation matrix. The pre-activations z = x_c W_encᵀ are
/// computed a block of latents at a time into a small buffer (one matmul per block), and each block is scanned once
/// while it is still in cache: b_enc is added, the values are compared against each row's running k-th largest
/// (TopK) or the batch's running (k·B)-th largest (BatchTopK), and only values above it enter the selection. The same
/// pass keeps each row's k_aux largest pre-activations among the dead latents for AuxK. The selection is exact: it
/// equals a topk over the full matrix (up to the order of tied values).
/// </summary>
internal static unsafe class BlockedTopKEncoder
{
    /// <summary>Rows per block; a block's pre-activations are <see cref="RowBlock"/> × <see cref="LatentBlock"/> floats.</summary>
    public const int RowBlock = 1024;

    /// <summary>Latents per block.</summary>
    public const int LatentBlock = 2048;

    /// <summary>
    /// What one encoder pass selected: pre-activations with bias, without ReLU (as a topk over z returns them), and for
    /// the batch-wide selection the (k·B)-th largest value (a hint for the next step's starting threshold).
    /// </summary>
    public sealed record Selection(SparseLatents Selected, SparseLatents? Aux, float? BatchThreshold = null);

    /// <param name="centered">x − b_dec [B, d_in]</param>
    /// <param name="encoderRows">W_encᵀ [d_sae, d_in]</param>
    /// <param name="encoderBias">b_enc [d_sae] or null</param>
    /// <param name="k">active latents per row (batch-wide: on average)</param>
    /// <param name="batchWide">BatchTopK: the k·B largest values of the batch instead of k per row</param>
    /// <param name="dead">the dead latents, ascending (empty: no AuxK candidates)</param>
    /// <param name="auxK">AuxK candidates per row (at most the dead count)</param>
    /// <param name="workspace">where the block buffer lives between steps</param>
    /// <param name="rowBlock">rows per block (tests use small blocks)</param>
    /// <param name="latentBlock">latents per block</param>
    /// <param name="startThreshold">
    /// batch-wide only: values below it are not considered. Any value gives the same selection: when fewer than k·B
    /// values reach it, the pass is repeated from −∞. A value a little below the previous step's (k·B)-th largest
    /// saves collecting and discarding most of the batch on the way.
    /// </param>
    public static Selection Encode(Tensor centered, Tensor encoderRows, Tensor? encoderBias, int k, bool batchWide,
        int[] dead, int auxK, SaeParameters workspace, int rowBlock = RowBlock, int latentBlock = LatentBlock,
        float startThreshold = float.NegativeInfinity)
    {
        using var _ = no_grad();
        var x = centered.detach().contiguous();
        var w = encoderRows.detach().contiguous();
        var b = encoderBias?.detach().contiguous();
        int batch = checked((int)x.shape[0]);
        int latents = checked((int)w.shape[0]);
        k = Math.Min(k, latents);
        int ka = Math.Min(auxK, dead.Length);
        rowBlock = Math.Min(rowBlock, batch);
        latentBlock = Math.Min(latentBlock, latents);
        var buffer = workspace.Workspace("encoder_block", [(long)rowBlock * latentBlock], ScalarType.Float32, x.device);
        int parts = CpuParallel.Threads;

        var top = batchWide ? null : new RowBuffers(batch, k);
        var candidates = batchWide ? Enumerable.Range(0, parts).Select(_ => new Candidates((long)k * batch, startThreshold)).ToArray() : null;
        var auxTop = ka > 0 ? new RowBuffers(batch, ka) : null;

        float* bias = b is null ? null : TensorMemory.Floats(b);

        // Latent blocks outside, row blocks inside: a block of W_enc is read from memory once per step, the
        // (smaller) input is re-read from cache.
        for (int c0 = 0; c0 < latents; c0 += latentBlock)
        {
            int cb = Math.Min(latentBlock, latents - c0);
            int deadFrom = LowerBound(dead, c0), deadTo = LowerBound(dead, c0 + cb);
            var weights = w.narrow(0, c0, cb).t();
            for (int r0 = 0; r0 < batch; r0 += rowBlock)
            {
                int rb = Math.Min(rowBlock, batch - r0);
                var block = buffer.narrow(0, 0, (long)rb * cb).view(rb, cb);
                block.addmm_(x.narrow(0, r0, rb), weights, beta: 0, alpha: 1);
                float* z = TensorMemory.Floats(block);
                int blockRow0 = r0, blockColumn0 = c0;
                CpuParallel.For(rb, parts, (part, start, end) =>
                {
                    float* scratch = stackalloc float[2 * Math.Max(k, ka)];
                    for (long r = start; r < end; r++)
                    {
                        int row = blockRow0 + (int)r;
                        float* zr = z + r * cb;
                        if (batchWide) ScanBatch(zr, cb, blockColumn0, bias, (long)row * latents, candidates![part]);
                        else top!.ScanRow(row, zr, cb, blockColumn0, bias, scratch);
                        if (auxTop is not null && deadTo > deadFrom)
                            auxTop.ScanColumns(row, zr, blockColumn0, bias, dead, deadFrom, deadTo, scratch);
                    }
                });
            }
        }

        SparseLatents selected;
        float? batchThreshold = null;
        if (batchWide)
        {
            if (candidates!.Sum(c => (long)c.Count) < (long)k * batch && !float.IsNegativeInfinity(startThreshold))
                return Encode(centered, encoderRows, encoderBias, k, batchWide, dead, auxK, workspace, rowBlock, latentBlock);
            (selected, batchThreshold) = BatchSelection(candidates!, (long)k * batch, batch, latents);
        }
        else
        {
            var (values, indices) = top!.Finish("TopK");
            selected = SparseLatents.FromTopK(indices, values, latents);
        }
        SparseLatents? aux = null;
        if (auxTop is not null)
        {
            var (values, indices) = auxTop.Finish("AuxK");
            aux = SparseLatents.FromTopK(indices, values, latents);
        }
        return new Selection(selected, aux, batchThreshold);
    }

    static int LowerBound(int[] sorted, int value)
    {
        int i = Array.BinarySearch(sorted, value);
        return i >= 0 ? i : ~i;
    }

    /// <summary>Values at or above the part's running threshold become candidates for the batch-wide selection.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ScanBatch(float* z, int count, int column0, float* bias, long flat0, Candidates candidates)
    {
        int width = Vector<float>.Count;
        float threshold = candidates.Threshold;
        int c = 0;
        for (; c <= count - width; c += width)
        {
            var v = Unsafe.ReadUnaligned<Vector<float>>(z + c);
            if (bias != null) v += Unsafe.ReadUnaligned<Vector<float>>(bias + column0 + c);
            if (!Vector.GreaterThanOrEqualAny(v, new Vector<float>(threshold))) continue;
            for (int j = 0; j < width; j++)
                if (v[j] >= threshold)
                {
                    candidates.Add(v[j], flat0 + column0 + c + j);
                    threshold = candidates.Threshold;
                }
        }
        for (; c < count; c++)
        {
            float s = bias != null ? z[c] + bias[column0 + c] : z[c];
            if (s >= threshold)
            {
                candidates.Add(s, flat0 + column0 + c);
                threshold = candidates.Threshold;
            }
        }
    }

    /// <summary>
    /// The k·B largest of all parts' candidates (ties: the smaller flat index), grouped by row, and the (k·B)-th
    /// largest value. The candidates hold every value at or above that one, so the result depends neither on the
    /// split into parts nor on the starting threshold.
    /// </summary>
    static (SparseLatents Selected, float Threshold) BatchSelection(Candidates[] parts, long keep, int batch, int latents)
    {
        long total = parts.Sum(p => (long)p.Count);
        var values = new float[total];
        var flat = new long[total];
        long n = 0;
        foreach (var p in parts)
        {
            Array.Copy(p.Values, 0, values, n, p.Count);
            Array.Copy(p.Flat, 0, flat, n, p.Count);
            n += p.Count;
        }
        if (total < keep) throw new InvalidOperationException("BatchTopK selection found non-finite pre-activations: the SAE's weights diverged (lower lr?).");
        float threshold = OrderStatistics.KthLargest((float[])values.Clone(), (int)total, (int)keep);
        // Strictly above the threshold, then ties in flat order until k·B entries.
        var chosen = new List<long>((int)keep);
        for (long i = 0; i < total; i++) if (values[i] > threshold) chosen.Add(i);
        if (chosen.Count < keep)
        {
            var ties = new List<long>();
            for (long i = 0; i < total; i++) if (values[i] == threshold) ties.Add(i);
            ties.Sort((a, b2) => flat[a].CompareTo(flat[b2]));
            chosen.AddRange(ties.Take((int)(keep - chosen.Count)));
        }
        // Grouped by row (counting sort, stable): rows ascending, the sparse kernels read them row by row.
        var rowCounts = new int[batch + 1];
        foreach (var i in chosen) rowCounts[flat[i] / latents + 1]++;
        for (int r = 0; r < batch; r++) rowCounts[r + 1] += rowCounts[r];
        var rows = new long[chosen.Count];
        var columns = new long[chosen.Count];
        var kept = new float[chosen.Count];
        foreach (var i in chosen)
        {
            long row = flat[i] / latents;
            int at = rowCounts[row]++;
            rows[at] = row;
            columns[at] = flat[i] % latents;
            kept[at] = Math.Max(values[i], 0f);
        }
        return (new SparseLatents(tensor(rows), tensor(columns), tensor(kept), batch, latents), threshold);
    }

    /// <summary>
    /// Each row's running k largest values: a buffer of 2k per row that values above the row's threshold are appended
    /// to; when it is full, the k-th largest of the buffer becomes the threshold and only the k largest stay (ties:
    /// the earlier column). An append is a store where a heap would sift, and the threshold still rises as fast.
    /// </summary>
    sealed class RowBuffers
    {
        readonly int _k, _capacity;
        readonly float[] _values;
        readonly long[] _indices;
        readonly int[] _counts;
        readonly float[] _thresholds;

        public RowBuffers(int rows, int k)
        {
            _k = k;
            _capacity = 2 * k;
            _values = new float[(long)rows * _capacity];
            _indices = new long[(long)rows * _capacity];
            _counts = new int[rows];
            _thresholds = new float[rows];
            Array.Fill(_thresholds, float.NegativeInfinity);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void ScanRow(int row, float* z, int count, int column0, float* bias, float* scratch)
        {
            fixed (float* allValues = _values)
            fixed (long* allIndices = _indices)
            {
                float* values = allValues + (long)row * _capacity;
                long* indices = allIndices + (long)row * _capacity;
                int n = _counts[row];
                float threshold = _thresholds[row];
                int width = Vector<float>.Count;
                int c = 0;
                for (; c <= count - width; c += width)
                {
                    var v = Unsafe.ReadUnaligned<Vector<float>>(z + c);
                    if (bias != null) v += Unsafe.ReadUnaligned<Vector<float>>(bias + column0 + c);
                    if (!Vector.GreaterThanAny(v, new Vector<float>(threshold))) continue;
                    for (int j = 0; j < width; j++)
                    {
                        float s = v[j];
                        if (!(s > threshold)) continue;
                        if (n == _capacity) threshold = Compact(values, indices, ref n, scratch);
                        if (!(s > threshold)) continue;
                        values[n] = s;
                        indices[n++] = column0 + c + j;
                    }
                }
                for (; c < count; c++)
                {
                    float s = bias != null ? z[c] + bias[column0 + c] : z[c];
                    if (!(s > threshold)) continue;
                    if (n == _capacity) threshold = Compact(values, indices, ref n, scratch);
                    if (!(s > threshold)) continue;
                    values[n] = s;
                    indices[n++] = column0 + c;
                }
                _counts[row] = n;
                _thresholds[row] = threshold;
            }
        }

        /// <summary>The listed columns (AuxK's dead latents) of this block.</summary>
        public void ScanColumns(int row, float* z, int column0, float* bias, int[] columns, int from, int to, float* scratch)
        {
            fixed (float* allValues = _values)
            fixed (long* allIndices = _indices)
            {
                float* values = allValues + (long)row * _capacity;
                long* indices = allIndices + (long)row * _capacity;
                int n = _counts[row];
                float threshold = _thresholds[row];
                for (int d = from; d < to; d++)
                {
                    int column = columns[d];
                    float s = z[column - column0];
                    if (bias != null) s += bias[column];
                    if (!(s > threshold)) continue;
                    if (n == _capacity) threshold = Compact(values, indices, ref n, scratch);
                    if (!(s > threshold)) continue;
                    values[n] = s;
                    indices[n++] = column;
                }
                _counts[row] = n;
                _thresholds[row] = threshold;
            }
        }

        /// <summary>Keeps the k largest of the buffer (ties: the earlier entries) and returns the k-th largest.</summary>
        float Compact(float* values, long* indices, ref int n, float* scratch)
        {
            new Span<float>(values, n).CopyTo(new Span<float>(scratch, n));
            float threshold = OrderStatistics.KthLargest(scratch, n, _k);
            int above = 0;
            for (int i = 0; i < n; i++) if (values[i] > threshold) above++;
            int ties = _k - above, kept = 0;
            for (int i = 0; i < n; i++)
            {
                float v = values[i];
                if (v > threshold || (v == threshold && ties-- > 0))
                {
                    values[kept] = v;
                    indices[kept++] = indices[i];
                }
            }
            n = kept;
            return threshold;
        }

        /// <summary>Each row's k largest as [B, k] values and latent indices.</summary>
        public (Tensor Values, Tensor Indices) Finish(string what)
        {
            int rows = _counts.Length;
            var values = empty(rows, _k, ScalarType.Float32);
            var indices = empty(rows, _k, ScalarType.Int64);
            float* vo = TensorMemory.Floats(values);
            long* io = TensorMemory.Longs(indices);
            float* scratch = stackalloc float[_capacity];
            fixed (float* allValues = _values)
            fixed (long* allIndices = _indices)
                for (int r = 0; r < rows; r++)
                {
                    float* v = allValues + (long)r * _capacity;
                    long* ix = allIndices + (long)r * _capacity;
                    int n = _counts[r];
                    if (n < _k)
                        throw new InvalidOperationException($"{what} selection found non-finite pre-activations: the SAE's weights diverged (lower lr?).");
                    if (n > _k) Compact(v, ix, ref n, scratch);
                    new Span<float>(v, _k).CopyTo(new Span<float>(vo + (long)r * _k, _k));
                    new Span<long>(ix, _k).CopyTo(new Span<long>(io + (long)r * _k, _k));
                }
            return (values, indices);
        }
    }

    /// <summary>
    /// A part's candidates for the batch-wide selection: every value seen at or above <see cref="Threshold"/>. When
    /// the buffer is full, the threshold rises to the k·B-th largest value held (a lower bound of the final one,
    /// since the values seen are a subset of the batch) and the values below it are dropped.
    /// </summary>
    sealed class Candidates(long keep, float threshold)
    {
        public float[] Values = new float[Math.Max(2 * keep, 4096)];
        public long[] Flat = new long[Math.Max(2 * keep, 4096)];
        public int Count;
        public float Threshold = threshold;
        float[]? _scratch;

        public void Add(float value, long flat)
        {
            if (Count == Values.Length) Compact();
            Values[Count] = value;
            Flat[Count++] = flat;
        }

        void Compact()
        {
            _scratch ??= new float[Values.Length];
            Array.Copy(Values, _scratch, Count);
            float threshold = OrderStatistics.KthLargest(_scratch, Count, (int)keep);
            int kept = 0;
            for (int i = 0; i < Count; i++)
                if (Values[i] >= threshold)
                {
                    Values[kept] = Values[i];
                    Flat[kept++] = Flat[i];
                }
            Count = kept;
            Threshold = threshold;
            if (Count > Values.Length * 3 / 4)
            {
                // Mostly ties: grow instead of compacting again at once.
                Array.Resize(ref Values, Values.Length * 2);
                Array.Resize(ref Flat, Flat.Length * 2);
                _scratch = null;
            }
        }
    }
}

/// <summary>Order statistics on float arrays.</summary>
internal static unsafe class OrderStatistics
{
    /// <summary>
    /// The <paramref name="k"/>-th largest of the first <paramref name="count"/> values (1-based: k = 1 is the maximum).
    /// Reorders them. Quickselect with a median-of-three pivot, expected linear time.
    /// </summary>
    public static float KthLargest(float[] values, int count, int k)
    {
        fixed (float* p = values) return KthLargest(p, count, k);
    }

    /// <inheritdoc cref="KthLargest(float[], int, int)"/>
    public static float KthLargest(float* values, int count, int k)
    {
        if (k < 1 || k > count) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} with {count} values");
        int target = count - k; // index in ascending order
        int lo = 0, hi = count - 1;
        while (lo < hi)
        {
            int mid = lo + (hi - lo) / 2;
            float a = values[lo], b = values[mid], c = values[hi];
            float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
            int i = lo, j = hi;
            while (i <= j)
            {
                while (values[i] < pivot) i++;
                while (values[j] > pivot) j--;
                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }
            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else return values[target];
        }
        return values[target];
    }
}
