using Mechanist.Methods.Training;
using Mechanist.Methods.Training.CpuKernels;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>The trainer's CPU kernels against the libtorch ops they replace, on small shapes.</summary>
public class CpuKernelTests
{
    static SaeParameters Parameters(int latents, int dIn, Generator g) =>
        new(randn(latents, dIn, generator: g), randn(latents, generator: g) * 0.1, randn(latents, dIn, generator: g),
            randn(dIn, generator: g), new Dictionary<string, Tensor>());

    static HashSet<(long, long)> Entries(SparseLatents s)
    {
        var rows = s.Rows.data<long>().ToArray();
        var cols = s.Columns.data<long>().ToArray();
        return rows.Zip(cols).ToHashSet();
    }

    /// <summary>
    /// Blocks smaller than the matrix (several latent and row blocks, ragged edges): the running selections equal a
    /// topk over the whole pre-activation matrix: per row, over the batch, and among dead latents for AuxK.
    /// </summary>
    [Theory]
    [InlineData(false, 7, 13)]
    [InlineData(true, 7, 13)]
    [InlineData(false, 64, 2048)]
    [InlineData(true, 64, 2048)]
    public void Blocked_encoder_selects_what_a_full_topk_selects(bool batchWide, int rowBlock, int latentBlock)
    {
        var g = new Generator(11);
        const int batch = 50, dIn = 12, latents = 90, k = 5, auxK = 6;
        using var p = Parameters(latents, dIn, g);
        var x = randn(batch, dIn, generator: g);
        var deadMask = rand(latents, generator: g) < 0.3;
        var dead = deadMask.nonzero().reshape(-1).to(ScalarType.Int32).data<int>().ToArray();
        var selection = BlockedTopKEncoder.Encode(x, p.EncoderRows, p.EncoderBias, k, batchWide, dead, auxK, p, rowBlock, latentBlock);

        var pre = (x.matmul(p.EncoderRows.t()) + p.EncoderBias!).detach();
        SparseLatents expected = batchWide ? TopKFamily.BatchTopK(pre, k)
            : SparseLatents.FromTopK(pre.topk(k, dim: 1).indexes, pre.topk(k, dim: 1).values, latents);
        var got = Entries(selection.Selected); var want = Entries(expected);
        Assert.True(want.SetEquals(got), $"count {got.Count} vs {want.Count}; missing {string.Join(",", want.Except(got).Take(5))}; extra {string.Join(",", got.Except(want).Take(5))}");
        var dense = selection.Selected.ToDense();
        var expectedDense = expected.ToDense();
        Assert.True((dense - expectedDense).abs().max().item<float>() <= 1e-5f, "selected values");

        var masked = pre.masked_fill(deadMask.logical_not().unsqueeze(0), double.NegativeInfinity).topk(auxK, dim: 1);
        var expectedAux = SparseLatents.FromTopK(masked.indexes, masked.values, latents);
        Assert.NotNull(selection.Aux);
        Assert.Equal(Entries(expectedAux), Entries(selection.Aux!));
        Assert.True((selection.Aux!.ToDense() - expectedAux.ToDense()).abs().max().item<float>() <= 1e-5f, "aux values");
    }
}
