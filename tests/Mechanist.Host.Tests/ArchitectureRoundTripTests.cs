using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host.Formats;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

/// <summary>Every architecture saves in SAELens layout and loads back bit for bit, with its own keys in cfg.json.</summary>
public class ArchitectureRoundTripTests
{
    const int DIn = 6, DSae = 10, DOut = 4;

    static Tensor R(int seed, params long[] shape) => randn(shape, generator: new Generator((ulong)seed));

    public static TheoryData<string> Architectures() =>
        ["standard", "standard-no-bdec", "topk", "topk-rescaled", "jumprelu", "gated", "transcoder", "skip_transcoder", "crosscoder"];

    static Decomposition Make(string name) => name switch
    {
        "standard" => new StandardSae(R(1, DIn, DSae), R(2, DSae), R(3, DSae, DIn), R(4, DIn)),
        "standard-no-bdec" => new StandardSae(R(1, DIn, DSae), R(2, DSae), R(3, DSae, DIn), R(4, DIn), applyBDecToInput: false),
        "topk" => new TopKSae(R(1, DIn, DSae), R(2, DSae), R(3, DSae, DIn), R(4, DIn), k: 3),
        "topk-rescaled" => new TopKSae(R(1, DIn, DSae), R(2, DSae), R(3, DSae, DIn), R(4, DIn), k: 3, rescaleActsByDecoderNorm: true),
        "jumprelu" => new JumpReluSae(R(1, DIn, DSae), R(2, DSae), R(3, DSae, DIn), R(4, DIn), R(5, DSae).abs()),
        "gated" => new GatedSae(R(1, DIn, DSae), R(2, DSae), R(5, DSae) * 0.1, R(6, DSae), R(3, DSae, DIn), R(4, DIn)),
        "transcoder" => new Transcoder(R(1, DIn, DSae), R(2, DSae), R(3, DSae, DOut), R(4, DOut)),
        "skip_transcoder" => new Transcoder(R(1, DIn, DSae), R(2, DSae), R(3, DSae, DOut), R(4, DOut), R(5, DOut, DIn)),
        "crosscoder" => new Crosscoder(R(1, 2 * DIn, DSae), R(2, DSae), R(3, DSae, 2 * DIn), R(4, 2 * DIn), sites: 2, ["a", "b"]),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Saves_and_loads_bit_for_bit(string name)
    {
        using var temp = new TempDir();
        using var sae = Make(name);
        DecompositionFolder.Save(temp.File("sae"), sae);
        using var loaded = DecompositionFolder.Load(temp.File("sae"));
        Assert.Equal(sae.GetType(), loaded.GetType());
        Assert.Equal(sae.Architecture, loaded.Architecture);
        Assert.Equal((sae.DIn, sae.DSae, sae.DOut), (loaded.DIn, loaded.DSae, loaded.DOut));
        var stored = Safetensors.ReadAll(Path.Combine(temp.File("sae"), "sae_weights.safetensors"));
        Assert.Equal(sae.StateDict().Keys.Order(StringComparer.Ordinal), stored.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, t) in sae.StateDict())
        {
            Assert.True(TensorAssert.Identical(t, stored[key]), $"{name}: stored {key}");
            Assert.True(TensorAssert.Identical(t, loaded.StateDict()[key]), $"{name}: loaded {key}");
        }
        var x = R(9, 7, sae.DIn);
        Assert.True(TensorAssert.Identical(sae.Encode(x), loaded.Encode(x)));
        Assert.True(TensorAssert.Identical(sae.Reconstruct(x), loaded.Reconstruct(x)));
    }

    [Fact]
    public void Config_carries_each_architectures_keys()
    {
        using var temp = new TempDir();
        JsonObject Cfg(string name)
        {
            using var sae = Make(name);
            DecompositionFolder.Save(temp.File(name), sae);
            return JsonNode.Parse(File.ReadAllText(Path.Combine(temp.File(name), "cfg.json")))!.AsObject();
        }
        var topk = Cfg("topk");
        Assert.Equal("topk", (string?)topk["architecture"]);
        Assert.Equal(3, (int)topk["k"]!);
        Assert.Equal(3, (int)topk["activation_fn_kwargs"]!["k"]!);
        Assert.False((bool)topk["rescale_acts_by_decoder_norm"]!);
        Assert.True((bool)topk["apply_b_dec_to_input"]!);
        var transcoder = Cfg("skip_transcoder");
        Assert.Equal("skip_transcoder", (string?)transcoder["architecture"]);
        Assert.Equal(DOut, (int)transcoder["d_out"]!);
        Assert.False((bool)transcoder["apply_b_dec_to_input"]!);
        var crosscoder = Cfg("crosscoder");
        Assert.Equal(DIn, (int)crosscoder["d_in"]!);
        Assert.Equal(2, (int)crosscoder["n_sites"]!);
        Assert.Equal(["a", "b"], crosscoder["hook_names"]!.AsArray().Select(n => (string?)n));
        Assert.False((bool)Cfg("standard-no-bdec")["apply_b_dec_to_input"]!);
    }

    [Fact]
    public void Topk_encoding_keeps_k_per_row_and_jumprelu_uses_a_strict_threshold()
    {
        using var topk = (TopKSae)Make("topk");
        var f = topk.Encode(R(9, 50, DIn));
        Assert.True(((f != 0).sum(1) <= 3).all().item<bool>());
        using var jump = new JumpReluSae(eye(3), zeros(3), eye(3), zeros(3), tensor(new float[] { 0.5f, 0.5f, 0.5f }), applyBDecToInput: false);
        var g = jump.Encode(tensor(new float[,] { { 0.5f, 0.6f, -1f } }));
        Assert.Equal(new float[] { 0, 0.6f, 0 }, g.data<float>().ToArray());
    }

    [Theory]
    [InlineData("normalize_activations", "\"layer_norm\"", "normalize_activations \"layer_norm\" is not supported")]
    [InlineData("architecture", "\"clt\"", "architecture 'clt' is not supported")]
    [InlineData("k", "11", "'k' must be an integer in [1, d_sae = 10], got 11")]
    public void Unsupported_configs_are_input_errors_naming_the_key(string key, string json, string expected)
    {
        using var temp = new TempDir();
        using var sae = Make("topk");
        DecompositionFolder.Save(temp.File("sae"), sae);
        var cfgPath = Path.Combine(temp.File("sae"), "cfg.json");
        var cfg = JsonNode.Parse(File.ReadAllText(cfgPath))!.AsObject();
        cfg[key] = JsonNode.Parse(json);
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        var e = Assert.Throws<MechanistInputException>(() => DecompositionFolder.Load(temp.File("sae")));
        Assert.Contains(expected, e.Message);
        Assert.Contains("cfg.json", e.Message);
    }

    [Fact]
    public void A_jumprelu_folder_without_its_threshold_names_the_missing_tensor()
    {
        using var temp = new TempDir();
        using var sae = Make("jumprelu");
        DecompositionFolder.Save(temp.File("sae"), sae);
        var weights = Path.Combine(temp.File("sae"), "sae_weights.safetensors");
        var tensors = Safetensors.ReadAll(weights);
        tensors.Remove("threshold");
        Safetensors.Write(weights, tensors);
        var e = Assert.Throws<MechanistInputException>(() => DecompositionFolder.Load(temp.File("sae")));
        Assert.Contains("'threshold'", e.Message);
    }
}
