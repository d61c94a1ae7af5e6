using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

/// <summary>GPT-2 against the independent PyTorch implementation's outputs, and its Hugging Face layout.</summary>
public class Gpt2FixtureTests
{
    const double Tolerance = 1e-4;

    static double MaxAbs(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();

    [Fact]
    public void Logits_and_hook_activations_match_the_PyTorch_reference_to_1e_4()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Load();
        var expected = Gpt2Fixture.Expected();
        string[] sites = ["blocks.0.attn.hook_pattern", "blocks.1.hook_resid_mid", "blocks.1.mlp.hook_post"];
        var (logits, cache) = model.RunWithCache(expected["tokens"], sites);
        Assert.Equal(expected["logits"].shape, logits.shape);
        Assert.True(expected["logits"].std().item<float>() > 1, "the reference logits carry signal");
        Assert.InRange(MaxAbs(logits, expected["logits"]), 0, Tolerance);
        foreach (var site in sites)
        {
            Assert.Equal(expected[site].shape, cache[site].shape);
            Assert.InRange(MaxAbs(cache[site], expected[site]), 0, Tolerance);
        }
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void The_fixture_checkpoint_uses_GPT2LMHeadModel_names_buffers_and_a_tied_head()
    {
        var header = Safetensors.ReadHeader(Path.Combine(Gpt2Fixture.Folder, "model.safetensors"));
        Assert.Contains("transformer.h.0.attn.c_attn.weight", header.Entries.Keys);
        Assert.Contains("transformer.h.1.attn.bias", header.Entries.Keys);
        Assert.Contains("transformer.h.1.attn.masked_bias", header.Entries.Keys);
        Assert.Contains("lm_head.weight", header.Entries.Keys);
        Assert.Equal([32L, 96L], header.Entries["transformer.h.0.attn.c_attn.weight"].Shape); // Conv1D [in, out]
    }

    [Fact]
    public void Hook_sites_have_TransformerLens_names_and_shapes()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Load();
        var ids = Gpt2Fixture.TokenIds().narrow(0, 0, 2).narrow(1, 0, 5);
        var (_, cache) = model.RunWithCache(ids, model.HookSites);
        long[] residual = [2, 5, 32], heads = [2, 5, 4, 8], pattern = [2, 4, 5, 5];
        Assert.Equal(residual, cache["hook_embed"].shape);
        Assert.Equal(residual, cache["hook_pos_embed"].shape);
        for (int i = 0; i < 2; i++)
        {
            foreach (var s in new[] { "hook_resid_pre", "ln1.hook_normalized", "hook_attn_out", "hook_resid_mid", "ln2.hook_normalized", "hook_mlp_out", "hook_resid_post" })
                Assert.Equal(residual, cache[$"blocks.{i}.{s}"].shape);
            foreach (var s in new[] { "q", "k", "v", "z" })
                Assert.Equal(heads, cache[$"blocks.{i}.attn.hook_{s}"].shape);
            Assert.Equal(pattern, cache[$"blocks.{i}.attn.hook_attn_scores"].shape);
            Assert.Equal(pattern, cache[$"blocks.{i}.attn.hook_pattern"].shape);
            Assert.Equal([2L, 5, 128], cache[$"blocks.{i}.mlp.hook_pre"].shape);
            Assert.Equal([2L, 5, 128], cache[$"blocks.{i}.mlp.hook_post"].shape);
        }
        Assert.Equal(residual, cache["ln_final.hook_normalized"].shape);
        Assert.Equal([2L, 5, 96], cache["unembed.hook_out"].shape);

        // The residual stream adds up: resid_pre(0) = embed + pos_embed; resid_post(i) = resid_mid(i) + mlp_out(i).
        Assert.InRange(MaxAbs(cache["blocks.0.hook_resid_pre"], cache["hook_embed"] + cache["hook_pos_embed"]), 0, 1e-6);
        Assert.InRange(MaxAbs(cache["blocks.1.hook_resid_post"], cache["blocks.1.hook_resid_mid"] + cache["blocks.1.hook_mlp_out"]), 0, 1e-6);
        // Causal: scores above the diagonal are -inf, the pattern's rows sum to 1 and are zero there.
        var scores = cache["blocks.0.attn.hook_attn_scores"];
        Assert.True(float.IsNegativeInfinity(scores[0, 0, 1, 2].item<float>()));
        Assert.True(float.IsFinite(scores[0, 0, 2, 1].item<float>()));
        var p = cache["blocks.1.attn.hook_pattern"];
        Assert.InRange(MaxAbs(p.sum(-1), ones(2, 4, 5)), 0, 1e-6);
        Assert.Equal(0f, p[1, 3, 0, 4].item<float>());
        // z is pattern @ v per head.
        var z = p.matmul(cache["blocks.1.attn.hook_v"].permute(0, 2, 1, 3)).permute(0, 2, 1, 3);
        Assert.InRange(MaxAbs(z, cache["blocks.1.attn.hook_z"]), 0, 1e-6);
    }

    [Fact]
    public void Later_positions_never_change_earlier_ones()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Load();
        var ids = Gpt2Fixture.TokenIds();
        var full = model.Run(ids);
        var prefix = model.Run(ids.narrow(1, 0, 7));
        Assert.InRange(MaxAbs(full.narrow(1, 0, 7), prefix), 0, 1e-5);
    }

    [Fact]
    public void Save_then_load_reproduces_the_logits_and_writes_Hugging_Face_names()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempDir();
        using var model = Gpt2Fixture.Load();
        var ids = Gpt2Fixture.TokenIds();
        var logits = model.Run(ids);
        model.Save(temp.File("copy"));
        Assert.Equal(["copy", "copy/config.json", "copy/model.safetensors"], temp.Entries());
        var names = Safetensors.ReadHeader(temp.File("copy/model.safetensors")).Entries.Keys.ToHashSet();
        Assert.Contains("wte.weight", names);
        Assert.Contains("h.1.mlp.c_proj.weight", names);
        Assert.Contains("ln_f.bias", names);
        Assert.DoesNotContain("lm_head.weight", names); // tied: not stored twice
        Assert.Equal(4 + 2 * 12, names.Count);
        var config = JsonNode.Parse(File.ReadAllText(temp.File("copy/config.json")))!;
        Assert.Equal("gpt2", (string?)config["model_type"]);
        Assert.Equal(1e-5, (double)config["layer_norm_epsilon"]!);
        using var copy = Gpt2Model.Load(temp.File("copy"));
        Assert.True(TensorAssert.Identical(logits, copy.Run(ids)));
    }

    [Fact]
    public void Random_models_are_reproducible_from_their_seed()
    {
        using var scope = NewDisposeScope();
        using var a = Gpt2Fixture.Small(seed: 5);
        using var b = Gpt2Fixture.Small(seed: 5);
        using var c = Gpt2Fixture.Small(seed: 6);
        var ids = tensor(new long[] { 1, 2, 3, 4 }).reshape(1, 4);
        Assert.True(TensorAssert.Identical(a.Run(ids), b.Run(ids)));
        Assert.False(TensorAssert.Identical(a.Run(ids), c.Run(ids)));
    }

    [Fact]
    public void Untied_head_scaled_attention_and_other_activations_follow_the_config()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempDir();
        var config = new Gpt2Config
        {
            NLayer = 2, NEmbd = 8, NHead = 2, VocabSize = 11, NPositions = 6, NInner = 12, TieWordEmbeddings = false,
            ScaleAttnByInverseLayerIdx = true, ActivationFunction = "relu",
        };
        using var model = Gpt2Model.CreateRandom(config, 3);
        Assert.Contains("lm_head.weight", model.Weights().Keys);
        Assert.Equal([8L, 12], model.Weights()["h.0.mlp.c_fc.weight"].shape);
        var ids = tensor(new long[] { 1, 2, 3, 10 }).reshape(1, 4);
        var (logits, cache) = model.RunWithCache(ids, ["blocks.1.mlp.hook_post", "blocks.1.mlp.hook_pre"]);
        Assert.True(TensorAssert.Identical(cache["blocks.1.mlp.hook_post"], cache["blocks.1.mlp.hook_pre"].relu()));
        model.Save(temp.File("m"));
        using var loaded = Gpt2Model.Load(temp.File("m"));
        Assert.Equal(config, loaded.Config);
        Assert.True(TensorAssert.Identical(logits, loaded.Run(ids)));
    }
}
