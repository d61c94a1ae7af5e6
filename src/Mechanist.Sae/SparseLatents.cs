using TorchSharp;
using static Mechanist.Sae.KeptScalars;
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
        using var stop = b.ToScalar();
        var rows = arange(Zero, stop, One, ScalarType.Int64, indices.device).repeat_interleave(k);
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
        using var first = from.ToScalar();
        using var end = to.ToScalar();
        var keep = Columns.ge(first).logical_and(Columns.lt(end)).nonzero().reshape(-1);
        return new SparseLatents(Rows.index_select(0, keep), Columns.index_select(0, keep), Values.index_select(0, keep), BatchSize, Latents);
    }
}
