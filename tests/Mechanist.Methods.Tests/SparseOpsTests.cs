using Mechanist.Methods.Decomposers;
using Mechanist.Sae;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>The sparse TopK path's hand-written gradients against dense autograd on the same function.</summary>
public class SparseOpsTests
{
    static (SaeParameters P, Tensor X) Setup(int batch = 24, int dIn = 10, int latents = 40, int seed = 3)
    {
        var g = new Generator((ulong)seed);
        var p = new SaeParameters(randn(latents, dIn, generator: g), randn(latents, generator: g) * 0.1,
            randn(latents, dIn, generator: g), randn(dIn, generator: g), new Dictionary<string, Tensor>());
        return (p, randn(batch, dIn, generator: g));
    }

    static Dictionary<string, Tensor> Gradients(SaeParameters p, Func<Tensor> loss)
    {
        foreach (var (_, t) in p.Trainable) t.grad?.zero_();
        loss().backward();
        return p.Trainable.ToDictionary(t => t.Name, t => t.Tensor.grad!.clone());
    }

    /// <summary>TopK decode through the sparse path and through a dense latent matrix: same loss, same gradients.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Sparse_and_dense_topk_paths_agree_in_value_and_gradient(bool batchTopK)
    {
        var (p, x) = Setup();
        using (p)
        {
            Tensor Loss(bool sparse)
            {
                var centered = x - p.DecoderBias;
                var pre = TopKFamily.PreActivations(p, centered, sparse);
                SparseLatents selected;
                if (batchTopK) selected = TopKFamily.BatchTopK(pre.detach(), 3);
                else
                {
                    var (values, indices) = pre.topk(3, dim: 1);
                    selected = SparseLatents.FromTopK(indices, values.detach(), p.Latents);
                }
                var active = TopKFamily.ActiveValues(p, selected, pre, centered, sparse, centersInput: true);
                var reconstruction = TopKFamily.Decode(p, selected, active, sparse) + p.DecoderBias;
                return (x - reconstruction).square().sum() + (reconstruction * reconstruction.detach().sin()).sum();
            }
            var sparseLoss = Loss(true).item<float>();
            var denseLoss = Loss(false).item<float>();
            Assert.True(Math.Abs(denseLoss - sparseLoss) <= 1e-5 * Math.Abs(denseLoss), $"loss: sparse {sparseLoss}, dense {denseLoss}");
            var sparse = Gradients(p, () => Loss(true));
            var dense = Gradients(p, () => Loss(false));
            foreach (var name in dense.Keys)
            {
                var diff = (sparse[name] - dense[name]).abs().max().item<float>();
                var scale = dense[name].abs().max().item<float>();
                Assert.True(diff <= 1e-4 * Math.Max(1, scale), $"{name}: max |sparse - dense| = {diff} (scale {scale})");
                Assert.True(scale > 0, $"{name} has a gradient");
            }
        }
    }

    [Fact]
    public void AuxK_gradient_reaches_only_dead_latents()
    {
        var (p, x) = Setup();
        using (p)
        {
            var dead = zeros(p.Latents, ScalarType.Bool);
            dead.index_fill_(0, tensor(new long[] { 3, 7, 11, 19 }), true);
            var state = new StepState(0, 1, 0, dead, 4, new SaeShape(10, 40, 10, [10]));
            var batch = new TrainingBatch(x, x);
            var centered = x - p.DecoderBias;
            var encoded = TopKFamily.Encode(p, centered, 3, batchWide: false, state, auxK: 2, auxCoefficient: 1, sparse: true);
            var reconstruction = zeros_like(x);
            foreach (var (_, t) in p.Trainable) t.grad?.zero_();
            TopKFamily.AuxK(p, encoded, centered, batch, reconstruction, state, auxK: 2, alpha: 1, sparse: true, centersInput: true).backward();
            var touched = p.DecoderRows.grad!.abs().sum(1) > 0;
            Assert.True(touched.logical_and(dead.logical_not()).any().item<bool>() == false, "only dead decoder rows get gradient");
            Assert.True(touched.any().item<bool>());
        }
    }

    [Fact]
    public void BatchTopK_candidates_select_exactly_what_a_full_selection_would()
    {
        var g = new Generator(5);
        // Skewed rows: a few rows hold most of the large values, so per-row candidates overflow and fall back.
        foreach (var skew in new[] { 0.0, 5.0 })
        {
            var pre = randn(32, 200, generator: g) + skew * (arange(32).to(ScalarType.Float32) < 2).to(ScalarType.Float32).unsqueeze(1);
            var selected = TopKFamily.BatchTopK(pre, 4);
            var dense = selected.ToDense();
            var flat = nn.functional.relu(pre).reshape(-1);
            var expected = zeros_like(flat).scatter(0, flat.topk(32 * 4).indexes, flat.topk(32 * 4).values).view(32, 200);
            Assert.True((dense - expected).abs().max().item<float>() == 0, $"skew {skew}");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void JumpRelu_pseudo_gradients_follow_the_rectangle_kernel(bool cpuKernels)
    {
        using var torchOps = cpuKernels ? null : TrainingKernels.TorchOpsOnly();
        // theta = (0.5, 1, 0.05), bandwidth 0.1: only z within 0.05 of theta is inside the kernel (column 0, both rows).
        var z = tensor(new float[,] { { 0.53f, 1.2f, 0.2f }, { 0.47f, 0.1f, 0.98f } });
        var theta = new[] { 0.5, 1.0, 0.05 };
        Tensor LogTheta() => tensor(theta.Select(t => (float)Math.Log(t)).ToArray()).requires_grad_(true);

        var logTheta = LogTheta();
        var (latents, l0) = JumpReluSaeDecomposer.JumpRelu(z, logTheta.exp(), 0.1);
        Assert.Equal(new float[] { 0.53f, 1.2f, 0.2f, 0, 0, 0.98f }, latents.detach().reshape(-1).data<float>().ToArray());
        Assert.Equal(2f, l0.item<float>()); // 4 of 6 entries above theta, over 2 rows

        // d/d log(theta) sum_b H(z_b - theta) / B = theta * sum_b -(1/(B eps)) K((z_b - theta)/eps) = 0.5 * 2 * -5 = -5.
        l0.backward();
        var stepGrad = logTheta.grad!.data<float>().ToArray();
        Assert.Equal(-5, stepGrad[0], 4);
        Assert.Equal(0, stepGrad[1]);
        Assert.Equal(0, stepGrad[2]);

        // d/d log(theta) sum_b f_b = theta * sum_b -(theta/eps) K(...) = 0.5 * 2 * -5 = -5; z gets H as its gradient.
        logTheta = LogTheta();
        var input = z.clone().requires_grad_(true);
        JumpReluSaeDecomposer.JumpRelu(input, logTheta.exp(), 0.1).Latents.sum().backward();
        Assert.Equal(-5, logTheta.grad!.data<float>()[0], 4);
        Assert.Equal(new float[] { 1, 1, 1, 0, 0, 1 }, input.grad!.reshape(-1).data<float>().ToArray());
    }
}
