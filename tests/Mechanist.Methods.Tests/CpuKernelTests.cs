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
    /// The gated activation as one function (CPU kernels, and libtorch ops) against autograd through the plain
    /// composition it replaces: same outputs (with the decoder-norm-weighted L1), same gradients for the shared product,
    /// the three gate parameters and the decoder norms.
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void Gated_activation_matches_autograd_of_its_composition(bool cpuKernels, bool gradientOfLatentsIsPrivate)
    {
        var g = new Generator(5);
        var shared0 = randn(33, 70, generator: g);
        var parameters0 = new[] { randn(70, generator: g) * 0.5, randn(70, generator: g) * 0.3, randn(70, generator: g) * 0.5 };
        var weightsF = randn(33, 70, generator: g);
        var weightsPi = randn(33, 70, generator: g);
        var norms0 = rand(70, generator: g) + 0.5;
        const double l1Weight = 1.7;
        (Tensor[] Outputs, Tensor[] Grads) Run(bool fused)
        {
            var shared = shared0.clone().requires_grad_(true);
            var ps = parameters0.Select(t => t.clone().requires_grad_(true)).ToArray();
            var norms = norms0.clone().requires_grad_(true);
            Tensor f, pi, l1;
            if (fused)
            {
                using var torchOps = cpuKernels ? null : TrainingKernels.TorchOpsOnly();
                (f, pi, l1) = Mechanist.Methods.Decomposers.GatedSaeDecomposer.GatedActivation(shared, ps[0], ps[1], ps[2], norms,
                    gradientOfLatentsIsPrivate);
                ((f * weightsF).sum() + (pi * weightsPi).sum() + l1Weight * l1).backward();
            }
            else
            {
                var gate = shared + ps[0];
                var open = (gate > 0).to(gate.dtype).detach();
                f = open * nn.functional.relu(shared * ps[1].exp() + ps[2]);
                pi = nn.functional.relu(gate);
                l1 = (pi * norms).sum() / pi.shape[0];
                ((f * weightsF).sum() + (pi * weightsPi).sum() + l1Weight * l1).backward();
            }
            return ([f.detach(), pi.detach(), l1.detach()], [shared.grad!, .. ps.Select(p => p.grad!), norms.grad!]);
        }
        var (fusedOut, fusedGrads) = Run(true);
        var (plainOut, plainGrads) = Run(false);
        for (int i = 0; i < 3; i++) Assert.True((fusedOut[i] - plainOut[i]).abs().max().item<float>() <= 1e-5f, $"output {i}");
        string[] names = ["shared", "b_gate", "r_mag", "b_mag", "decoder norms"];
        for (int i = 0; i < 5; i++)
        {
            var scale = Math.Max(1, plainGrads[i].abs().max().item<float>());
            Assert.True((fusedGrads[i] - plainGrads[i]).abs().max().item<float>() <= 1e-4f * scale, names[i]);
            Assert.True(plainGrads[i].abs().max().item<float>() > 0, $"{names[i]} has a gradient");
        }
    }
}
