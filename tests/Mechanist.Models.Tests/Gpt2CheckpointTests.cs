using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

/// <summary>Every way a GPT-2 folder can be wrong is an input error naming the file and the key or tensor.</summary>
public class Gpt2CheckpointTests
{
    /// <summary>A copy of the fixture with its weights (stored names) and config edited.</summary>
    static string Copy(TempDir temp, Action<Dictionary<string, Tensor>>? weights = null, Action<JsonObject>? config = null)
    {
        var folder = temp.File("model");
        Directory.CreateDirectory(folder);
        var w = Safetensors.ReadAll(Path.Combine(Gpt2Fixture.Folder, "model.safetensors"));
        weights?.Invoke(w);
        Safetensors.Write(Path.Combine(folder, "model.safetensors"), w);
        var c = JsonNode.Parse(File.ReadAllText(Path.Combine(Gpt2Fixture.Folder, "config.json")))!.AsObject();
        config?.Invoke(c);
        File.WriteAllText(Path.Combine(folder, "config.json"), c.ToJsonString());
        return folder;
    }

    static string LoadError(string folder) => Assert.Throws<MechanistInputException>(() => Gpt2Model.Load(folder)).Message;

    [Fact]
    public void The_unprefixed_layout_and_no_buffers_load_the_same_model()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempDir();
        var folder = Copy(temp, w =>
        {
            foreach (var key in w.Keys.ToList())
            {
                var t = w[key];
                w.Remove(key);
                if (key.EndsWith(".attn.bias") || key.EndsWith(".attn.masked_bias") || key == "lm_head.weight") continue;
                w[key.Replace("transformer.", "")] = t;
            }
        });
        using var a = Gpt2Fixture.Load();
        using var b = Gpt2Model.Load(folder);
        var ids = Gpt2Fixture.TokenIds();
        Assert.True(TensorAssert.Identical(a.Run(ids), b.Run(ids)));
    }

    [Fact]
    public void Half_precision_weights_are_converted()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempDir();
        var folder = Copy(temp, w => { foreach (var k in w.Keys.ToList()) w[k] = w[k].to(ScalarType.Float16); });
        using var model = Gpt2Model.Load(folder);
        var expected = Gpt2Fixture.Expected()["logits"];
        var error = (model.Run(Gpt2Fixture.TokenIds()) - expected).abs().max().item<float>();
        Assert.InRange(error, 1e-6, 0.1); // rounded weights: close, not equal
    }

    [Fact]
    public void Missing_weight()
    {
        using var temp = new TempDir();
        var message = LoadError(Copy(temp, w => w.Remove("transformer.h.1.mlp.c_fc.bias")));
        Assert.Contains("model.safetensors", message);
        Assert.Contains("missing weight 'h.1.mlp.c_fc.bias'", message);
        Assert.Contains("[128]", message);
    }

    [Fact]
    public void Wrong_shape()
    {
        using var temp = new TempDir();
        var message = LoadError(Copy(temp, w => w["transformer.h.0.attn.c_attn.weight"] = zeros(96, 32)));
        Assert.Contains("tensor 'transformer.h.0.attn.c_attn.weight' has shape [96, 32]; expected [32, 96]", message);
    }

    [Fact]
    public void Wrong_dtype()
    {
        using var temp = new TempDir();
        var message = LoadError(Copy(temp, w => w["transformer.wpe.weight"] = zeros(16, 32, ScalarType.Int32)));
        Assert.Contains("tensor 'transformer.wpe.weight' has dtype I32", message);
        Assert.Contains("floating-point", message);
    }

    [Fact]
    public void Non_finite_weight()
    {
        using var temp = new TempDir();
        var message = LoadError(Copy(temp, w => w["transformer.ln_f.bias"][3] = tensor(float.NaN)));
        Assert.Contains("tensor 'transformer.ln_f.bias' contains NaN", message);
    }

    [Fact]
    public void Unexpected_tensor_and_a_third_layer()
    {
        using var temp = new TempDir();
        var message = LoadError(Copy(temp, w => w["transformer.h.2.ln_1.weight"] = ones(32)));
        Assert.Contains("unexpected tensor 'transformer.h.2.ln_1.weight'", message);
        Assert.Contains("2 layers", message);
    }

    [Fact]
    public void Untied_head_under_a_tied_config()
    {
        using var temp = new TempDir();
        var message = LoadError(Copy(temp, w => w["lm_head.weight"] = w["lm_head.weight"] + 1));
        Assert.Contains("'lm_head.weight' differs from 'wte.weight'", message);
        Assert.Contains("tie_word_embeddings", message);
    }

    [Fact]
    public void Missing_config_key()
    {
        using var temp = new TempDir();
        var message = LoadError(Copy(temp, config: c => c.Remove("n_head")));
        Assert.Contains("config.json", message);
        Assert.Contains("missing required key 'n_head'", message);
    }

    [Fact]
    public void Unknown_config_key_suggests_the_closest()
    {
        using var temp = new TempDir();
        var message = LoadError(Copy(temp, config: c => c["layer_norm_eps"] = 1e-5));
        Assert.Contains("unknown key 'layer_norm_eps'", message);
        Assert.Contains("Did you mean 'layer_norm_epsilon'?", message);
    }

    [Theory]
    [InlineData("n_embd", "\"32\"", "'n_embd' must be an integer")]
    [InlineData("n_head", "5", "'n_embd' (32) must be divisible by 'n_head' (5)")]
    [InlineData("n_layer", "0", "'n_layer' must be at least 1")]
    [InlineData("layer_norm_epsilon", "-1", "'layer_norm_epsilon' must be a positive number")]
    [InlineData("activation_function", "\"gelu_neww\"", "Did you mean 'gelu_new'?")]
    [InlineData("model_type", "\"gpt_neox\"", "expected 'gpt2'")]
    [InlineData("tie_word_embeddings", "\"yes\"", "'tie_word_embeddings' must be true or false")]
    [InlineData("add_cross_attention", "true", "cross-attention")]
    public void Bad_config_values(string key, string json, string expected)
    {
        using var temp = new TempDir();
        var message = LoadError(Copy(temp, config: c => c[key] = JsonNode.Parse(json)));
        Assert.Contains(expected, message);
        Assert.Contains("config.json", message);
    }

    [Fact]
    public void Hugging_Face_bookkeeping_keys_are_accepted()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempDir();
        var folder = Copy(temp, config: c =>
        {
            c["_name_or_path"] = "gpt2";
            c["task_specific_params"] = new JsonObject { ["text-generation"] = new JsonObject { ["do_sample"] = true } };
            c["summary_type"] = "cls_index";
            c["torch_dtype"] = "float32";
            c["reorder_and_upcast_attn"] = false;
        });
        using var model = Gpt2Model.Load(folder);
        Assert.Equal(96, model.VocabSize);
    }

    [Fact]
    public void Corrupt_files_name_the_file()
    {
        using var temp = new TempDir();
        var folder = Copy(temp);
        var weights = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..^100]);
        Assert.Contains("truncated", LoadError(folder));
        BitConverter.GetBytes(1UL << 40).CopyTo(bytes, 0);
        File.WriteAllBytes(weights, bytes);
        Assert.Contains("exceeds the limit", LoadError(folder));
        File.Delete(weights);
        Assert.Contains("model.safetensors: file not found", LoadError(folder));
        File.WriteAllText(Path.Combine(folder, "config.json"), "{\"model_type\": ");
        Assert.Contains("config.json: not valid JSON", LoadError(folder));
        Assert.Contains("model folder not found", LoadError(temp.File("nowhere")));
    }
}
