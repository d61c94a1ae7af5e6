using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.Host.Formats;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Cli.Tests;

/// <summary>A model folder of the fixture plugin's tiny token model (vocab 13, d_model 8, 6 positions, d_mlp 16).</summary>
static class TinyLmFolder
{
    public const int Vocab = 13, DModel = 8, Ctx = 6, DMlp = 16;

    public static string Plugin => Repo.Plugin("Mechanist.TestPlugins.TinyLm");

    public static string Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var g = new Generator(1);
        File.WriteAllText(Path.Combine(folder, "config.json"), new JsonObject
        {
            ["model_type"] = "test-tiny-lm", ["vocab_size"] = Vocab, ["d_model"] = DModel, ["n_ctx"] = Ctx, ["d_mlp"] = DMlp,
        }.ToJsonString());
        Safetensors.Write(Path.Combine(folder, "model.safetensors"), new Dictionary<string, Tensor>
        {
            ["embed.W_E"] = randn(Vocab, DModel, generator: g),
            ["pos_embed.W_pos"] = randn(Ctx, DModel, generator: g) * 0.3,
            ["blocks.0.mlp.W_in"] = randn(DModel, DMlp, generator: g) * 0.4,
            ["blocks.0.mlp.W_out"] = randn(DMlp, DModel, generator: g) * 0.4,
            ["unembed.W_U"] = randn(DModel, Vocab, generator: g) * 0.5,
        });
        return folder;
    }

    /// <summary>A random SAE of width <paramref name="dIn"/> saved in SAELens layout with its hook name.</summary>
    public static string Sae(string folder, int dIn, int dSae, string hookName)
    {
        var g = new Generator(2);
        var wDec = randn(dSae, dIn, generator: g) * 0.4;
        using var sae = new StandardSae(wDec.t(), randn(dSae, generator: g) * 0.1, wDec, zeros(dIn));
        sae.Metadata = new DecompositionMetadata { HookName = hookName, Method = "test" };
        DecompositionFolder.Save(folder, sae);
        return folder;
    }
}

public class AttributeInterpretTests
{
    static CliResult Attribute(string model, params string[] rest) =>
        Cli.Run(["attribute", "--plugins", TinyLmFolder.Plugin, "--model", model, .. rest]);

    [Fact]
    public void Layer_integrated_gradients_at_the_embeddings_reports_the_metric_and_completeness_error_as_json()
    {
        using var temp = new TempDir();
        var model = TinyLmFolder.Write(temp.File("model"));
        var r = Attribute(model, "--method", "layer-integrated-gradients", "--tokens", "1,4,2,7;3,3,9,0", "--baseline-tokens", "0,0,0,0;0,0,0,0",
            "--site", "hook_embed", "--target", "5", "--metric", "logprob", "--format", "json", "--out", temp.File("ig.json"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(r.Out)!;
        Assert.Equal("layer-integrated-gradients", (string?)json["method"]);
        Assert.Equal("log-probability of 5 at position 3 (-1 from the end) (log_softmax over 13)", (string?)json["metric"]!["description"]);
        Assert.Equal([2L, 4L, 8L], json["scores_shape"]!.AsArray().Select(s => (long)s!));
        var error = (double)json["completeness_error"]!;
        var change = json["metric_value"]!.AsArray().Zip(json["reference_metric_value"]!.AsArray(), (a, b) => Math.Abs((double)a! - (double)b!)).Max();
        Assert.True(error < 1e-3 * Math.Max(1, change), $"completeness error {error}, change {change}");
        Assert.Equal(2, json["convergence_delta"]!.AsArray().Count);
        Assert.False(string.IsNullOrEmpty((string?)json["completeness_definition"]));
        Assert.Equal(20, json["top"]!.AsArray().Count);
        Assert.Equal(r.Out.Trim(), File.ReadAllText(temp.File("ig.json")).Trim());
    }

    [Fact]
    public void Patching_over_several_sites_labels_every_unit_and_text_output_lists_the_top()
    {
        using var temp = new TempDir();
        var model = TinyLmFolder.Write(temp.File("model"));
        string[] common = ["--tokens", "1,4,2,7", "--baseline-tokens", "1,4,9,7", "--site", "blocks.0.hook_resid_pre", "--site", "blocks.0.mlp.hook_post",
            "--target", "5", "--metric", "logit-diff", "--contrast", "6", "--format", "json"];
        var ap = Attribute(model, ["--method", "activation-patching", .. common]);
        var atp = Attribute(model, ["--method", "attribution-patching", .. common]);
        Assert.True(ap.ExitCode == 0, ap.ToString());
        Assert.True(atp.ExitCode == 0, atp.ToString());
        var labels = JsonNode.Parse(ap.Out)!["unit_labels"]!.AsArray().Select(l => (string?)l).ToList();
        Assert.Equal(8, labels.Count);
        Assert.Equal("blocks.0.mlp.hook_post@pos3", labels[^1]);
        Assert.Equal(labels, JsonNode.Parse(atp.Out)!["unit_labels"]!.AsArray().Select(l => (string?)l));
        // Positions 0 and 1 hold the same tokens in both runs, so patching them changes nothing; position 2 differs.
        var scores = JsonNode.Parse(ap.Out)!["scores"]![0]!.AsArray().Select(v => (double)v!).ToArray();
        Assert.Equal(0, scores[0], 6);
        Assert.Equal(0, scores[1], 6);
        Assert.NotEqual(0, scores[2], 3);

        var text = Attribute(model, "--method", "activation-patching", "--tokens", "1,4,2,7", "--baseline-tokens", "1,4,9,7", "--target", "5", "--top", "3");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("top 3 by |score|", text.Out);
        Assert.Contains("metric: logit of 5 at position 3", text.Out);
    }

    [Fact]
    public void Feature_attribution_splices_the_decomposition_at_its_hook_name()
    {
        using var temp = new TempDir();
        var model = TinyLmFolder.Write(temp.File("model"));
        var sae = TinyLmFolder.Sae(temp.File("sae"), TinyLmFolder.DModel, 24, "blocks.0.hook_resid_pre");
        var r = Attribute(model, "--method", "feature-attribution", "--decomposition", sae, "--tokens", "1,4,2,7", "--target", "5",
            "--set", "method=integrated", "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(r.Out)!;
        Assert.Equal(["blocks.0.hook_resid_pre"], json["sites"]!.AsArray().Select(s => (string?)s));
        Assert.Equal([1L, 4L, 24L], json["scores_shape"]!.AsArray().Select(s => (long)s!));
        Assert.Equal([1L, 4L], json["parts"]!["error"]!["shape"]!.AsArray().Select(s => (long)s!));
        Assert.True((double)json["completeness_error"]! < 1e-2, r.Out);
        Assert.Equal("integrated", (string?)json["options"]!["method"]);
    }

    [Fact]
    public void Bad_inputs_exit_2_with_one_line_and_write_nothing()
    {
        using var temp = new TempDir();
        var model = TinyLmFolder.Write(temp.File("model"));
        var wrongSae = TinyLmFolder.Sae(temp.File("sae16"), TinyLmFolder.DMlp, 8, "blocks.0.hook_resid_pre");
        var outFile = temp.File("out.json");
        (string[] Args, string Expected)[] cases =
        [
            (["--method", "saliency", "--tokens", "1,2,3", "--site", "hook_embed", "--target", "13"], "--target 13 is out of range: the model's output has 13 classes (0 … 12)"),
            (["--method", "saliency", "--tokens", "1,2,3", "--site", "blocks.0.mlp.hook_psot", "--target", "1"], "Did you mean 'blocks.0.mlp.hook_post'?"),
            (["--method", "feature-attribution", "--decomposition", wrongSae, "--tokens", "1,2,3", "--target", "1"], "the decomposition's d_in is 16 but the activation at 'blocks.0.hook_resid_pre' has width 8"),
            (["--method", "saliency", "--tokens", "1,2,3", "--site", "hook_embed", "--target", "1", "--position", "7"], "--position 7 is out of range"),
            (["--method", "saliencyy", "--tokens", "1,2", "--target", "1"], "did you mean 'saliency'?"),
            (["--method", "saliency", "--tokens", "1,x", "--target", "1"], "'x' is not a token id"),
            (["--method", "activation-patching", "--tokens", "1,2,3", "--target", "1"], "needs a corrupted input"),
            (["--method", "integrated-gradients", "--tokens", "1,2,3", "--target", "1"], "hook_embed"),
        ];
        foreach (var (args, expected) in cases)
        {
            var r = Attribute(model, [.. args, "--out", outFile]);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)}\n{r}");
            Assert.Contains(expected, r.Error);
            Assert.Single(r.Error.Trim().Split('\n'));
            Assert.False(File.Exists(outFile));
        }

        Directory.CreateDirectory(temp.File("empty"));
        var noConfig = Attribute(temp.File("empty"), "--method", "saliency", "--tokens", "1", "--target", "1");
        Assert.Equal(2, noConfig.ExitCode);
        Assert.Contains("config.json", noConfig.Error);
        File.WriteAllText(Path.Combine(temp.File("empty"), "config.json"), "{\"model_type\": \"gpt3\"}");
        var unknown = Attribute(temp.File("empty"), "--method", "saliency", "--tokens", "1", "--target", "1");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("gpt3", unknown.Error);
        Assert.Contains("test-tiny-lm", unknown.Error);
    }

    [Fact]
    public void Interpret_writes_one_json_record_per_feature()
    {
        using var temp = new TempDir();
        var model = TinyLmFolder.Write(temp.File("model"));
        var sae = TinyLmFolder.Sae(temp.File("sae"), TinyLmFolder.DModel, 12, "blocks.0.hook_resid_pre");
        var tokens = TestData.WithTensor(temp.Path, "tokens.safetensors", "tokens", randint(0, TinyLmFolder.Vocab, [30, 6], generator: new Generator(4)));
        string[] common = ["interpret", "--plugins", TinyLmFolder.Plugin, "--model", model, "--decomposition", sae];

        var top = Cli.Run([.. common, "--method", "top-examples", "--tokens", tokens, "--features", "0-3", "--out", temp.File("top.jsonl")]);
        Assert.True(top.ExitCode == 0, top.ToString());
        var records = File.ReadAllLines(temp.File("top.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal([0, 1, 2, 3], records.Select(r => (int)r["feature"]!));
        Assert.All(records, r => Assert.Equal("top-examples", (string?)r["method"]));
        Assert.Equal(180, (long)records[0]["details"]!["rows"]!);
        Assert.Contains("feature 0:", top.Out);

        var effects = Cli.Run([.. common, "--method", "output-effects", "--features", "1,5", "--format", "json"]);
        Assert.True(effects.ExitCode == 0, effects.ToString());
        var lines = effects.Out.Trim().Split('\n').Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal(10, lines[0]["details"]!["promoted"]!.AsArray().Count);

        var synthesis = Cli.Run([.. common, "--method", "feature-synthesis", "--tokens", "1,2,3,4", "--features", "0", "--set", "mode=soft_tokens", "--set", "steps=20", "--format", "json"]);
        Assert.True(synthesis.ExitCode == 0, synthesis.ToString());
        Assert.Equal(4, JsonNode.Parse(synthesis.Out)!["details"]!["nearest_tokens"]!.AsArray().Count);

        var bad = Cli.Run([.. common, "--method", "top-examples", "--tokens", tokens, "--site", "blocks.0.mlp.hook_post", "--out", temp.File("bad.jsonl")]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("d_in is 8", bad.Error);
        Assert.False(File.Exists(temp.File("bad.jsonl")));
        var badFeature = Cli.Run([.. common, "--method", "output-effects", "--features", "12"]);
        Assert.Equal(2, badFeature.ExitCode);
        Assert.Contains("feature 12 is out of range", badFeature.Error);
    }

    [Fact]
    public void Bench_ig_reports_the_ratio_of_per_step_to_batched_integration()
    {
        var r = Cli.Run("bench", "ig", "--steps", "10", "--batch", "2", "--width", "16", "--depth", "2", "--repeats", "1", "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(r.Out)!;
        Assert.True((double)json["speedup_looped_over_batched"]! > 0);
        Assert.True((double)json["max_abs_difference"]! <= 1e-4 * Math.Max(1, (double)json["max_abs_score"]!));
    }
}
