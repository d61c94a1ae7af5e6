using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Cli.Tests;

/// <summary>Every bad input of <c>mechanist harvest</c>: exit 2, one line naming the tensor/key/file, nothing written.</summary>
public class HarvestBadInputTests
{
    static string Fixture => HarvestCommandTests.Fixture;
    static string Tokens => HarvestCommandTests.FixtureTokens;

    static void AssertBadInput(CliResult r, TempDir temp, params string[] expected)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("mechanist: error: ", line);
        foreach (var text in expected) Assert.Contains(text, line);
        Assert.False(File.Exists(temp.File("out.safetensors")) || Directory.Exists(temp.File("store")), "no output");
        Assert.DoesNotContain(temp.Entries(), e => e.EndsWith(".tmp", StringComparison.Ordinal));
    }

    static CliResult Harvest(TempDir temp, string model, string tokens, string sites = "blocks.0.hook_resid_post", bool store = false, params string[] extra) =>
        Cli.Run(["harvest", "--model", model, "--tokens", tokens, "--sites", sites, "--out", store ? temp.File("store") : temp.File("out.safetensors"), .. extra]);

    /// <summary>A copy of the fixture with edited weights and config.</summary>
    static string Model(TempDir temp, Action<Dictionary<string, Tensor>>? weights = null, Action<JsonObject>? config = null)
    {
        var folder = temp.File("model");
        Directory.CreateDirectory(folder);
        var w = Safetensors.ReadAll(Path.Combine(Fixture, "model.safetensors"));
        weights?.Invoke(w);
        Safetensors.Write(Path.Combine(folder, "model.safetensors"), w);
        var c = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixture, "config.json")))!.AsObject();
        config?.Invoke(c);
        File.WriteAllText(Path.Combine(folder, "config.json"), c.ToJsonString());
        return folder;
    }

    [Fact]
    public void Weight_missing()
    {
        using var temp = new TempDir();
        var model = Model(temp, w => w.Remove("transformer.h.0.ln_2.bias"));
        AssertBadInput(Harvest(temp, model, Tokens, store: true), temp, Path.Combine(model, "model.safetensors"), "missing weight 'h.0.ln_2.bias'");
    }

    [Fact]
    public void Wrong_shape()
    {
        using var temp = new TempDir();
        var model = Model(temp, w => w["transformer.h.1.mlp.c_proj.weight"] = zeros(32, 128));
        AssertBadInput(Harvest(temp, model, Tokens), temp, "model.safetensors", "'transformer.h.1.mlp.c_proj.weight'", "[32, 128]", "expected [128, 32]");
    }

    [Fact]
    public void Wrong_dtype()
    {
        using var temp = new TempDir();
        var model = Model(temp, w => w["transformer.wte.weight"] = zeros(96, 32, ScalarType.Int64));
        AssertBadInput(Harvest(temp, model, Tokens), temp, "model.safetensors", "'transformer.wte.weight'", "dtype I64", "floating-point");
    }

    [Fact]
    public void Config_key_missing()
    {
        using var temp = new TempDir();
        var model = Model(temp, config: c => c.Remove("n_embd"));
        AssertBadInput(Harvest(temp, model, Tokens), temp, Path.Combine(model, "config.json"), "missing required key 'n_embd'");
    }

    [Fact]
    public void Config_key_unknown_suggests_the_closest()
    {
        using var temp = new TempDir();
        var model = Model(temp, config: c => c["n_heads"] = 4);
        AssertBadInput(Harvest(temp, model, Tokens), temp, Path.Combine(model, "config.json"), "unknown key 'n_heads'", "Did you mean 'n_head'?");
    }

    [Fact]
    public void Truncated_safetensors()
    {
        using var temp = new TempDir();
        var model = Model(temp);
        var path = Path.Combine(model, "model.safetensors");
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^1000]);
        AssertBadInput(Harvest(temp, model, Tokens), temp, path, "truncated");
    }

    [Fact]
    public void Absurdly_large_safetensors_header()
    {
        using var temp = new TempDir();
        var model = Model(temp);
        var path = Path.Combine(model, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        BitConverter.GetBytes(ulong.MaxValue / 3).CopyTo(bytes, 0);
        File.WriteAllBytes(path, bytes);
        AssertBadInput(Harvest(temp, model, Tokens), temp, path, "header length", "exceeds the limit");
    }

    [Fact]
    public void Token_id_outside_the_vocabulary()
    {
        using var temp = new TempDir();
        var tokens = temp.File("t.jsonl");
        File.WriteAllText(tokens, "[1, 2, 3]\n[4, 96, 5]\n");
        AssertBadInput(Harvest(temp, Fixture, tokens, store: true), temp, tokens, "line 2", "token id 96", "[0, 96)");
    }

    [Fact]
    public void Text_with_tokens_outside_a_small_vocabulary()
    {
        using var temp = new TempDir();
        var text = temp.File("t.txt");
        File.WriteAllText(text, "Hello world");
        var r = Cli.Run("harvest", "--model", Fixture, "--text", text, "--sites", "hook_embed", "--out", temp.File("out.safetensors"));
        AssertBadInput(r, temp, text, "id 15496", "vocabulary of 96");
    }

    [Fact]
    public void Unknown_site_suggests_the_closest()
    {
        using var temp = new TempDir();
        AssertBadInput(Harvest(temp, Fixture, Tokens, "blocks.0.hook_resid_post,blocks.1.attn.hook_patern"), temp,
            "no hook site 'blocks.1.attn.hook_patern'", "Did you mean 'blocks.1.attn.hook_pattern'?");
    }

    [Fact]
    public void Unknown_model_type()
    {
        using var temp = new TempDir();
        var model = Model(temp, config: c => c["model_type"] = "gpt3");
        AssertBadInput(Harvest(temp, model, Tokens), temp, "MECH0003", "unknown model-loader 'gpt3'", "did you mean 'gpt2'?", "Known model-loaders: gpt2");
    }

    [Fact]
    public void Missing_model_and_token_files()
    {
        using var temp = new TempDir();
        AssertBadInput(Harvest(temp, temp.File("none"), Tokens), temp, temp.File("none"), "model folder not found");
        AssertBadInput(Harvest(temp, Fixture, temp.File("none.jsonl")), temp, temp.File("none.jsonl"), "not found");
    }

    [Fact]
    public void Bad_token_file_line()
    {
        using var temp = new TempDir();
        var tokens = temp.File("t.jsonl");
        File.WriteAllText(tokens, "[1, 2]\n[3, 4.5]\n");
        AssertBadInput(Harvest(temp, Fixture, tokens), temp, tokens, "line 2", "item 1 (4.5) is not an integer token id");
    }

    [Fact]
    public void Usage_errors()
    {
        using var temp = new TempDir();
        var text = temp.File("t.txt");
        File.WriteAllText(text, "hi");
        AssertBadInput(Harvest(temp, Fixture, Tokens, extra: ["--text", text]), temp, "exactly one of --text FILE or --tokens FILE");
        AssertBadInput(Harvest(temp, Fixture, Tokens, extra: ["--context", "17"]), temp, "--context", "16 positions", "17");
        AssertBadInput(Harvest(temp, Fixture, Tokens, extra: ["--batch-size", "0"]), temp, "--batch-size", "at least 1");
        AssertBadInput(Harvest(temp, Fixture, Tokens, extra: ["--shard-mb", "2"]), temp, "--shard-mb", "store folder");
        AssertBadInput(Harvest(temp, Fixture, Tokens, sites: ","), temp, "--sites", "no hook site");
        AssertBadInput(Harvest(temp, Fixture, Tokens, extra: ["--site", "x"]), temp, "unknown option '--site'", "Did you mean '--sites'?");
    }

    [Fact]
    public void A_folder_that_is_not_a_store_is_never_replaced()
    {
        using var temp = new TempDir();
        var precious = temp.File("store");
        Directory.CreateDirectory(precious);
        File.WriteAllText(Path.Combine(precious, "notes.txt"), "keep me");
        var r = Harvest(temp, Fixture, Tokens, store: true);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("not an activation store and not empty; refusing to replace it", r.Error);
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(precious, "notes.txt")));
    }
}
