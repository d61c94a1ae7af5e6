using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Models.Serialization;
using Mechanist.Models.Training;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

public class ModularAdditionTransformerTests
{
    static readonly ModularAdditionConfig Small = new() { P = 11, DModel = 24, NHeads = 3, DHead = 8, DMlp = 40 };

    /// <summary>A model with every weight, biases included, random (biases are zero after Create).</summary>
    static ModularAdditionTransformer RandomModel(ModularAdditionConfig config, int seed = 3)
    {
        var model = ModularAdditionTransformer.Create(config, seed);
        var g = new Generator(99);
        using var _ = no_grad();
        foreach (var (name, p) in model.Weights)
            if (ModularAdditionTransformer.IsBias(name)) p.copy_(randn(p.shape, generator: g) * 0.3);
        return model;
    }

    [Fact]
    public void Hook_sites_are_the_TransformerLens_names_in_execution_order()
    {
        using var model = ModularAdditionTransformer.Create(Small, 0);
        Assert.Equal([
            "hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre",
            "blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v", "blocks.0.attn.hook_attn_scores",
            "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out", "blocks.0.hook_resid_mid",
            "blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post", "unembed.hook_out",
        ], model.HookSites);
        var order = new List<string>();
        var hooks = model.HookSites.Select(s => (s, (Func<Tensor, Tensor?>)(_ => { order.Add(s); return null; }))).ToArray();
        model.RunWithHooks(ModularAdditionData.Tokens(Small.P).narrow(0, 0, 4), hooks).Dispose();
        Assert.Equal(model.HookSites, order);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Activations_have_TransformerLens_shapes()
    {
        using var model = RandomModel(Small);
        using var tokens = ModularAdditionData.Tokens(Small.P).narrow(0, 0, 5);
        var (logits, cache) = model.RunWithCache(tokens, model.HookSites);
        Assert.Equal([5, 3, 11], logits.shape);
        long[] Shape(string site) => cache[site].shape;
        Assert.Equal([5, 3, 24], Shape("hook_embed"));
        Assert.Equal([5, 3, 24], Shape("hook_pos_embed"));
        Assert.Equal([5, 3, 24], Shape("blocks.0.hook_resid_pre"));
        Assert.Equal([5, 3, 3, 8], Shape("blocks.0.attn.hook_q"));
        Assert.Equal([5, 3, 3, 8], Shape("blocks.0.attn.hook_z"));
        Assert.Equal([5, 3, 3, 3], Shape("blocks.0.attn.hook_pattern"));
        Assert.Equal([5, 3, 40], Shape("blocks.0.mlp.hook_post"));
        Assert.Equal([5, 3, 24], Shape("blocks.0.hook_resid_post"));
        Assert.True(TensorAssert.Identical(logits, cache["unembed.hook_out"]));
        // Causal: position q attends only to k <= q, and each pattern row sums to 1.
        var pattern = cache["blocks.0.attn.hook_pattern"];
        Assert.Equal(0.0, pattern.triu(1).abs().max().item<float>());
        Assert.True(pattern.sum(-1).allclose(ones(5, 3, 3), atol: 1e-6));
        Assert.True(float.IsNegativeInfinity(cache["blocks.0.attn.hook_attn_scores"][0, 0, 0, 1].item<float>()));
        // The residual stream adds up: resid_post = embed + pos + attn_out + mlp_out.
        var sum = cache["hook_embed"] + cache["hook_pos_embed"] + cache["blocks.0.hook_attn_out"] + cache["blocks.0.hook_mlp_out"];
        Assert.True(sum.allclose(cache["blocks.0.hook_resid_post"], atol: 1e-5));
    }

    [Fact]
    public void Forward_matches_an_independent_float64_reference()
    {
        using var model = RandomModel(Small);
        using var tokens = tensor(new long[] { 3, 7, 11, 0, 10, 11 }).reshape(2, 3);
        using var logits = model.Run(tokens);
        var w = model.Weights.ToDictionary(x => x.Name, x => x.Value.detach().to(ScalarType.Float64));
        for (int b = 0; b < 2; b++)
        {
            // Per position, per head, with plain matrix products.
            var x = stack(Enumerable.Range(0, 3).Select(i => w["embed.W_E"][tokens[b, i].item<long>()] + w["pos_embed.W_pos"][i]).ToArray());
            var attn = zeros(3, 24, ScalarType.Float64) + w["blocks.0.attn.b_O"];
            for (int h = 0; h < 3; h++)
            {
                var q = x.matmul(w["blocks.0.attn.W_Q"][h]) + w["blocks.0.attn.b_Q"][h];
                var k = x.matmul(w["blocks.0.attn.W_K"][h]) + w["blocks.0.attn.b_K"][h];
                var v = x.matmul(w["blocks.0.attn.W_V"][h]) + w["blocks.0.attn.b_V"][h];
                for (int i = 0; i < 3; i++)
                {
                    var scores = k.narrow(0, 0, i + 1).matmul(q[i]) / Math.Sqrt(8);
                    var z = scores.softmax(0).matmul(v.narrow(0, 0, i + 1));
                    attn[i] += z.matmul(w["blocks.0.attn.W_O"][h]);
                }
            }
            var mid = x + attn;
            var resid = mid + nn.functional.relu(mid.matmul(w["blocks.0.mlp.W_in"]) + w["blocks.0.mlp.b_in"]).matmul(w["blocks.0.mlp.W_out"]) + w["blocks.0.mlp.b_out"];
            var expected = resid.matmul(w["unembed.W_U"]) + w["unembed.b_U"];
            Assert.True(logits[b].to(ScalarType.Float64).allclose(expected, rtol: 1e-4, atol: 1e-5), $"sample {b}");
        }
    }

    [Theory]
    [InlineData("relu")]
    [InlineData("gelu")]
    public void Fast_path_equals_the_full_forward_at_the_last_position(string act)
    {
        var config = Small with { ActFn = act };
        using var model = RandomModel(config);
        using var tokens = ModularAdditionData.Tokens(config.P);
        using var full = model.Run(tokens).select(1, 2);
        using var fast = model.LastPositionLogits(tokens);
        Assert.Equal(full.shape, fast.shape);
        Assert.True(fast.allclose(full, rtol: 1e-5, atol: 1e-5), $"max difference {(fast - full).abs().max().item<float>()}");
        // Any token sequence, not only "a b =": shorter inputs and "=" elsewhere.
        using var odd = tensor(new long[] { 11, 2, 5, 11 }).reshape(2, 2);
        Assert.True(model.LastPositionLogits(odd).allclose(model.Run(odd).select(1, 1), rtol: 1e-5, atol: 1e-5));
        // Gradients agree too, which is what training relies on.
        using var labels = ModularAdditionData.Labels(config.P);
        var grads = new List<Tensor[]>();
        foreach (var logits in new Func<Tensor>[] { () => model.Run(tokens).select(1, 2), () => model.LastPositionLogits(tokens) })
        {
            foreach (var (_, p) in model.Weights) p.grad?.zero_();
            nn.functional.cross_entropy(logits(), labels).backward();
            grads.Add(model.Weights.Select(w => w.Value.grad!.clone()).ToArray());
        }
        for (int i = 0; i < grads[0].Length; i++)
            Assert.True(grads[0][i].allclose(grads[1][i], rtol: 1e-4, atol: 1e-6), model.Weights[i].Name);
    }

    [Fact]
    public void Fast_path_refuses_while_hooks_are_registered()
    {
        using var model = ModularAdditionTransformer.Create(Small, 0);
        using var tokens = ModularAdditionData.Tokens(Small.P);
        using (model.AddHook("blocks.0.hook_resid_post", _ => null))
            Assert.Throws<InvalidOperationException>(() => model.LastPositionLogits(tokens));
        model.LastPositionLogits(tokens).Dispose();
    }

    [Fact]
    public void Initialisation_is_TransformerLens_gpt2_and_seeded()
    {
        using var a = ModularAdditionTransformer.Create(ModularAdditionConfig.Paper(), 5);
        using var b = ModularAdditionTransformer.Create(ModularAdditionConfig.Paper(), 5);
        using var c = ModularAdditionTransformer.Create(ModularAdditionConfig.Paper(), 6);
        foreach (var ((name, x), (_, y), (_, z)) in a.Weights.Zip(b.Weights, c.Weights))
        {
            Assert.True(TensorAssert.Identical(x, y), name);
            if (ModularAdditionTransformer.IsBias(name))
            {
                Assert.Equal(0.0, x.abs().max().item<float>());
                continue;
            }
            Assert.False(TensorAssert.Identical(x, z), name);
            if (x.NumberOfElements > 1000)
                Assert.InRange(x.std().item<float>(), 0.8 / Math.Sqrt(128) * 0.95, 0.8 / Math.Sqrt(128) * 1.05);
        }
        Assert.Equal([114, 128], a.Weights.Single(w => w.Name == "embed.W_E").Value.shape);
        Assert.Equal([4, 128, 32], a.Weights.Single(w => w.Name == "blocks.0.attn.W_Q").Value.shape);
        Assert.Equal([4, 32, 128], a.Weights.Single(w => w.Name == "blocks.0.attn.W_O").Value.shape);
        Assert.Equal([128, 113], a.Weights.Single(w => w.Name == "unembed.W_U").Value.shape);
    }

    [Fact]
    public void Bad_token_inputs_are_input_errors()
    {
        using var model = ModularAdditionTransformer.Create(Small, 0);
        ModelFolderFixtures.AssertRejected(() => model.Run(ones(2, 3)), "int64 tokens [batch, pos]", "Float32 [2, 3]");
        ModelFolderFixtures.AssertRejected(() => model.Run(ones(2, 4, ScalarType.Int64)), "1 <= pos <= 3", "[2, 4]");
        ModelFolderFixtures.AssertRejected(() => model.Run(full(2, 3, 12L)), "tokens 0 … 11", "got a token 12");
        ModelFolderFixtures.AssertRejected(() => model.LastPositionLogits(full(2, 3, -1L)), "got a token -1");
    }

    [Fact]
    public void Save_and_load_round_trip_bit_for_bit()
    {
        using var temp = new TempDir();
        using var model = RandomModel(Small);
        var folder = temp.File("model");
        model.Save(folder);
        Assert.Equal(["model", "model/config.json", "model/model.safetensors"], temp.Entries());
        var config = ModelFolderLayout.ReadConfig(folder);
        Assert.Equal("modular-addition", (string?)config["model_type"]);
        Assert.Equal(12, (int)config["d_vocab"]!);
        Assert.Equal(11, (int)config["d_vocab_out"]!);
        using var loaded = ModularAdditionTransformer.Load(folder);
        Assert.Equal(Small, loaded.Config);
        foreach (var ((name, x), (_, y)) in model.Weights.Zip(loaded.Weights)) Assert.True(TensorAssert.Identical(x, y), name);
        using var tokens = ModularAdditionData.Tokens(Small.P);
        Assert.True(TensorAssert.Identical(model.Run(tokens), loaded.Run(tokens)));
        // TransformerLens' saved buffers are accepted and skipped.
        ModelFolderFixtures.EditWeights(folder, t => { t["blocks.0.attn.mask"] = ones(3, 3, ScalarType.Bool).tril(); t["blocks.0.attn.IGNORE"] = tensor(float.NegativeInfinity); });
        ModularAdditionTransformer.Load(folder).Dispose();
    }

    [Fact]
    public void Bad_model_folders_are_rejected_naming_the_key_or_tensor()
    {
        using var temp = new TempDir();
        using var model = ModularAdditionTransformer.Create(Small, 0);
        string Fresh(string name)
        {
            var f = temp.File(name);
            model.Save(f);
            return f;
        }

        var f1 = Fresh("missing-key");
        ModelFolderFixtures.EditConfig(f1, c => c.Remove("d_mlp"));
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f1), "config.json", "missing key 'd_mlp'");

        var f2 = Fresh("unknown-key");
        ModelFolderFixtures.EditConfig(f2, c => { c.Remove("d_model"); c["d_modle"] = 24; });
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f2), "config.json", "unknown key 'd_modle'", "Did you mean 'd_model'?");

        var f3 = Fresh("wrong-type");
        ModelFolderFixtures.EditConfig(f3, c => { c["model_type"] = "gpt2"; c["n_layer"] = 12; });
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f3), "'model_type' is 'gpt2', expected 'modular-addition'");

        var f4 = Fresh("implied");
        ModelFolderFixtures.EditConfig(f4, c => c["d_vocab"] = 99);
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f4), "key 'd_vocab' is 99, expected 12");

        var f5 = Fresh("not-int");
        ModelFolderFixtures.EditConfig(f5, c => c["n_heads"] = "three");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f5), "key 'n_heads' must be an integer", "\"three\"");

        var f6 = Fresh("act");
        ModelFolderFixtures.EditConfig(f6, c => c["act_fn"] = "rleu");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f6), "key 'act_fn' is 'rleu'", "Did you mean 'relu'?");

        var f7 = Fresh("missing-tensor");
        ModelFolderFixtures.EditWeights(f7, t => t.Remove("blocks.0.attn.W_K"));
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f7), "model.safetensors", "missing tensor 'blocks.0.attn.W_K'", "[3, 24, 8]", "n_heads, d_model, d_head");

        var f8 = Fresh("shape");
        ModelFolderFixtures.EditWeights(f8, t => t["blocks.0.mlp.W_in"] = zeros(24, 41));
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f8), "tensor 'blocks.0.mlp.W_in' has shape [24, 41], expected [24, 40]");

        var f9 = Fresh("dtype");
        ModelFolderFixtures.EditWeights(f9, t => t["unembed.W_U"] = t["unembed.W_U"].to(ScalarType.Float16));
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f9), "tensor 'unembed.W_U' has dtype F16, expected F32");

        var f10 = Fresh("extra");
        ModelFolderFixtures.EditWeights(f10, t => { t["blocks.0.attn.W_QQ"] = t["blocks.0.attn.W_Q"]; t.Remove("blocks.0.attn.W_Q"); });
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f10), "unexpected tensor 'blocks.0.attn.W_QQ'", "Did you mean 'blocks.0.attn.W_Q'?");

        var f11 = Fresh("nan");
        ModelFolderFixtures.EditWeights(f11, t => t["embed.W_E"][0, 0] = float.NaN);
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f11), "tensor 'embed.W_E' contains NaN");

        var f12 = Fresh("bad-json");
        File.WriteAllText(ModelFolderLayout.ConfigPath(f12), "{\"model_type\": ");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f12), "config.json", "not valid JSON");

        var f13 = Fresh("no-config");
        File.Delete(ModelFolderLayout.ConfigPath(f13));
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(f13), "config.json", "not found");

        ModelFolderFixtures.AssertRejected(() => ModularAdditionTransformer.Load(temp.File("nowhere")), "nowhere", "model folder not found");
    }
}
