using static TorchSharp.torch;

namespace Mechanist.Sae;

/// <summary>
/// The active latents of a batch in coordinate form: entry n is latent <see cref="Columns"/>[n] of row
/// <see cref="Rows"/>[n] with value <see cref="Values"/>[n]. TopK gives k entries per row (<see cref="PerRow"/> = k,
/// rows in order); BatchTopK a varying number. Tensors belong to the caller's dispose scope.
/// </summary>
public sealed record SparseLatents(Tensor Rows, Tensor Columns, Tensor Values, long BatchSize, long Latents, int? PerRow = null)
{
    /// <summary>k entries per row from a [B, k] index tensor (row-major).</summary>
    public static SparseLatents FromTopK(Tensor indices, Tensor values, long latents)
    {
        long b = indices.shape[0], k = indices.shape[1];
        var rows = arange(b, ScalarType.Int64, indices.device).repeat_interleave(k);
        return new SparseLatents(rows, indices.reshape(-1), values.reshape(-1), b, latents, (int)k);
    }

    public long Count => Values.shape[0];

    public SparseLatents WithValues(Tensor values) => this with { Values = values };

    /// <summary>The dense [B, d_sae] matrix (for metrics and tests).</summary>
    public Tensor ToDense() =>
        zeros(BatchSize, Latents, Values.dtype, Values.device).index_put_(Values, Rows, Columns);

    /// <summary>The entries whose column is in [from, to): a Matryoshka level.</summary>
    public SparseLatents Slice(long from, long to)
    {
        var keep = (Columns >= from).logical_and(Columns < to).nonzero().reshape(-1);
        return new SparseLatents(Rows.index_select(0, keep), Columns.index_select(0, keep), Values.index_select(0, keep), BatchSize, Latents);
    }
}
