using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Models.Text;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Cli.Tests;

public class HarvestCommandTests
{
    public static string Fixture => Path.Combine(Repo.Root, "tests", "Fixtures", "gpt2-tiny");
    public static string FixtureTokens => Path.Combine(Fixture, "tokens.jsonl");
    public static string ModelsPlugin => Repo.Plugin("Mechanist.TestPlugins.Models");

    static double MaxAbs(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Fact]
    public void Harvested_logits_and_activations_match_the_PyTorch_reference()
    {
        using var temp = new TempDir();
        var outPath = temp.File("acts.safetensors");
        var r = Cli.Run("harvest", "--model", Fixture, "--tokens", FixtureTokens, "--sites", "unembed.hook_out,blocks.1.hook_resid_mid",
            "--batch-size", "3", "--out", outPath);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("[harvest] 64/64 tokens (100.0%)", r.Error);
        Assert.Contains("harvested 64 tokens (4 sequences) at 2 site(s)", r.Out);
        var got = Safetensors.ReadAll(outPath);
        var expected = Safetensors.ReadAll(Path.Combine(Fixture, "expected.safetensors"));
        Assert.Equal([64L, 96], got["unembed.hook_out"].shape);
        Assert.InRange(MaxAbs(got["unembed.hook_out"], expected["logits"].reshape(64, 96)), 0, 1e-4);
        Assert.InRange(MaxAbs(got["blocks.1.hook_resid_mid"], expected["blocks.1.hook_resid_mid"].reshape(64, 32)), 0, 1e-4);
        Assert.Equal(["acts.safetensors"], temp.Entries());
    }

    [Fact]
    public void A_store_feeds_decompose_and_evaluate_directly()
    {
        using var temp = new TempDir();
        var store = temp.File("store");
        const string site = "blocks.1.hook_resid_mid";
        var r = Cli.Run("harvest", "--model", Fixture, "--tokens", FixtureTokens, "--sites", $"{site},blocks.0.mlp.hook_post",
            "--shard-mb", "1", "--out", store);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("(store)", r.Out);
        Assert.True(File.Exists(Path.Combine(store, "manifest.json")));

        var d = Cli.Run("decompose", "--activations", store, "--site", site, "--method", "pca", "--set", "components=4", "--out", temp.File("pca"));
        Assert.True(d.ExitCode == 0, d.ToString());
        Assert.Contains("fitted on 64 rows", d.Out);
        var cfg = JsonNode.Parse(File.ReadAllText(temp.File("pca/cfg.json")))!;
        Assert.Equal(32, (int)cfg["d_in"]!);
        Assert.Equal(site, (string?)cfg["metadata"]!["hook_name"]);

        // The same activations through a .safetensors file (tensor named by the site) give the same metrics.
        Assert.Equal(0, Cli.Run("harvest", "--model", Fixture, "--tokens", FixtureTokens, "--sites", site, "--out", temp.File("a.safetensors")).ExitCode);
        var fromStore = Cli.Run("evaluate", "--decomposition", temp.File("pca"), "--activations", store, "--site", site, "--format", "json");
        var fromFile = Cli.Run("evaluate", "--decomposition", temp.File("pca"), "--activations", temp.File("a.safetensors"), "--site", site, "--format", "json");
        Assert.True(fromStore.ExitCode == 0, fromStore.ToString());
        Assert.True(fromFile.ExitCode == 0, fromFile.ToString());
        var metricsStore = JsonNode.Parse(fromStore.Out)!;
        var metricsFile = JsonNode.Parse(fromFile.Out)!;
        Assert.Equal((double)metricsFile["fvu"]!, (double)metricsStore["fvu"]!, 12);
        Assert.Equal(64, (int)metricsStore["samples"]!);

        var ambiguous = Cli.Run("decompose", "--activations", store, "--method", "pca", "--out", temp.File("pca2"));
        Assert.Equal(2, ambiguous.ExitCode);
        Assert.Contains("choose one with --site", ambiguous.Error);
        Assert.False(Directory.Exists(temp.File("pca2")));
    }

    [Fact]
    public void A_single_site_store_needs_no_site_option()
    {
        using var temp = new TempDir();
        Assert.Equal(0, Cli.Run("harvest", "--model", Fixture, "--tokens", FixtureTokens, "--sites", "blocks.0.hook_resid_post", "--out", temp.File("s")).ExitCode);
        var d = Cli.Run("decompose", "--activations", temp.File("s"), "--method", "pca", "--set", "components=2", "--out", temp.File("pca"));
        Assert.True(d.ExitCode == 0, d.ToString());
        Assert.Equal("blocks.0.hook_resid_post", (string?)JsonNode.Parse(File.ReadAllText(temp.File("pca/cfg.json")))!["metadata"]!["hook_name"]);
    }

    [Fact]
    public void Text_is_tokenised_with_GPT2_BPE_and_cut_at_the_context()
    {
        using var temp = new TempDir();
        using (var model = Gpt2Model.CreateRandom(new Gpt2Config { NLayer = 1, NEmbd = 8, NHead = 2, VocabSize = Gpt2Tokenizer.VocabSize, NPositions = 8 }, 2))
            model.Save(temp.File("model"));
        var text = temp.File("t.txt");
        File.WriteAllText(text, "Hello world. The quick brown fox jumps over the lazy dog.");
        var r = Cli.Run("harvest", "--model", temp.File("model"), "--text", text, "--sites", "hook_embed", "--context", "4", "--out", temp.File("e.safetensors"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var ids = Gpt2Tokenizer.Encode(File.ReadAllText(text));
        Assert.Equal([15496, 995], ids.Take(2));
        var rows = Safetensors.ReadAll(temp.File("e.safetensors"))["hook_embed"];
        var wte = Safetensors.ReadAll(temp.File("model/model.safetensors"))["wte.weight"];
        Assert.True(TensorAssert.Identical(rows, wte.index_select(0, tensor(ids.Select(i => (long)i).ToArray()))));
    }

    [Fact]
    public void A_plugin_architecture_is_harvested_like_a_built_in_one()
    {
        using var temp = new TempDir();
        var folder = Path.Combine(temp.Path, "bigram");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), "{\"model_type\": \"test.bigram\", \"vocab_size\": 10, \"d_model\": 3, \"n_positions\": 4}");
        var embed = randn(10, 3, generator: new Generator(1));
        Safetensors.Write(Path.Combine(folder, "model.safetensors"), new Dictionary<string, Tensor> { ["embed"] = embed, ["unembed"] = randn(3, 10) });
        var tokens = temp.File("t.jsonl");
        File.WriteAllText(tokens, "[1, 2, 3, 9, 0]\n[4]\n");
        var r = Cli.Run("harvest", "--plugins", ModelsPlugin, "--model", folder, "--tokens", tokens, "--sites", "hook_embed", "--out", temp.File("a.safetensors"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = Safetensors.ReadAll(temp.File("a.safetensors"))["hook_embed"];
        Assert.True(TensorAssert.Identical(rows, embed.index_select(0, tensor(new long[] { 1, 2, 3, 9, 0, 4 }))));
    }

    [Fact]
    public void Bench_harvest_reports_throughput_against_a_plain_forward_and_peak_memory()
    {
        using var temp = new TempDir();
        var report = temp.File("bench.json");
        var r = Cli.Run("bench", "harvest", "--layers", "1", "--d-model", "16", "--heads", "2", "--vocab", "64", "--positions", "16",
            "--tokens", "64", "--repeats", "1", "--shard-mb", "1", "--format", "json", "--out", report);
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(File.ReadAllText(report))!;
        foreach (var key in new[] { "plain_forward_tokens_per_s", "hooked_forward_tokens_per_s", "harvest_to_store_tokens_per_s", "peak_rss_1x_bytes", "peak_rss_10x_bytes" })
            Assert.True((double)json[key]! > 0, key);
        Assert.Equal(64, (long)json["tokens_1x"]!);
        Assert.Equal(640, (long)json["tokens_10x"]!);
        Assert.Equal("blocks.0.hook_resid_post", (string?)json["sites"]![0]);
        Assert.Equal((double)json["peak_rss_10x_bytes"]! / (double)json["peak_rss_1x_bytes"]!, (double)json["peak_rss_10x_over_1x"]!, 3);
        Assert.False(string.IsNullOrEmpty((string?)json["definitions"]!["peak_rss"]));
    }
}
