using System.Text.Json.Nodes;
using Mechanist.Concepts;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Cli.Tests;

/// <summary>
/// The bracket task and the concept commands end to end: training a reduced model, generating labelled data, and the
/// concept methods on the shipped model (whose concepts are known), plus every bad input the concept commands take.
/// </summary>
public class ConceptCommandTests
{
    static readonly string Model = Path.Combine(Repo.Root, "samples", "models", "brackets");

    static string Data(TempDir temp, int sequences = 64, int seed = 3)
    {
        var path = temp.File("data.safetensors");
        var r = Cli.Run("generate", "brackets", "--sequences", $"{sequences}", "--seed", $"{seed}", "--out", path);
        Assert.True(r.ExitCode == 0, r.ToString());
        return path;
    }

    [Fact]
    public void Train_brackets_writes_a_gpt2_folder_with_a_vocabulary_and_resumes()
    {
        using var temp = new TempDir();
        var run = temp.File("run");
        string[] small = ["--layers", "1", "--d-model", "16", "--heads", "2", "--d-mlp", "32", "--length", "16", "--batch-size", "16", "--eval-sequences", "32",
            "--warmup-steps", "5", "--eval-every", "10", "--checkpoint-every", "20"];
        var r = Cli.Run(["train", "brackets", "--out", run, "--steps", "30", .. small]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("step 30: held-out loss", r.Out);
        Assert.Equal(["run", "run/checkpoint.safetensors", "run/config.json", "run/metrics.json", "run/model.safetensors", "run/training_log.jsonl", "run/vocab.json"],
            temp.Entries());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!;
        Assert.Equal("gpt2", (string)config["model_type"]!);
        Assert.Equal(7, (int)config["vocab_size"]!);
        var vocab = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "vocab.json")))!.AsObject();
        Assert.Equal(1, (int)vocab["("]!);
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!;
        Assert.True((double)metrics["eval_loss"]! < Math.Log(7), "better than uniform over the vocabulary");
        Assert.True((double)metrics["eval_kl"]! >= 0);

        // The folder is an ordinary GPT-2 folder: harvest reads it.
        var data = Data(temp, 4);
        var harvest = Cli.Run("harvest", "--model", run, "--tokens", data, "--sites", "blocks.0.hook_resid_post", "--out", temp.File("acts.safetensors"));
        Assert.True(harvest.ExitCode == 0, harvest.ToString());

        var resumed = Cli.Run(["train", "brackets", "--out", run, "--resume", "--steps", "40"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resuming brackets", resumed.Error);
        Assert.Equal(40, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!["steps"]!);
    }

    [Fact]
    public void Train_brackets_rejects_bad_settings_before_writing_anything()
    {
        using var temp = new TempDir();
        BadInputTests.AssertBadInput(Cli.Run("train", "brackets", "--out", temp.File("out"), "--d-model", "30", "--heads", "4"), temp, "out", "--d-model 30", "--heads 4");
        BadInputTests.AssertBadInput(Cli.Run("train", "brackets", "--out", temp.File("out"), "--max-depth", "0"), temp, "out", "--max-depth");
        BadInputTests.AssertBadInput(Cli.Run("train", "brackets", "--out", temp.File("out"), "--resume"), temp, "out", "checkpoint.safetensors", "--resume");
    }

    [Fact]
    public void Probes_on_the_shipped_model_find_the_innermost_bracket_type_after_the_first_layer_and_not_in_the_embedding()
    {
        using var temp = new TempDir();
        var data = Data(temp, 96);
        var r = Cli.Run("concepts", "probe", "--model", Model, "--labels", data, "--sites", "blocks.0.hook_resid_pre,blocks.2.hook_resid_post",
            "--concepts", "top,kind", "--set", "control=token_position", "--format", "json", "--out", temp.File("probe.json"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var scores = JsonNode.Parse(File.ReadAllText(temp.File("probe.json")))!["scores"]!.AsArray();
        double Selectivity(string site, string concept) => (double)scores.Single(s => (string)s!["site"]! == site && (string)s!["concept"]! == concept)!["selectivity"]!;
        double Accuracy(string site, string concept) => (double)scores.Single(s => (string)s!["site"]! == site && (string)s!["concept"]! == concept)!["accuracy"]!;
        Assert.True(Accuracy("blocks.2.hook_resid_post", "top") > 0.95, $"top at the last layer: {Accuracy("blocks.2.hook_resid_post", "top")}");
        Assert.True(Selectivity("blocks.2.hook_resid_post", "top") > Selectivity("blocks.0.hook_resid_pre", "top") + 0.2, r.Out);
        Assert.True(Accuracy("blocks.0.hook_resid_pre", "kind") > 0.99, "the token's kind is in the embedding");
    }

    [Fact]
    public void Tcav_on_the_shipped_model_is_significant_for_the_true_concept_and_not_for_the_shuffled_one()
    {
        using var temp = new TempDir();
        var data = Data(temp, 96, seed: 5);
        string[] common = ["concepts", "tcav", "--model", Model, "--labels", data, "--site", "blocks.1.hook_resid_post", "--concept", "top", "--class", "square",
            "--target", "4", "--contrast", "2", "--set", "random_cavs=12", "--set", "examples=100", "--format", "json"];
        var truth = Cli.Run(common);
        Assert.True(truth.ExitCode == 0, truth.ToString());
        var t = JsonNode.Parse(truth.Out)!;
        Assert.True((bool)t["significant"]!, truth.Out);
        var shuffled = Cli.Run([.. common, "--shuffled"]);
        Assert.True(shuffled.ExitCode == 0, shuffled.ToString());
        var s = JsonNode.Parse(shuffled.Out)!;
        Assert.False((bool)s["significant"]!, shuffled.Out);
        Assert.Equal(12, s["random_scores"]!.AsArray().Count);
    }

    [Fact]
    public void Concept_bad_inputs_exit_2_with_one_line_and_write_nothing()
    {
        using var temp = new TempDir();
        var data = Data(temp, 16);
        var outFile = temp.File("out.json");
        string[] probe = ["concepts", "probe", "--model", Model, "--labels", data, "--out", outFile];

        // Labels that do not match the activations (tokens of another size).
        BadInputTests.AssertBadInput(Cli.Run([.. probe, "--sites", "blocks.0.hook_resid_post", "--tokens", "0,1,2;0,3,4"]), temp, "out.json",
            "data.safetensors", "768 labels", "6 rows");
        // A concept with one class only.
        var flat = temp.File("flat.safetensors");
        var labels = ConceptLabels.Load(data);
        ConceptLabels.Save(flat, labels.Shape, [new Concept("flat", new long[labels.Rows], ["always", "never"])], labels.Tokens);
        BadInputTests.AssertBadInput(Cli.Run("concepts", "probe", "--model", Model, "--labels", flat, "--sites", "blocks.0.hook_resid_post", "--out", outFile),
            temp, "out.json", "flat.safetensors", "'flat' has only one class");
        // A probe asked of a site the model lacks.
        BadInputTests.AssertBadInput(Cli.Run([.. probe, "--sites", "blocks.7.hook_resid_post"]), temp, "out.json", "no hook site 'blocks.7.hook_resid_post'");
        // Too few random concepts for the t-test.
        BadInputTests.AssertBadInput(Cli.Run("concepts", "tcav", "--model", Model, "--labels", data, "--site", "blocks.1.hook_resid_post", "--concept", "top",
            "--class", "square", "--target", "4", "--set", "random_cavs=5", "--out", outFile), temp, "out.json", "random_cavs", "at least 10");
        // An unknown concept or class.
        BadInputTests.AssertBadInput(Cli.Run([.. probe, "--sites", "blocks.0.hook_resid_post", "--concepts", "dpeth"]), temp, "out.json", "no concept 'dpeth'", "Did you mean 'depth'");
        BadInputTests.AssertBadInput(Cli.Run("concepts", "attribute", "--model", Model, "--labels", data, "--site", "blocks.1.attn.hook_z", "--concept", "top",
            "--class", "curly", "--out", outFile), temp, "out.json", "no class 'curly'");
    }

    [Fact]
    public void Concept_attribution_names_the_heads_that_carry_the_innermost_bracket_type()
    {
        using var temp = new TempDir();
        var data = Data(temp, 48, seed: 8);
        var r = Cli.Run("concepts", "attribute", "--model", Model, "--labels", data, "--site", "blocks.1.attn.hook_z", "--probe-site", "blocks.1.hook_resid_post",
            "--concept", "top", "--class", "square", "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = JsonNode.Parse(r.Out)!;
        Assert.Equal("heads", (string)j["units"]!);
        var scores = j["scores"]!.AsArray();
        Assert.Equal(4, scores.Count);
        Assert.True((double)j["probe_accuracy"]! > 0.9);
        Assert.True((double)scores[0]!["fraction"]! > 0.05, r.Out);
    }
}
