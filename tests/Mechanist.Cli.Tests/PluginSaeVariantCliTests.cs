using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

/// <summary>A plugin's SAE variant with its own SAELens architecture, through the command line like a built-in one.</summary>
public class PluginSaeVariantCliTests
{
    static string Plugin => Repo.Plugin("Mechanist.TestPlugins.SaeVariant");

    [Fact]
    public void Compare_trains_it_beside_the_built_in_and_evaluate_loads_its_folder_with_the_plugin()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path);
        var outDir = temp.File("cmp");
        var r = Cli.Run("compare", "--activations", data, "--ground-truth", data, "--methods", "sae.topk,test.sae.topk-threshold",
            "--plugins", Plugin, "--set", "sae.topk.k=2", "--set", "test.sae.topk-threshold.k=2", "--steps", "60", "--batch-size", "128",
            "--seed", "5", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.ToString());
        var methods = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!["methods"]!.AsArray();
        var plugin = methods.Single(m => (string?)m!["method"] == "test.sae.topk-threshold")!;
        var builtIn = methods.Single(m => (string?)m!["method"] == "sae.topk")!;
        // The same step as sae.topk and a threshold that only drops activations at inference.
        Assert.Equal((double)builtIn["metrics"]!["mmcs"]!, (double)plugin["metrics"]!["mmcs"]!, 6);
        Assert.True((double)plugin["metrics"]!["l0"]! <= (double)builtIn["metrics"]!["l0"]!);
        var folder = Path.Combine(outDir, (string)plugin["folder"]!);
        Assert.Equal("topk_threshold", (string?)JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "cfg.json")))!["architecture"]);

        var e = Cli.Run("evaluate", "--decomposition", folder, "--activations", data, "--plugins", Plugin, "--format", "json");
        Assert.True(e.ExitCode == 0, e.ToString());
        var evaluated = JsonNode.Parse(e.Out)!;
        Assert.Equal("topk_threshold", (string?)evaluated["architecture"]);
        Assert.Equal((double)plugin["metrics"]!["fvu"]!, (double)evaluated["fvu"]!, 4);
    }
}
