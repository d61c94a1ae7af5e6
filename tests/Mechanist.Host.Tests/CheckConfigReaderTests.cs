using System.Text;
using Mechanist.Host.Configuration;
using Mechanist.Testing;
using Mechanist.Validators;

namespace Mechanist.Host.Tests;

/// <summary>mechanist.json: strict keys with suggestions, types, relative paths, every problem at once with its line.</summary>
public sealed class CheckConfigReaderTests
{
    static CheckConfig Parse(string json, string path = "/configs/release/mechanist.json") =>
        CheckConfigReader.Parse(Encoding.UTF8.GetBytes(json), path);

    static IReadOnlyList<ConfigProblem> Problems(string json) =>
        Assert.Throws<CheckInputException>(() => Parse(json)).Problems;

    [Fact]
    public void Reads_every_section_and_resolves_paths_against_the_config_folder()
    {
        var c = Parse("""
            {
              // comments and trailing commas are allowed
              "$schema": "../../mechanist.schema.json",
              "model": "models/m",
              "dataset": { "path": "data/inputs.safetensors", "tensor": "ids" },
              "plugins": ["../plugins/A", "/abs/B"],
              "device": "cpu",
              "seed": 3,
              "decompositions": {
                "resid": { "site": "blocks.0.hook_resid_post", "activations": "acts.npy", "method": "pca", "options": { "components": 8, "whiten": true, "name": "x" }, "seed": 5 },
                "loaded": { "activations": "acts.safetensors", "tensor": "resid", "path": "saes/loaded" },
              },
              "behaviours": {
                "answer": {
                  "inputs": { "task": "modular-addition", "options": { "split": "held_out", "samples": 64 } },
                  "corrupted": { "rule": "resample", "position": 1, "seed": 7 },
                  "metric": "logit-diff", "target": "label", "contrast": "corrupted-label", "position": -1
                },
                "paris": { "inputs": "data/prompts.jsonl", "corrupted": "data/corrupted.jsonl", "metric": "logprob", "target": " Paris" },
                "token": { "metric": "accuracy", "target": 42, "position": 2 }
              },
              "attributions": [ { "method": "ig", "site": "hook_embed", "options": { "steps": 16 }, "behaviour": "answer", "top": 3 } ],
              "validations": [ { "method": "decomposition.quality", "decompositions": ["resid"] }, { "method": "v2", "behaviour": "paris", "site": "hook_embed" } ],
              "baseline": "baselines/release.json",
              "checks": { "MECH1001": { "severity": "error", "threshold": 0.9 }, "MECH1003": "none", "MECH1002": { "threshold": 12 }, "ACME0001": "error" },
              "timeouts": { "default": 30, "pca": 2.5 },
            }
            """);
        Assert.Equal([("default", 30.0), ("pca", 2.5)], c.Timeouts.Select(t => (t.Method, t.Seconds)));
        Assert.Equal(Severity.Error, c.Settings.Severities!["ACME0001"]); // a plugin's own prefix, configured like MECH
        Assert.Equal("/configs/release/models/m", c.Model);
        Assert.Equal("/configs/release/data/inputs.safetensors", c.Dataset!.Path);
        Assert.Equal("ids", c.Dataset.Tensor);
        Assert.Equal(["/configs/plugins/A", "/abs/B"], c.Plugins.Select(p => p.Value));
        Assert.Equal("cpu", c.Device);
        Assert.Equal(3, c.Seed);
        var resid = c.Decompositions[0];
        Assert.Equal(("resid", "blocks.0.hook_resid_post", "/configs/release/acts.npy", "pca", 5), (resid.Name, resid.Site, resid.Activations, resid.Method, resid.Seed));
        Assert.Equal(new Dictionary<string, string> { ["components"] = "8", ["whiten"] = "true", ["name"] = "x" }, resid.Options);
        var loaded = c.Decompositions[1];
        Assert.Equal(("/configs/release/saes/loaded", "resid", null), (loaded.Folder, loaded.Tensor, loaded.Method));
        Assert.Null(resid.Tensor); // the file's activations tensor, its only tensor, or the one named by the site
        var attribution = Assert.Single(c.Attributions);
        Assert.Equal(("ig", "answer", 3, "hook_embed"), (attribution.Method, attribution.Behaviour!.Value, attribution.Top, Assert.Single(attribution.Sites)));
        Assert.Equal(["resid"], c.Validations[0].Decompositions!.Select(d => d.Value));
        Assert.Null(c.Validations[1].Decompositions);
        Assert.Equal(("paris", "hook_embed"), (c.Validations[1].Behaviour!.Value, c.Validations[1].Site));
        Assert.Equal("/configs/release/baselines/release.json", c.BaselinePath);

        var answer = c.Behaviours.Single(b => b.Name == "answer");
        Assert.Equal(("modular-addition", "held_out", "64"), (answer.Inputs!.Task, answer.Inputs.Options["split"], answer.Inputs.Options["samples"]));
        Assert.Equal(("resample", 1, 7), (answer.Corrupted!.Rule, answer.Corrupted.Position, answer.Corrupted.Seed));
        Assert.Equal(("logit-diff", true, true, -1), (answer.Metric, answer.Target!.Value.Label, answer.Contrast!.Value.CorruptedLabel, answer.Position));
        var paris = c.Behaviours.Single(b => b.Name == "paris");
        Assert.Equal(("/configs/release/data/prompts.jsonl", "/configs/release/data/corrupted.jsonl", " Paris"),
            (paris.Inputs!.Path, paris.Corrupted!.Inputs!.Path, paris.Target!.Value.Token));
        var token = c.Behaviours.Single(b => b.Name == "token");
        Assert.Equal((null, 42L, 2, false), (token.Inputs, token.Target!.Value.Id, token.Position, token.Differentiable));
        Assert.Equal(Severity.Error, c.Settings.Severities!["MECH1001"]);
        Assert.Equal(Severity.None, c.Settings.Severities["MECH1003"]);
        Assert.False(c.Settings.Severities.ContainsKey("MECH1002"));
        Assert.Equal(0.9, c.Settings.Thresholds!["MECH1001"]);
        Assert.Equal(12, c.Settings.Thresholds["MECH1002"]);
    }

    [Fact]
    public void Unknown_keys_at_every_level_suggest_the_closest_with_their_line()
    {
        var problems = Problems("""
            {
              "modle": "m",
              "decompositions": {
                "a": { "activations": "x.npy", "metod": "pca" }
              },
              "validations": [ { "method": "v", "optons": {} } ],
              "checks": { "MECH1001": { "severty": "error" } }
            }
            """);
        Assert.All(problems, p => Assert.Equal("MECH0010", p.Id));
        Assert.Contains(problems, p => p.Line == 2 && p.Column == 3 && p.Message.Contains("unknown key 'modle'") && p.Message.Contains("Did you mean 'model'?"));
        Assert.Contains(problems, p => p.Line == 4 && p.Message.Contains("unknown key 'metod' in 'decompositions.a'") && p.Message.Contains("Did you mean 'method'?"));
        Assert.Contains(problems, p => p.Line == 6 && p.Message.Contains("unknown key 'optons' in 'validations[0]'") && p.Message.Contains("Did you mean 'options'?"));
        Assert.Contains(problems, p => p.Line == 7 && p.Message.Contains("unknown key 'severty' in 'checks.MECH1001'") && p.Message.Contains("Did you mean 'severity'?"));
    }

    [Fact]
    public void Wrong_types_and_values_are_reported_all_at_once()
    {
        var problems = Problems("""
            {
              "seed": -1,
              "device": "gpu",
              "plugins": "one",
              "decompositions": { "a": { "activations": "x.npy", "method": "pca", "path": "f" }, "b": { "activations": 3, "method": "pca", "options": { "k": [1] } } },
              "checks": { "MECH1001": "eror", "CA-1001": "error", "MECH1002": { "threshold": "high" } }
            }
            """);
        string[] expected =
        [
            "'seed' must be a non-negative integer, not -1",
            "'device' must be auto, cpu, cuda or cuda:N, not 'gpu'",
            "'plugins' must be an array",
            "decomposition 'a' needs exactly one of 'method'",
            "'decompositions.b.activations' must be a non-empty string, not 3",
            "option 'decompositions.b.options.k' must be a string, number or boolean, not an array",
            "severity 'eror' of checks.MECH1001 is not one of none|suggestion|warning|error. Did you mean 'error'?",
            "'CA-1001' in 'checks' is not a check ID",
            "'checks.MECH1002.threshold' must be a number, not \"high\"",
        ];
        foreach (var text in expected) Assert.Contains(problems, p => p.Message.Contains(text));
        Assert.Equal(expected.Length, problems.Count);
    }

    [Fact]
    public void Malformed_behaviours_datasets_and_attributions_are_reported_at_their_keys()
    {
        var problems = Problems("""
            {
              "dataset": { "path": "a.jsonl", "task": "modular-addition" },
              "behaviours": {
                "a": { "metric": "logits", "target": "label" },
                "b": { "metric": "logit" },
                "c": { "metric": "logit-diff", "target": 3 },
                "d": { "metric": "logit", "target": 3, "contrast": 4 },
                "e": { "metric": "prob", "target": -2, "corrupted": { "rule": "shuffle", "position": 1 } },
                "f": { "metric": "prob", "target": "corrupted-label", "corrupted": { "rule": "resample" }, "position": "last" }
              },
              "attributions": [ { "method": "saliency" } ],
              "decompositions": { "h": { "site": "s", "tensor": "t", "path": "p" } }
            }
            """);
        (int Line, string Text)[] expected =
        [
            (2, "'dataset' needs exactly one of 'path'"),
            (4, "metric 'logits' of behaviour 'a' is not one of logit|logprob|prob|logit-diff|accuracy|loss. Did you mean 'logit'?"),
            (5, "behaviour 'b' ('behaviours.b') needs 'target'"),
            (6, "behaviour 'c' with metric logit-diff needs 'contrast'"),
            (7, "'contrast' of behaviour 'd' is used only with metric logit-diff"),
            (8, "'behaviours.e.target' must be a non-negative token id, not -2"),
            (8, "corruption rule 'shuffle' of behaviour 'e' is not known"),
            (9, "\"corrupted-label\" can only be a 'contrast'"),
            (9, "corruption rule 'resample' of behaviour 'f' needs 'position'"),
            (9, "'behaviours.f.position' must be an integer"),
            (11, "an attribution ('attributions[0]') needs 'behaviour'"),
            (12, "decomposition 'h': 'tensor' names the tensor in its 'activations' file, and it has none"),
        ];
        foreach (var (line, text) in expected)
            Assert.True(problems.Any(p => p.Line == line && p.Message.Contains(text)), $"line {line}: {text}\n{string.Join("\n", problems.Select(p => p.ToCanonical()))}");
        Assert.All(problems, p => Assert.Equal("MECH0010", p.Id));
    }

    [Fact]
    public void Invalid_json_names_line_and_column()
    {
        var p = Assert.Single(Problems("{\n  \"seed\": 1,\n  \"device\" \"cpu\"\n}"));
        Assert.Equal(("MECH0010", 3), (p.Id, p.Line));
        Assert.Contains("not valid JSON", p.Message);
        Assert.StartsWith("/configs/release/mechanist.json(3,", p.ToCanonical());
    }

    [Fact]
    public void Duplicate_keys_are_errors()
    {
        var p = Assert.Single(Problems("{ \"seed\": 1, \"seed\": 2 }"));
        Assert.Contains("key 'seed' appears more than once", p.Message);
    }

    [Fact]
    public void Loaded_decomposition_takes_no_training_options()
    {
        var p = Assert.Single(Problems("""{ "decompositions": { "a": { "activations": "x.npy", "path": "f", "options": { "components": 2 } } } }"""));
        Assert.Contains("'options' applies only to one trained with 'method'", p.Message);
    }

    [Fact]
    public void Missing_file_and_folder_without_config()
    {
        using var temp = new TempDir();
        var missing = Assert.Throws<CheckInputException>(() => CheckConfigReader.Load(temp.File("nope.json")));
        Assert.Equal("MECH0011", Assert.Single(missing.Problems).Id);
        Assert.Contains("not found", missing.Problems[0].Message);
        var folder = Assert.Throws<CheckInputException>(() => CheckConfigReader.Load(temp.Path));
        Assert.Contains("without a mechanist.json", Assert.Single(folder.Problems).Message);
        File.WriteAllText(temp.File("mechanist.json"), "{}");
        Assert.Equal(temp.File("mechanist.json"), CheckConfigReader.Load(temp.Path).Path);
    }

    [Fact]
    public void Positions_follow_json_pointers_through_objects_and_arrays()
    {
        var text = "{\n  \"a\": [\n    1,\n    { \"b\": \"é\", \"c\": 2 }\n  ],\n  \"d/e\": {}\n}";
        var positions = JsonPositions.Index(Encoding.UTF8.GetBytes(text));
        Assert.Equal((2, 3), positions.Of("/a"));
        Assert.Equal((3, 5), positions.Of("/a/0"));
        Assert.Equal((4, 5), positions.Of("/a/1"));
        Assert.Equal((4, 7), positions.Of("/a/1/b"));
        Assert.Equal((4, 17), positions.Of("/a/1/c")); // columns count characters, not UTF-8 bytes
        Assert.Equal((6, 3), positions.Of("/d~1e"));
        Assert.Equal((4, 7), positions.Of("/a/1/b/missing")); // nearest known parent
        Assert.Equal((1, 1), positions.Of("/nothing"));
    }
}
