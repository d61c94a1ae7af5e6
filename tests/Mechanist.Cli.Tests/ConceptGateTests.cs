using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

/// <summary>
/// The concept validators and steering run from a <c>mechanist.json</c> on the shipped bracket model, whose concepts
/// are known: the entry's <c>labels</c> file is read relative to the config, the findings land where the truth says,
/// and a missing, malformed or mismatched labels file is an input error before anything is reported.
/// </summary>
public sealed class ConceptGateTests
{
    static string Model => Path.Combine(Repo.Root, "samples", "models", "brackets");

    /// <summary>128 bracket sequences with their concept labels (and tokens) in one file, from the real command.</summary>
    static string Data(TempDir temp, int sequences = 128)
    {
        var path = temp.File($"brackets{sequences}.safetensors");
        var r = Cli.Run("generate", "brackets", "--sequences", $"{sequences}", "--length", "48", "--max-depth", "4", "--seed", "1", "--out", path);
        Assert.True(r.ExitCode == 0, r.ToString());
        return Path.GetFileName(path);
    }

    static string Config(TempDir temp, string validations, string data)
    {
        var path = temp.File("mechanist.json");
        File.WriteAllText(path, $$"""
            {
              "model": "{{Model}}",
              "device": "cpu",
              "dataset": { "path": "{{data}}" },
              "decompositions": { "resid1": { "site": "blocks.1.hook_resid_post", "method": "pca", "options": { "components": 32 } } },
              "behaviours": { "close-round": { "metric": "logit", "target": 2, "position": -1 } },
              "validations": [ {{validations}} ]
            }
            """);
        return path;
    }

    [Fact]
    public void Concept_checks_run_from_the_config_and_report_where_the_planted_truth_says()
    {
        using var temp = new TempDir();
        var data = Data(temp);
        var config = Config(temp, $$"""
            { "method": "concept.probe", "decompositions": [], "site": "hook_embed", "labels": "{{data}}", "options": { "concept": "depth", "control": "token_position" } },
            { "method": "concept.probe", "decompositions": [], "site": "blocks.1.hook_resid_post", "labels": "{{data}}", "options": { "concept": "depth", "control": "token_position" } },
            { "method": "concept.tcav", "decompositions": [], "site": "blocks.1.hook_resid_post", "behaviour": "close-round", "labels": "{{data}}", "options": { "concept": "top", "class": "round", "examples": 64 } },
            { "method": "concept.sparse-probing", "decompositions": [ "resid1" ], "labels": "{{data}}", "options": { "concept": "top", "k": 4 } },
            { "method": "steering", "decompositions": [ "resid1" ], "options": { "features": "0", "max_sequences": 64, "random_draws": 4 } }
            """, data);
        var r = Cli.Run("check", config, "--format", "json", "--update-baseline");
        Assert.True(r.ExitCode == 0, r.ToString());
        var report = (JsonObject)JsonNode.Parse(r.Out)!;
        // Every configured validator ran (no check passes by not running).
        var ran = report["runs"]!.AsArray().Where(x => (string?)x!["kind"] == "validator").Select(x => (string)x!["method"]!).ToList();
        Assert.Equal(["concept.probe", "concept.probe", "concept.tcav", "concept.sparse-probing", "steering"], ran);
        Assert.DoesNotContain(report["findings"]!.AsArray(), f => ((string)f!["id"]!).StartsWith("MECH0", StringComparison.Ordinal));
        // Depth is computed by attention over the prefix: the token embedding cannot say it beyond its control task, layer 1 can.
        var low = Assert.Single(report["findings"]!.AsArray(), f => (string?)f!["id"] == "MECH4002")!;
        Assert.Equal("hook_embed", (string?)low["site"]);
        Assert.True((double)low["value"]! < 0.1, low.ToJsonString());
        // TCAV of the true concept is significant against random concepts: its p-value is measured and tiny.
        var p = report["measurements"]!.AsArray().Single(m => (string?)m!["check"] == "MECH4003")!;
        Assert.True((double)p["value"]! < 1e-3, p.ToJsonString());
        // Steering along the first principal direction: measured for the baseline whether or not it passed.
        Assert.Contains(report["measurements"]!.AsArray(), m => (string?)m!["check"] == "MECH3003" && (int?)m["feature"] == 0);
        Assert.Contains(report["measurements"]!.AsArray(), m => (string?)m!["check"] == "MECH3004" && (int?)m["feature"] == 0);
        // An accepted release keeps those values, so a later run reports what regressed.
        var baseline = File.ReadAllText(temp.File("mechanist.baseline.json"));
        foreach (var id in new[] { "MECH4002", "MECH4003", "MECH3003", "MECH3004" }) Assert.Contains($"\"check\":\"{id}\"", baseline);
    }

    [Fact]
    public void A_missing_mismatched_or_absent_labels_file_is_an_input_error_and_nothing_is_written()
    {
        using var temp = new TempDir();
        var data = Data(temp, 16);
        var other = Data(temp, 8);
        var report = temp.File("report.json");
        void Bad(string validations, params string[] expected)
        {
            var r = Cli.Run("check", Config(temp, validations, data), "--format", "json", "--out", report);
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Equal("", r.Out);
            foreach (var e in expected) Assert.Contains(e, r.Error);
            Assert.False(File.Exists(report));
        }
        Bad("""{ "method": "concept.probe", "decompositions": [], "site": "hook_embed", "labels": "nope.safetensors" }""",
            "): error MECH0011: concept labels file", "nope.safetensors not found.");
        Bad("""{ "method": "concept.probe", "decompositions": [], "site": "hook_embed" }""",
            "error MECH0010: validation 'concept.probe' cannot run: it needs concept labels (give the entry 'labels'");
        File.WriteAllText(temp.File("junk.safetensors"), "not a safetensors file");
        Bad("""{ "method": "concept.probe", "decompositions": [], "site": "hook_embed", "labels": "junk.safetensors" }""",
            "error MECH0011: ", "junk.safetensors");
        // Labels of 8 sequences for activations harvested from 16: the rows do not line up.
        Bad($$"""{ "method": "concept.sparse-probing", "decompositions": [ "resid1" ], "labels": "{{other}}", "options": { "concept": "top" } }""",
            "error MECH0011: validation 'concept.sparse-probing' on decomposition 'resid1': ", "rows");
        Bad($$"""{ "method": "concept.probe", "decompositions": [], "site": "blocks.9.hook_resid_post", "labels": "{{data}}" }""",
            "blocks.9.hook_resid_post");
    }
}
