using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using Mechanist.Methods.Decomposers;
using Mechanist.Methods.Evaluation;
using Mechanist.Models.Tasks;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

public class PcaTests
{
    /// <summary>
    /// Data with known principal directions: rows z·diag(σ)·Q + μ with Q orthonormal and σ strictly decreasing,
    /// z standard normal. The principal directions are the rows of Q, in order.
    /// </summary>
    static (ActivationMatrix Data, Tensor Q, double[] Sigma) KnownDirections(int n = 8000, int d = 10, int seed = 7)
    {
        var g = new Generator((ulong)seed);
        var (q, _) = linalg.qr(randn(d, d, ScalarType.Float64, generator: g));
        var sigma = Enumerable.Range(0, d).Select(i => 10.0 / (i + 1)).ToArray();
        var z = randn(n, d, ScalarType.Float64, generator: g);
        var x = z.matmul(diag(tensor(sigma))).matmul(q.t()) + 3.0;
        return (new ActivationMatrix("known", x), q.t().contiguous(), sigma);
    }

    static Decomposition Fit(IActivationSource data, int components, int seed = 0)
    {
        using var host = MechanistHost.Create([]);
        var entry = host.Catalog.Resolve("pca", MethodKind.Decomposer);
        var options = MethodCatalog.BindOptions(entry, new Dictionary<string, string> { ["components"] = components.ToString(), ["batch_size"] = "1000" });
        var pca = MethodCatalog.Create<Decomposer>(entry, host.Services);
        return pca.Fit(new DecomposeContext { Activations = data, Options = options, Seed = seed });
    }

    [Fact]
    public void Recovers_the_principal_directions_in_order()
    {
        var (data, q, _) = KnownDirections();
        using (data)
        using (var sae = Fit(data, components: 4))
        {
            Assert.Equal(8, sae.DSae); // +/- pairs
            for (int i = 0; i < 4; i++)
            {
                var cos = nn.functional.cosine_similarity(sae.DecoderDirections[i].to(ScalarType.Float64), q[i], dim: 0).item<double>();
                Assert.True(Math.Abs(cos) > 0.999, $"component {i}: |cos| = {Math.Abs(cos)}");
                // The negative half is the same direction, flipped.
                Assert.True(sae.DecoderDirections[i + 4].equal(-sae.DecoderDirections[i]).all().item<bool>());
            }
        }
    }

    [Fact]
    public void Explained_variance_equals_the_share_of_the_top_eigenvalues()
    {
        var (data, _, _) = KnownDirections();
        using (data)
        using (var sae = Fit(data, components: 3))
        {
            // Independent route: eigenvalues of the sample covariance from the centred matrix, all at once.
            var x = data.Data.to(ScalarType.Float64);
            var centred = x - x.mean([0]);
            var eigenvalues = linalg.eigvalsh(centred.t().matmul(centred)).flip(0);
            double expected = eigenvalues.narrow(0, 0, 3).sum().item<double>() / eigenvalues.sum().item<double>();
            var metrics = DecompositionMetrics.Compute(sae, data, batchSize: 999);
            Assert.Equal(expected, metrics.ExplainedVariance, 1e-5);
            Assert.Equal(3, metrics.L0, 6); // one of each +/- pair is active on every row
            Assert.Equal(0, metrics.DeadFraction);
        }
    }

    [Fact]
    public void All_components_reconstruct_exactly()
    {
        var (data, _, _) = KnownDirections(n: 500, d: 6);
        using (data)
        using (var sae = Fit(data, components: 6))
        {
            var metrics = DecompositionMetrics.Compute(sae, data);
            Assert.True(metrics.Fvu < 1e-9, $"fvu {metrics.Fvu}");
        }
    }

    [Fact]
    public void Is_deterministic()
    {
        var (data, _, _) = KnownDirections(n: 500, d: 6);
        using (data)
        using (var a = Fit(data, 3, seed: 1))
        using (var b = Fit(data, 3, seed: 2))
            Assert.True(Testing.TensorAssert.Identical(a.DecoderDirections, b.DecoderDirections));
    }

    [Fact]
    public void Stays_far_from_the_truth_under_superposition()
    {
        var (x, directions) = SuperpositionData.Generate(new SuperpositionSettings(Features: 64, Dimension: 16, ActivePerSample: 3, Samples: 4000, Seed: 5));
        using var data = new ActivationMatrix("superposition", x);
        using var sae = Fit(data, components: 16);
        var mmcs = DecompositionMetrics.ComputeMmcs(directions, sae.DecoderDirections);
        Assert.InRange(mmcs, 0.0, 0.8); // 64 features in 16 dimensions: 16 orthogonal directions cannot match them
    }

    [Fact]
    public void More_components_than_dimensions_is_an_input_error_naming_the_option()
    {
        using var data = new ActivationMatrix("small.safetensors", randn(10, 4));
        var e = Assert.Throws<MechanistInputException>(() => Fit(data, components: 5));
        Assert.Contains("'components'", e.Message);
        Assert.Contains("dimension 4", e.Message);
        Assert.Contains("small.safetensors", e.Message);
    }

    [Fact]
    public void Sign_convention_makes_the_largest_entry_positive()
    {
        var rows = tensor(new double[,] { { 0.1, -0.9, 0.2 }, { 0.5, 0.4, -0.1 } });
        var fixedRows = Pca.FixSigns(rows);
        Assert.Equal(0.9, fixedRows[0, 1].item<double>(), 12);
        Assert.Equal(0.5, fixedRows[1, 0].item<double>(), 12);
    }
}
