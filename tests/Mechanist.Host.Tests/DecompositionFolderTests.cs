using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host.Formats;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

public class DecompositionFolderTests
{
    static StandardSae RandomSae(int dIn = 5, int dSae = 7, int seed = 1)
    {
        var g = new Generator((ulong)seed);
        return new StandardSae(randn(dIn, dSae, generator: g), randn(dSae, generator: g), randn(dSae, dIn, generator: g), randn(dIn, generator: g));
    }

    [Fact]
    public void Round_trip_is_bit_for_bit_and_writes_SAELens_layout()
    {
        using var temp = new TempDir();
        var dir = temp.File("sae");
        using var sae = RandomSae();
        sae.Metadata = new DecompositionMetadata { Method = "pca", HookName = "blocks.0.hook_resid_post", Seed = 3 };
        DecompositionFolder.Save(dir, sae);

        Assert.Equal(["cfg.json", "sae_weights.safetensors"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "cfg.json")))!.AsObject();
        Assert.Equal("standard", (string?)cfg["architecture"]);
        Assert.Equal(5, (int)cfg["d_in"]!);
        Assert.Equal(7, (int)cfg["d_sae"]!);
        Assert.Equal("blocks.0.hook_resid_post", (string?)cfg["metadata"]!["hook_name"]);

        var raw = Safetensors.ReadAll(Path.Combine(dir, "sae_weights.safetensors"));
        Assert.Equal(["W_dec", "W_enc", "b_dec", "b_enc"], raw.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([5L, 7L], raw["W_enc"].shape);
        Assert.Equal([7L, 5L], raw["W_dec"].shape);

        using var loaded = DecompositionFolder.Load(dir);
        foreach (var (name, tensor) in sae.StateDict())
            Assert.True(TensorAssert.Identical(tensor, loaded.StateDict()[name]), name);
        using var x = randn(3, 5, generator: new Generator(9));
        Assert.True(TensorAssert.Identical(sae.Encode(x), loaded.Encode(x)));
        Assert.Equal("blocks.0.hook_resid_post", loaded.Metadata.HookName);
        Assert.DoesNotContain(Directory.GetDirectories(temp.Path), d => Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public void Saving_over_an_existing_folder_replaces_it_whole()
    {
        using var temp = new TempDir();
        var dir = temp.File("sae");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "stale.txt"), "old");
        using var sae = RandomSae();
        DecompositionFolder.Save(dir, sae);
        Assert.False(File.Exists(Path.Combine(dir, "stale.txt")));
        Assert.Equal(["sae"], temp.Entries().Where(e => !e.Contains('/')));
    }

    [Fact]
    public void A_failed_save_leaves_nothing()
    {
        using var temp = new TempDir();
        var dir = temp.File("sae");
        using var sae = RandomSae();
        Assert.ThrowsAny<IOException>(() => DecompositionFolder.Save(dir, sae, new Dictionary<string, string> { ["sub/dir/that/does/not/exist.txt"] = "x" }
            .ToDictionary(kv => kv.Key, kv => kv.Value)) );
        Assert.Empty(temp.Entries());
    }

    [Fact]
    public void Wrong_shapes_name_the_tensor_and_the_expected_shape()
    {
        using var temp = new TempDir();
        var dir = temp.File("sae");
        using var sae = RandomSae();
        DecompositionFolder.Save(dir, sae);
        var cfgPath = Path.Combine(dir, "cfg.json");
        var cfg = JsonNode.Parse(File.ReadAllText(cfgPath))!.AsObject();
        cfg["d_in"] = 6;
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        var e = Assert.Throws<MechanistInputException>(() => DecompositionFolder.Load(dir));
        Assert.Contains("'W_enc'", e.Message);
        Assert.Contains("[5, 7]", e.Message);
        Assert.Contains("[6, 7]", e.Message);
    }

    [Fact]
    public void Missing_files_keys_and_unknown_architectures_are_named()
    {
        using var temp = new TempDir();
        Assert.Contains("not found", Assert.Throws<MechanistInputException>(() => DecompositionFolder.Load(temp.File("nope"))).Message);

        var dir = temp.File("sae");
        using var sae = RandomSae();
        DecompositionFolder.Save(dir, sae);
        var cfgPath = Path.Combine(dir, "cfg.json");
        var cfg = JsonNode.Parse(File.ReadAllText(cfgPath))!.AsObject();

        cfg["architecture"] = "mystery";
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        Assert.Contains("architecture 'mystery'", Assert.Throws<MechanistInputException>(() => DecompositionFolder.Load(dir)).Message);

        cfg["architecture"] = "standard";
        cfg.Remove("d_sae");
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        Assert.Contains("'d_sae' must be a positive integer (missing)", Assert.Throws<MechanistInputException>(() => DecompositionFolder.Load(dir)).Message);

        File.WriteAllText(cfgPath, "{ not json");
        Assert.Contains("not valid JSON", Assert.Throws<MechanistInputException>(() => DecompositionFolder.Load(dir)).Message);

        File.Delete(cfgPath);
        Assert.Contains("no cfg.json", Assert.Throws<MechanistInputException>(() => DecompositionFolder.Load(dir)).Message);
    }

    [Fact]
    public void Non_finite_weights_are_refused_on_load()
    {
        using var temp = new TempDir();
        var dir = temp.File("sae");
        var wDec = randn(7, 5);
        wDec[2, 3] = tensor(float.PositiveInfinity);
        using var sae = new StandardSae(randn(5, 7), zeros(7), wDec, zeros(5));
        DecompositionFolder.Save(dir, sae);
        var e = Assert.Throws<MechanistInputException>(() => DecompositionFolder.Load(dir));
        Assert.Contains("'W_dec'", e.Message);
        Assert.Contains("row 2, column 3", e.Message);
    }
}
