using Mechanist.Host;
using Mechanist.Host.Models;
using Mechanist.Models;
using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Models.Serialization;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

/// <summary>The built-in loaders of the toy architectures, found through the catalog like any model loader.</summary>
public class ModelLoaderTests
{
    static IHookedModel LoadThroughCatalog(string folder)
    {
        using var host = MechanistHost.Create([]);
        var config = ModelFolderLayout.ReadConfig(folder);
        Assert.True(host.Catalog.Resolve(ConfigReader.ModelTypeOf(config, folder), MethodKind.ModelLoader).IsBuiltIn);
        return ModelFolder.Load(folder, host.Catalog, host.Services);
    }

    [Fact]
    public void Modular_addition_folder_loads_as_a_hooked_model()
    {
        using var temp = new TempDir();
        using var model = ModularAdditionTransformer.Create(new ModularAdditionConfig { P = 7, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32 }, 1);
        model.Save(temp.File("m"));
        using var loaded = LoadThroughCatalog(temp.File("m"));
        Assert.Equal("modular-addition", loaded.ModelType);
        Assert.Equal(model.HookSites, loaded.HookSites);
        using var tokens = tensor(new long[] { 1, 2, 7, 6, 6, 7 }).reshape(2, 3);
        Assert.True(TensorAssert.Identical(model.Run(tokens), loaded.Run(tokens)));
        var (_, cache) = loaded.RunWithCache(tokens, ["blocks.0.attn.hook_pattern"]);
        Assert.Equal([2, 2, 3, 3], cache["blocks.0.attn.hook_pattern"].shape);
        Assert.Equal(0, loaded.ActiveHookCount);
    }

    [Fact]
    public void Toy_superposition_and_mlp_folders_load_as_hooked_models()
    {
        using var temp = new TempDir();
        using var toy = ToySuperposition.Create(new ToySuperpositionConfig { NFeatures = 8, NHidden = 3 }, 2);
        toy.Save(temp.File("toy"));
        using var mlp = Mlp.Create(new MlpConfig { LayerSizes = [8, 4, 2] }, 3);
        mlp.Save(temp.File("mlp"));
        using var x = rand(5, 8);
        using (var loaded = LoadThroughCatalog(temp.File("toy")))
        {
            Assert.Equal("toy-superposition", loaded.ModelType);
            Assert.True(TensorAssert.Identical(toy.Run(x), loaded.Run(x)));
        }
        using (var loaded = LoadThroughCatalog(temp.File("mlp")))
        {
            Assert.Equal("mlp", loaded.ModelType);
            Assert.Contains("layers.0.hook_post", loaded.HookSites);
            Assert.True(TensorAssert.Identical(mlp.Run(x), loaded.Run(x)));
        }
    }

    [Fact]
    public void A_folder_with_a_broken_weight_file_is_an_input_error_naming_it()
    {
        using var temp = new TempDir();
        using var toy = ToySuperposition.Create(new ToySuperpositionConfig { NFeatures = 8, NHidden = 3 }, 2);
        toy.Save(temp.File("toy"));
        var weights = ModelFolderLayout.WeightsPath(temp.File("toy"));
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..^8]);
        var e = Assert.Throws<MechanistInputException>(() => LoadThroughCatalog(temp.File("toy")));
        Assert.Contains(weights, e.Message);
        Assert.Contains("truncated", e.Message);
    }
}
