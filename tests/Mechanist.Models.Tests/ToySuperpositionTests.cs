using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Models.Serialization;
using Mechanist.Models.Training;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

public class ToySuperpositionTests
{
    [Fact]
    public void Forward_is_relu_of_WtWx_plus_b_with_hooks_at_each_stage()
    {
        using var model = ToySuperposition.Create(new ToySuperpositionConfig { NFeatures = 7, NHidden = 3 }, 1);
        using (no_grad()) model.B.copy_(linspace(-0.5, 0.5, 7));
        using var x = rand(10, 7, generator: new Generator(2));
        var (output, cache) = model.RunWithCache(x, model.HookSites);
        Assert.Equal(["hook_hidden", "hook_pre", "hook_out"], model.HookSites);
        var w = model.W.detach().to(ScalarType.Float64);
        var xd = x.to(ScalarType.Float64);
        Assert.True(cache["hook_hidden"].to(ScalarType.Float64).allclose(xd.matmul(w.t()), atol: 1e-6));
        var expected = nn.functional.relu(xd.matmul(w.t()).matmul(w) + model.B.detach().to(ScalarType.Float64));
        Assert.True(output.to(ScalarType.Float64).allclose(expected, atol: 1e-6));
        Assert.Equal([10, 3], cache["hook_hidden"].shape);
        Assert.Equal(0, model.ActiveHookCount);
        ModelFolderFixtures.AssertRejected(() => model.Run(ones(4, 6)), "float inputs [batch, 7]", "[4, 6]");
    }

    static ToySuperpositionResult Train(double sparsity) =>
        ToySuperpositionTrainer.Train(new ToySuperpositionTrainingOptions { Features = 20, Hidden = 5, Sparsity = sparsity, Steps = 2000 }) is var (model, result)
            ? Dispose(model, result) : throw new InvalidOperationException();

    static ToySuperpositionResult Dispose(ToySuperposition model, ToySuperpositionResult result)
    {
        model.Dispose();
        return result;
    }

    /// <summary>
    /// The phase change of Elhage et al. (n = 20, m = 5, importance 0.7^i): dense features get the m most
    /// important features, each its own orthogonal dimension, and nothing else; sparse features are packed in
    /// superposition, more features than dimensions, sharing directions.
    /// </summary>
    [Fact]
    public void Dense_features_get_one_dimension_each_sparse_features_go_into_superposition()
    {
        var dense = Train(0.0);
        Assert.Equal(5, dense.Represented);
        Assert.All(dense.FeatureNorms.Take(5), n => Assert.InRange(n, 0.9, 1.1));
        Assert.All(dense.FeatureNorms.Skip(5), n => Assert.True(n < 0.3, $"a less important feature has norm {n}"));
        Assert.All(dense.Superposition.Take(5), s => Assert.True(s < 0.05, $"top features interfere: {s}"));
        Assert.InRange(dense.DimensionsPerFeature, 0.9, 1.1);

        var sparse = Train(0.9);
        Assert.True(sparse.Represented > 5, $"only {sparse.Represented} features represented at sparsity 0.9");
        Assert.All(sparse.FeatureNorms.Take(sparse.Represented), n => Assert.True(n > 0.5));
        Assert.True(sparse.Superposition.Take(sparse.Represented).Max() > 0.1, "represented features share directions");
        Assert.True(sparse.DimensionsPerFeature < 0.8, $"dimensions per feature {sparse.DimensionsPerFeature}");
        Assert.True(sparse.Loss < dense.Loss);
    }

    [Fact]
    public void Save_and_load_round_trip_and_strict_config()
    {
        using var temp = new TempDir();
        using var model = ToySuperposition.Create(new ToySuperpositionConfig { NFeatures = 6, NHidden = 2 }, 4);
        var folder = temp.File("toy");
        model.Save(folder);
        using var loaded = ToySuperposition.Load(folder);
        Assert.Equal(model.Config, loaded.Config);
        Assert.True(TensorAssert.Identical(model.W, loaded.W));
        Assert.Equal("{\"model_type\":\"toy-superposition\",\"n_features\":6,\"n_hidden\":2}", ModelFolderLayout.ReadConfig(folder).ToJsonString());

        ModelFolderFixtures.EditConfig(folder, c => { c.Remove("n_hidden"); c["hidden"] = 2; });
        ModelFolderFixtures.AssertRejected(() => ToySuperposition.Load(folder), "unknown key 'hidden'", "Did you mean 'n_hidden'?");
        ModelFolderFixtures.EditConfig(folder, c => c.Remove("hidden"));
        ModelFolderFixtures.AssertRejected(() => ToySuperposition.Load(folder), "missing key 'n_hidden'");
        ModelFolderFixtures.EditConfig(folder, c => c["n_hidden"] = 3);
        ModelFolderFixtures.AssertRejected(() => ToySuperposition.Load(folder), "tensor 'W' has shape [2, 6], expected [3, 6]", "n_hidden, n_features");
    }
}
