using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Models.Runtime;
using Mechanist.Models.Training;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

/// <summary>A trained modular-addition run folder is a model folder: harvest reads it like any language model.</summary>
public class ToyModelHarvestTests
{
    [Fact]
    public void Harvest_reads_a_trained_modular_addition_model()
    {
        using var temp = new TempDir();
        var run = temp.File("run");
        var trained = Cli.Run("train", "modular-addition", "--out", run, "--p", "7", "--d-model", "16", "--n-heads", "2", "--d-mlp", "32",
            "--train-fraction", "0.5", "--epochs", "5");
        Assert.True(trained.ExitCode == 0, trained.ToString());
        var tokens = temp.File("pairs.jsonl");
        File.WriteAllLines(tokens, Enumerable.Range(0, 49).Select(i => $"[{i / 7}, {i % 7}, 7]"));

        var harvested = temp.File("acts.safetensors");
        var r = Cli.Run("harvest", "--model", run, "--tokens", tokens, "--sites", "blocks.0.hook_resid_post,blocks.0.mlp.hook_post", "--out", harvested);
        Assert.True(r.ExitCode == 0, r.ToString());

        var acts = Safetensors.ReadAll(harvested);
        Assert.Equal([49 * 3, 16], acts["blocks.0.hook_resid_post"].shape);
        Assert.Equal([49 * 3, 32], acts["blocks.0.mlp.hook_post"].shape);
        using var model = ModularAdditionTransformer.Load(run);
        using var ids = ModularAdditionData.Tokens(7);
        var (_, cache) = model.RunWithCache(ids, ["blocks.0.hook_resid_post"]);
        Assert.True(cache["blocks.0.hook_resid_post"].reshape(49 * 3, 16).allclose(acts["blocks.0.hook_resid_post"], rtol: 1e-5, atol: 1e-6));

        var bad = temp.File("bad.jsonl");
        File.WriteAllText(bad, "[1, 2, 8]\n");
        var rejected = Cli.Run("harvest", "--model", run, "--tokens", bad, "--sites", "blocks.0.hook_resid_post", "--out", temp.File("x.safetensors"));
        Assert.Equal(2, rejected.ExitCode);
        Assert.Contains("8", rejected.Error);
    }
}
