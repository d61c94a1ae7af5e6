using System.Text.Json.Nodes;
using Mechanist.Host.Discovery;
using Mechanist.Host.Models;
using Mechanist.IO;
using Mechanist.Models;
using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

public class ModelFolderTests
{
    const string ModelsPlugin = "Mechanist.TestPlugins.Models";

    static string Gpt2Fixture => Path.Combine(Repo.Root, "tests", "Fixtures", "gpt2-tiny");

    /// <summary>A folder for the plugin's bigram architecture.</summary>
    public static string BigramFolder(string parent, int vocab = 10, int d = 4, int seed = 1)
    {
        var folder = Path.Combine(parent, "bigram");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"),
            new JsonObject { ["model_type"] = "test.bigram", ["vocab_size"] = vocab, ["d_model"] = d, ["n_positions"] = 8 }.ToJsonString());
        var g = new Generator((ulong)seed);
        Safetensors.Write(Path.Combine(folder, "model.safetensors"), new Dictionary<string, Tensor>
        {
            ["embed"] = randn(vocab, d, generator: g), ["unembed"] = randn(d, vocab, generator: g),
        });
        return folder;
    }

    [Fact]
    public void Gpt2_is_a_built_in_model_loader_resolved_by_model_type()
    {
        using var host = MechanistHost.Create([]);
        var entry = host.Catalog.Resolve("gpt2", MethodKind.ModelLoader);
        Assert.True(entry.IsBuiltIn);
        using var model = ModelFolder.Load(Gpt2Fixture, host.Catalog, host.Services);
        var lm = Assert.IsAssignableFrom<ILanguageModel>(model);
        Assert.Equal(96, lm.VocabSize);
        Assert.Equal(16, lm.ContextLength);
        Assert.Contains("blocks.1.attn.hook_pattern", model.HookSites);
    }

    [Fact]
    public void A_third_party_architecture_loads_through_the_plugin_path()
    {
        using var temp = new TempDir();
        using var scope = NewDisposeScope();
        using var host = MechanistHost.Create([Repo.Plugin(ModelsPlugin)]);
        Assert.Empty(host.Catalog.LoadFindings);
        var entry = host.Catalog.Resolve("test.bigram", MethodKind.ModelLoader);
        Assert.False(entry.IsBuiltIn);
        Assert.EndsWith($"{ModelsPlugin}.dll", entry.Source);

        var folder = BigramFolder(temp.Path);
        using var model = ModelFolder.Load(folder, host.Catalog, host.Services);
        Assert.Equal("test.bigram", model.ModelType);
        Assert.Equal(["hook_embed", "unembed.hook_out"], model.HookSites);
        var weights = Safetensors.ReadAll(Path.Combine(folder, "model.safetensors"));
        var ids = tensor(new long[] { 3, 1, 4, 1 }).reshape(2, 2);
        var (logits, cache) = model.RunWithCache(ids, ["hook_embed"]);
        Assert.True(TensorAssert.Identical(cache["hook_embed"], weights["embed"].index_select(0, ids.flatten()).reshape(2, 2, 4)));
        Assert.InRange((logits - cache["hook_embed"].matmul(weights["unembed"])).abs().max().item<float>(), 0, 1e-6);
        // The built-in hook helpers work on the plugin's own hook implementation too.
        var zeroed = model.RunZeroAblated(ids, "hook_embed");
        Assert.Equal(0f, zeroed.abs().max().item<float>());
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Unknown_model_type_is_MECH0003_listing_the_known_types()
    {
        using var temp = new TempDir();
        var folder = BigramFolder(temp.Path);
        using var host = MechanistHost.Create([]);
        var e = Assert.Throws<MechanistInputException>(() => ModelFolder.Load(folder, host.Catalog, host.Services));
        Assert.Contains("MECH0003", e.Message);
        Assert.Contains("unknown model-loader 'test.bigram'", e.Message);
        Assert.Contains("Known model-loaders: gpt2", e.Message);
    }

    [Fact]
    public void A_loader_that_throws_is_MECH0001()
    {
        using var temp = new TempDir();
        var folder = temp.File("m");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), "{\"model_type\": \"test.throwing-model\"}");
        using var host = MechanistHost.Create([Repo.Plugin(ModelsPlugin)]);
        var e = Assert.Throws<MethodFailedException>(() => ModelFolder.Load(folder, host.Catalog, host.Services));
        Assert.Equal("MECH0001", e.ToFinding().Id);
        Assert.Contains("planted failure in Load", e.Message);
    }

    [Theory]
    [InlineData(null, "file not found")]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("{\"model_type\": ", "not valid JSON")]
    [InlineData("{\"n_layer\": 2}", "missing 'model_type'")]
    public void Bad_config_files_name_the_file(string? content, string expected)
    {
        using var temp = new TempDir();
        var folder = temp.File("m");
        Directory.CreateDirectory(folder);
        if (content is not null) File.WriteAllText(Path.Combine(folder, "config.json"), content);
        using var host = MechanistHost.Create([]);
        var e = Assert.Throws<MechanistInputException>(() => ModelFolder.Load(folder, host.Catalog, host.Services));
        Assert.Contains(Path.Combine(folder, "config.json"), e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Contains("not found", Assert.Throws<MechanistInputException>(() => ModelFolder.Load(temp.File("none"), host.Catalog, host.Services)).Message);
    }

    [Fact]
    public void A_saved_random_gpt2_loads_through_the_catalog()
    {
        using var temp = new TempDir();
        using var scope = NewDisposeScope();
        using var random = Gpt2Model.CreateRandom(new Gpt2Config { NLayer = 1, NEmbd = 8, NHead = 2, VocabSize = 20, NPositions = 4 }, 9);
        random.Save(temp.File("m"));
        using var host = MechanistHost.Create([]);
        using var loaded = ModelFolder.Load(temp.File("m"), host.Catalog, host.Services);
        var ids = tensor(new long[] { 1, 2, 3 }).reshape(1, 3);
        Assert.True(TensorAssert.Identical(random.Run(ids), loaded.Run(ids)));
    }
}
