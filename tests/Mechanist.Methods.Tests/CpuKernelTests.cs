using Mechanist.Sae;
using Mechanist.Sae.CpuKernels;
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

        if (batchWide)
        {
            // Starting below the exact threshold, or above it (the pass repeats from -inf): the same selection.
            float exact = selection.BatchThreshold!.Value;
            foreach (var start in new[] { exact - 0.05f, exact + 1f })
            {
                var again = BlockedTopKEncoder.Encode(x, p.EncoderRows, p.EncoderBias, k, batchWide, dead, auxK, p, rowBlock, latentBlock, start);
                Assert.True(want.SetEquals(Entries(again.Selected)), $"start threshold {start} (exact {exact})");
                Assert.Equal(exact, again.BatchThreshold);
            }
        }

        var masked = pre.masked_fill(deadMask.logical_not().unsqueeze(0), double.NegativeInfinity).topk(auxK, dim: 1);
        var expectedAux = SparseLatents.FromTopK(masked.indexes, masked.values, latents);
        Assert.NotNull(selection.Aux);
        Assert.Equal(Entries(expectedAux), Entries(selection.Aux!));
        Assert.True((selection.Aux!.ToDense() - expectedAux.ToDense()).abs().max().item<float>() <= 1e-5f, "aux values");
    }

    /// <summary>
    /// The gated SAE's fused function (CPU kernels, and libtorch ops) against autograd through the plain composition it
    /// replaces: the same outputs (both decodes, the decoder-norm-weighted L1, which latents fired, L0) and the same
    /// gradients for the shared product, the three gate parameters, W_dec (through the decode and through the norms)
    /// and b_dec, with every output used and with the auxiliary decode or the L1 left out (a missing incoming gradient).
    /// </summary>
    [Theory]
    [InlineData(true, true, true)]
    [InlineData(false, true, true)]
    [InlineData(true, false, true)]
    [InlineData(false, false, true)]
    [InlineData(true, true, false)]
    [InlineData(false, true, false)]
    public void Gated_function_matches_autograd_of_its_composition(bool cpuKernels, bool useViaGate, bool useL1)
    {
        var g = new Generator(5);
        const int rows = 33, latents = 70, dIn = 9;
        var shared0 = randn(rows, latents, generator: g);
        var parameters0 = new[] { randn(latents, generator: g) * 0.5, randn(latents, generator: g) * 0.3, randn(latents, generator: g) * 0.5 };
        var decoder0 = randn(latents, dIn, generator: g) * 0.4;
        var bias0 = randn(dIn, generator: g);
        var weightsX = randn(rows, dIn, generator: g);
        var weightsViaGate = randn(rows, dIn, generator: g);
        const double l1Weight = 1.7;
        (Tensor[] Outputs, Tensor[] Grads) Run(bool fused)
        {
            var shared = shared0.clone().requires_grad_(true);
            var ps = parameters0.Select(t => t.clone().requires_grad_(true)).ToArray();
            var decoder = decoder0.clone().requires_grad_(true);
            var bias = bias0.clone().requires_grad_(true);
            var norms = decoder.norm(dim: 1);
            Tensor x, viaGate, l1, fired, l0;
            if (fused)
            {
                using var torchOps = cpuKernels ? null : TrainingKernels.TorchOpsOnly();
                var o = Mechanist.Methods.Decomposers.GatedSaeDecomposer.GatedDecode(shared, ps[0], ps[1], ps[2], decoder, bias, norms);
                (x, viaGate, l1, fired, l0) = (o.Reconstruction, o.ViaGate, o.L1, o.Fired, o.L0);
                Assert.False(fired.requires_grad || l0.requires_grad);
                Loss().backward();
            }
            else
            {
                var gate = shared + ps[0];
                var open = (gate > 0).to(gate.dtype).detach();
                var f = open * nn.functional.relu(shared * ps[1].exp() + ps[2]);
                var pi = nn.functional.relu(gate);
                x = addmm(bias, f, decoder, 1, 1);
                viaGate = addmm(bias.detach(), pi, decoder.detach(), 1, 1);
                l1 = (pi * norms).sum() / pi.shape[0];
                fired = (f > 0).any(0);
                l0 = (f > 0).sum().to(ScalarType.Float32) / rows;
                Loss().backward();
            }
            Tensor Loss() => (x * weightsX).sum() + (useViaGate ? (viaGate * weightsViaGate).sum() : tensor(0f)) + (useL1 ? l1Weight * l1 : tensor(0f));
            return ([x.detach(), viaGate.detach(), l1.detach(), fired.to(ScalarType.Float32), l0],
                [shared.grad!, .. ps.Select(p => p.grad!), decoder.grad!, bias.grad!]);
        }
        var (fusedOut, fusedGrads) = Run(true);
        var (plainOut, plainGrads) = Run(false);
        string[] outputs = ["reconstruction", "via gate", "l1", "fired", "l0"];
        for (int i = 0; i < outputs.Length; i++)
            Assert.True((fusedOut[i] - plainOut[i]).abs().max().item<float>() <= 1e-5f * Math.Max(1, plainOut[i].abs().max().item<float>()), outputs[i]);
        // Some latents fire, some do not: both branches of the masks are exercised.
        Assert.InRange(plainOut[3].sum().item<float>(), 1, latents - 1);
        string[] names = ["shared", "b_gate", "r_mag", "b_mag", "W_dec", "b_dec"];
        for (int i = 0; i < names.Length; i++)
        {
            var scale = Math.Max(1, plainGrads[i].abs().max().item<float>());
            Assert.True((fusedGrads[i] - plainGrads[i]).abs().max().item<float>() <= 1e-4f * scale, names[i]);
            Assert.True(plainGrads[i].abs().max().item<float>() > 0, $"{names[i]} has a gradient");
        }
    }
}
