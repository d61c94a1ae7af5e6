using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Models.Serialization;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

public class MlpTests
{
    static readonly MlpConfig Config = new() { LayerSizes = [5, 8, 6, 3], Activation = "gelu" };

    [Fact]
    public void Forward_is_linear_layers_with_the_activation_between_and_hooks_per_layer()
    {
        using var model = Mlp.Create(Config, 2);
        Assert.Equal(["hook_in", "layers.0.hook_pre", "layers.0.hook_post", "layers.1.hook_pre", "layers.1.hook_post", "layers.2.hook_pre", "hook_out"],
            model.HookSites);
        using var x = randn(4, 5, generator: new Generator(1));
        var (output, cache) = model.RunWithCache(x, model.HookSites);
        var w = model.Weights.ToDictionary(p => p.Name, p => p.Value.detach().to(ScalarType.Float64));
        var h = x.to(ScalarType.Float64);
        for (int i = 0; i < 3; i++)
        {
            h = h.matmul(w[$"layers.{i}.weight"].t()) + w[$"layers.{i}.bias"];
            Assert.True(cache[$"layers.{i}.hook_pre"].to(ScalarType.Float64).allclose(h, atol: 1e-6), $"layer {i}");
            if (i < 2) h = nn.functional.gelu(h);
        }
        Assert.True(output.to(ScalarType.Float64).allclose(h, atol: 1e-6));
        Assert.Equal([8, 5], w["layers.0.weight"].shape);
        Assert.Equal(0, model.ActiveHookCount);

        // A patched hidden layer changes the output; the hook is gone afterwards.
        var ablated = model.RunZeroAblated(x, "layers.1.hook_post");
        Assert.True(ablated.allclose(model.Weights.Single(p => p.Name == "layers.2.bias").Value.expand(4, 3)));
        Assert.Equal(0, model.ActiveHookCount);
        ModelFolderFixtures.AssertRejected(() => model.Run(ones(4, 3)), "float inputs [batch, 5]");
    }

    [Fact]
    public void Initialisation_is_PyTorch_Linear_uniform()
    {
        using var model = Mlp.Create(new MlpConfig { LayerSizes = [400, 300, 2] }, 0);
        var w0 = model.Weights[0].Value;
        double bound = 1 / Math.Sqrt(400);
        Assert.True(w0.abs().max().item<float>() <= bound);
        Assert.InRange(w0.std().item<float>(), bound / Math.Sqrt(3) * 0.97, bound / Math.Sqrt(3) * 1.03);
    }

    [Fact]
    public void Save_and_load_round_trip_and_strict_config()
    {
        using var temp = new TempDir();
        using var model = Mlp.Create(Config, 3);
        var folder = temp.File("mlp");
        model.Save(folder);
        using var loaded = Mlp.Load(folder);
        Assert.Equal(Config, loaded.Config);
        using var x = randn(2, 5);
        Assert.True(TensorAssert.Identical(model.Run(x), loaded.Run(x)));

        ModelFolderFixtures.EditConfig(folder, c => c["activation"] = "gleu");
        ModelFolderFixtures.AssertRejected(() => Mlp.Load(folder), "key 'activation' is 'gleu'", "Did you mean 'gelu'?");
        ModelFolderFixtures.EditConfig(folder, c => { c["activation"] = "gelu"; c["layer_sizes"] = new System.Text.Json.Nodes.JsonArray(5); });
        ModelFolderFixtures.AssertRejected(() => Mlp.Load(folder), "key 'layer_sizes' must hold at least 2 integers");
        ModelFolderFixtures.EditConfig(folder, c => c["layer_sizes"] = new System.Text.Json.Nodes.JsonArray(5, 0, 3));
        ModelFolderFixtures.AssertRejected(() => Mlp.Load(folder), "key 'layer_sizes[1]' is 0");
        ModelFolderFixtures.EditConfig(folder, c => c["layer_sizes"] = new System.Text.Json.Nodes.JsonArray(5, 8, 6, 3));
        ModelFolderFixtures.EditWeights(folder, t => t.Remove("layers.2.bias"));
        ModelFolderFixtures.AssertRejected(() => Mlp.Load(folder), "missing tensor 'layers.2.bias'", "layer_sizes[3]");
    }
}
