using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Mechanist.Host.Configuration;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Cli.Tests;

/// <summary><c>mechanist check</c>: exit codes, findings under configured severities and thresholds, reports, bad input.</summary>
public sealed class CheckCommandTests
{
    static string Sample => Path.Combine(Repo.Root, "samples", "model-release");
    static string SampleActivations => Path.Combine(Sample, "data", "activations.safetensors");
    static string SampleRelease => Path.Combine(Sample, "release", "resid");

    static readonly Regex CanonicalLine = new(@"^(?<file>.+)\((?<line>\d+),(?<col>\d+)\): (?<cat>error|warning|info) (?<id>MECH\d{4}): (?<msg>.+)$");

    /// <summary>Writes a config into <paramref name="temp"/>; {ACTS} and {SAE} stand for the sample's activations and release folder.</summary>
    static string Config(TempDir temp, string json, string name = "mechanist.json")
    {
        var path = temp.File(name);
        File.WriteAllText(path, json.Replace("{ACTS}", SampleActivations).Replace("{SAE}", SampleRelease));
        return path;
    }

    const string LoadedRelease = """
        {
          "device": "cpu",
          "decompositions": {
            "resid": { "site": "blocks.0.hook_resid_post", "activations": "{ACTS}", "path": "{SAE}" }
          },
          "validations": [ { "method": "decomposition.quality" } ],
          "checks": CHECKS
        }
        """;

    static string WithChecks(string checks) => LoadedRelease.Replace("CHECKS", checks);

    static JsonObject JsonReport(CliResult r) => (JsonObject)JsonNode.Parse(r.Out)!;

    static JsonObject Finding(JsonObject report, string id) =>
        (JsonObject)Assert.Single(report["findings"]!.AsArray(), f => (string?)f!["id"] == id)!;

    [Fact]
    public void Sample_gates_the_grokked_model_on_its_mechanism_and_refuses_the_memorising_checkpoint()
    {
        // The release: harvested MLP activations, a behaviour on held-out pairs, causal, consistency, attribution and Fourier
        // checks, compared with the committed baseline. Everything holds: exit 0, every finding known to the baseline.
        using var temp = new TempDir();
        var r = Cli.Run("check", Path.Combine(Sample, "mechanist.json"), "--format", "json", "--cache", temp.File("cache"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var report = JsonReport(r);
        Assert.Equal(0, (int)report["summary"]!["errors"]!);
        Assert.All(report["findings"]!.AsArray(), f => Assert.Equal("unchanged", (string?)f!["baseline_state"]));
        Assert.DoesNotContain(report["findings"]!.AsArray(), f => ((string)f!["id"]!).StartsWith("MECH5", StringComparison.Ordinal));
        double Measured(JsonObject rep, string check, string? decomposition = null) => (double)rep["measurements"]!.AsArray()
            .Single(m => (string)m!["check"]! == check && m["feature"] is null && (decomposition is null || (string?)m["decomposition"] == decomposition))!["value"]!;
        Assert.Equal(1.0, Measured(report, "MODA4002"), 6);                  // the key frequencies carry every answer
        Assert.InRange(Measured(report, "MODA4001"), 0.95, 1.0);             // the embedding lives on them
        Assert.InRange(Measured(report, "MECH3001"), 0.5, 1.0);              // ablating the credited features removes the behaviour
        Assert.InRange(Measured(report, "MECH3002"), -0.25, 0.25);           // random ones do not
        Assert.InRange(Measured(report, "MECH1006", "mlp"), 0.99, 1.0);      // splicing the SAE in loses none of the task's loss
        var harvest = Assert.Single(report["harvests"]!.AsArray());
        Assert.Equal(("mlp", 3 * 4096), ((string?)harvest!["decomposition"], (long)harvest["rows"]!));
        var attribution = Assert.Single(report["attributions"]!.AsArray())!;
        Assert.Equal("layer-integrated-gradients", (string?)attribution["method"]);
        Assert.True(attribution["completeness_error"] is not null && attribution["top"]!.AsArray().Count == 5, attribution.ToJsonString());

        // The same bar on the checkpoint of the same run at epoch 1000, which had memorised its training pairs: the
        // mechanism is not there, and the build fails on it (not only on accuracy).
        r = Cli.Run("check", Path.Combine(Sample, "mechanist.memorising.json"), "--format", "json", "--cache", temp.File("cache"));
        Assert.True(r.ExitCode == 1, r.ToString());
        var errors = JsonReport(r)["findings"]!.AsArray().Where(f => (string?)f!["severity"] == "error").Select(f => (string)f!["id"]!).ToList();
        Assert.Contains("MODA4001", errors);
        Assert.Contains("MODA4002", errors);
        Assert.Contains(JsonReport(r)["findings"]!.AsArray(), f => (string?)f!["id"] == "MECH0013" && (string?)f["validation"] == "causal.ablation" &&
            ((string)f["message"]!).Contains("do not carry the behaviour"));
    }

    [Fact]
    public void Failing_sample_config_exits_1_with_the_explained_variance_of_the_shipped_sae()
    {
        var r = Cli.Run("check", Path.Combine(Sample, "mechanist.failing.json"), "--format", "json");
        Assert.True(r.ExitCode == 1, r.ToString());
        var f = Finding(JsonReport(r), "MECH1001");
        Assert.Equal("error", (string?)f["severity"]);
        Assert.Equal(0.97, (double)f["threshold"]!);
        Assert.Equal(7, (int)f["line"]!); // the line of decompositions.resid in the config
        Assert.Equal("blocks.0.hook_resid_post", (string?)f["site"]);

        // Independent value: SAELens's TopK equations written out here on the shipped weights, in float64:
        // f = TopK_k(ReLU((x - b_dec) W_enc + b_enc)), x_hat = f W_dec + b_dec, EV = 1 - sum||x - x_hat||^2 / sum||x - mean||^2.
        using var scope = NewDisposeScope();
        using var x = Mechanist.IO.ActivationFiles.Load(SampleActivations);
        var w = Mechanist.IO.Safetensors.ReadAll(Path.Combine(SampleRelease, "sae_weights.safetensors"))
            .ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float64));
        var k = int.Parse(System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(SampleRelease, "cfg.json")))!["mechanist"]!["options"]!["k"]!.GetValue<string>());
        var xs = x.Data.to(ScalarType.Float64);
        var pre = nn.functional.relu((xs - w["b_dec"]).matmul(w["W_enc"]) + w["b_enc"]);
        var (values, indices) = pre.topk(k, dim: 1);
        var latents = zeros_like(pre).scatter(1, indices, values);
        var xhat = latents.matmul(w["W_dec"]) + w["b_dec"];
        var centered = xs - xs.mean([0], keepdim: true);
        double expected = 1 - ((xs - xhat).square().sum() / centered.square().sum()).item<double>();
        Assert.Equal(expected, (double)f["value"]!, 4);
    }

    [Fact]
    public void Sarif_report_validates_against_the_official_schema_and_carries_rules_and_locations()
    {
        using var temp = new TempDir();
        var report = temp.File("report.sarif");
        var r = Cli.Run("check", Path.Combine(Sample, "mechanist.failing.json"), "--format", "sarif", "--out", report);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("mechanist.failing.json(7,5): error MECH1001: explained variance", r.Out); // findings still printed
        var text = File.ReadAllText(report);
        SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, text);

        var run = JsonNode.Parse(text)!["runs"]![0]!;
        var rules = run["tool"]!["driver"]!["rules"]!.AsArray();
        Assert.Equal(["MECH0001", "MECH0002", "MECH0003", "MECH0004", "MECH0005", "MECH0013", "MECH1001", "MECH1002", "MECH1003", "MECH1004", "MECH1005"],
            rules.Select(x => (string)x!["id"]!));
        var rule = rules.Single(x => (string)x!["id"]! == "MECH1001")!;
        Assert.Equal("Explained variance below threshold", (string)rule["shortDescription"]!["text"]!);
        Assert.Equal("ExplainedVarianceBelowThreshold", (string)rule["name"]!);
        Assert.Equal("warning", (string)rule["defaultConfiguration"]!["level"]!);
        Assert.Equal(0.7, (double)rule["properties"]!["defaultThreshold"]!);
        foreach (var x in rules)
        {
            var uri = new Uri((string)x!["helpUri"]!);
            Assert.True(uri.IsFile && File.Exists(uri.LocalPath), $"{x["id"]}: help page {uri} does not exist");
            Assert.EndsWith($"docs/checks/{x["id"]}.md", uri.AbsolutePath);
        }
        var overrides = run["invocations"]![0]!["ruleConfigurationOverrides"]!.AsArray();
        Assert.Contains(overrides, o => (string)o!["descriptor"]!["id"]! == "MECH1001" && (string)o["configuration"]!["level"]! == "error");

        var result = run["results"]!.AsArray().Single(x => (string)x!["ruleId"]! == "MECH1001")!;
        Assert.Equal("error", (string)result["level"]!);
        Assert.Equal(rules.IndexOf(rule), (int)result["ruleIndex"]!);
        var physical = result["locations"]![0]!["physicalLocation"]!;
        Assert.Equal("mechanist.failing.json", (string)physical["artifactLocation"]!["uri"]!);
        Assert.Equal("CONFIGROOT", (string)physical["artifactLocation"]!["uriBaseId"]!);
        Assert.Equal(7, (int)physical["region"]!["startLine"]!);
        Assert.Equal(new Uri(Sample + "/").AbsoluteUri, (string)run["originalUriBaseIds"]!["CONFIGROOT"]!["uri"]!);
        var props = result["properties"]!;
        Assert.Equal("blocks.0.hook_resid_post", (string)props["site"]!);
        Assert.Equal("resid", (string)props["decomposition"]!);
        Assert.Equal(0.97, (double)props["threshold"]!);
        Assert.InRange((double)props["value"]!, 0.9, 0.97);
        Assert.Contains("1 - fvu", (string)props["metricDefinition"]!);
        Assert.Contains(result["relatedLocations"]!.AsArray(), l => ((string)l!["physicalLocation"]!["artifactLocation"]!["uri"]!).EndsWith("release/resid", StringComparison.Ordinal));
    }

    [Fact]
    public void Sarif_validation_catches_broken_reports()
    {
        var r = Cli.Run("check", Path.Combine(Sample, "mechanist.failing.json"), "--format", "sarif");
        SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, r.Out);
        string Broken(Action<JsonNode> edit)
        {
            var node = JsonNode.Parse(r.Out)!;
            edit(node["runs"]![0]!);
            return node.ToJsonString();
        }
        Assert.NotEmpty(SchemaValidation.Errors(SchemaValidation.SarifSchemaPath, Broken(run => run["results"]![0]!["level"] = "fatal")));
        Assert.NotEmpty(SchemaValidation.Errors(SchemaValidation.SarifSchemaPath, Broken(run => run["tool"]!["driver"]!["rules"]![0]!["helpUri"] = "docs/checks/MECH0001.md")));
        Assert.NotEmpty(SchemaValidation.Errors(SchemaValidation.SarifSchemaPath, Broken(run => run["results"]![0]!["locations"]![0]!["physicalLocation"]!["region"]!["startLine"] = 0)));
        Assert.NotEmpty(SchemaValidation.Errors(SchemaValidation.SarifSchemaPath, Broken(run => run["results"]![0]!["message"] = "text")));
    }

    [Fact]
    public void Help_links_resolve_against_a_given_base()
    {
        var r = Cli.Run("check", Path.Combine(Sample, "mechanist.failing.json"), "--format", "sarif", "--help-uri-base", "https://example.org/mechanist/blob/v1");
        Assert.Equal(1, r.ExitCode);
        SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, r.Out);
        var rules = JsonNode.Parse(r.Out)!["runs"]![0]!["tool"]!["driver"]!["rules"]!.AsArray();
        Assert.Equal("https://example.org/mechanist/blob/v1/docs/checks/MECH1001.md",
            (string)rules.Single(x => (string)x!["id"]! == "MECH1001")!["helpUri"]!);
        Assert.Equal(2, Cli.Run("check", Path.Combine(Sample, "mechanist.failing.json"), "--help-uri-base", "not a uri").ExitCode);
    }

    [Fact]
    public void Severity_none_suppresses_and_a_threshold_override_changes_the_verdict()
    {
        using var temp = new TempDir();
        // Defaults: MECH1004 (dense latents, PCA is dense by construction) is a warning; exit 0.
        var r = Cli.Run("check", Config(temp, WithChecks("{}")), "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("warning", (string?)Finding(JsonReport(r), "MECH1004")["severity"]);
        // Suppressed.
        r = Cli.Run("check", Config(temp, WithChecks("""{ "MECH1004": "none" }""")), "--format", "json");
        Assert.Empty(JsonReport(r)["findings"]!.AsArray());
        // Promoted: exit 1.
        r = Cli.Run("check", Config(temp, WithChecks("""{ "MECH1004": "error" }""")), "--format", "json");
        Assert.Equal(1, r.ExitCode);
        // The threshold decides: the release is a TopK SAE with k = 8, so L0 is 8: 7 reports and 8 does not
        // (the comparison is l0 > threshold).
        r = Cli.Run("check", Config(temp, WithChecks("""{ "MECH1004": "none", "MECH1002": { "severity": "error", "threshold": 7 } }""")), "--format", "json");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(8, (double)Finding(JsonReport(r), "MECH1002")["value"]!, 6);
        r = Cli.Run("check", Config(temp, WithChecks("""{ "MECH1004": "none", "MECH1002": { "severity": "error", "threshold": 8 } }""")), "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    [Fact]
    public void A_trained_decomposition_is_checked_like_a_loaded_one()
    {
        using var temp = new TempDir();
        var config = Config(temp, """
            {
              "device": "cpu",
              "decompositions": {
                "small": { "activations": "{ACTS}", "method": "pca", "options": { "components": 4 } },
                "large": { "activations": "{ACTS}", "method": "pca", "options": { "components": 24 } }
              },
              "validations": [ { "method": "decomposition.quality" } ],
              "checks": { "MECH1001": "error", "MECH1004": "none" }
            }
            """);
        var r = Cli.Run("check", config, "--format", "json");
        Assert.True(r.ExitCode == 1, r.ToString());
        var f = Finding(JsonReport(r), "MECH1001");
        Assert.Equal("small", (string?)f["decomposition"]);
        Assert.Equal(4, (int)f["line"]!);
    }

    [Fact]
    public void A_throwing_validator_is_MECH0001_at_its_line_and_the_run_goes_on()
    {
        using var temp = new TempDir();
        var config = Config(temp, $$"""
            {
              "plugins": [ "{{Cli.FaultyPlugin}}" ],
              "device": "cpu",
              "decompositions": { "resid": { "activations": "{ACTS}", "path": "{SAE}" } },
              "validations": [
                { "method": "test.throwing-validator" },
                { "method": "decomposition.quality" }
              ],
              "checks": { "MECH1004": "suggestion" }
            }
            """);
        var r = Cli.Run("check", config, "--format", "sarif");
        Assert.True(r.ExitCode == 1, r.ToString());
        SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, r.Out);
        var results = JsonNode.Parse(r.Out)!["runs"]![0]!["results"]!.AsArray();
        var thrown = results.Single(x => (string)x!["ruleId"]! == "MECH0001")!;
        Assert.Contains("planted failure in Validate", (string)thrown["message"]!["text"]!);
        Assert.Equal(6, (int)thrown["locations"]![0]!["physicalLocation"]!["region"]!["startLine"]!);
        Assert.Contains(results, x => (string)x!["ruleId"]! == "MECH1004"); // the next validator still ran
        Assert.Contains(results, x => (string)x!["ruleId"]! == "MECH0002" && (string)x["level"]! == "warning"); // the plugin's broken type

        // Infrastructure findings follow the configured severities too.
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"MECH1004\": \"suggestion\"", "\"MECH1004\": \"suggestion\", \"MECH0002\": \"none\", \"MECH0001\": \"warning\""));
        r = Cli.Run("check", config, "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("warning", (string?)Finding(JsonReport(r), "MECH0001")["severity"]);
        Assert.DoesNotContain(JsonReport(r)["findings"]!.AsArray(), x => (string?)x!["id"] == "MECH0002");
    }

    [Fact]
    public void Msbuild_format_is_canonical_lines_only()
    {
        var r = Cli.Run("check", Path.Combine(Sample, "mechanist.failing.json"), "--format", "msbuild");
        Assert.Equal(1, r.ExitCode);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            var m = CanonicalLine.Match(line);
            Assert.True(m.Success, line);
            Assert.Equal(Path.Combine(Sample, "mechanist.failing.json"), m.Groups["file"].Value);
        }
        Assert.Contains(lines, l => l.Contains("): error MECH1001: "));
    }

    [Fact]
    public void Dependencies_list_every_file_read()
    {
        using var temp = new TempDir();
        var deps = temp.File("deps.txt");
        var r = Cli.Run("check", Path.Combine(Sample, "mechanist.failing.json"), "--dependencies", deps);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(
            [SampleActivations, Path.Combine(Sample, "mechanist.failing.json"), Path.Combine(SampleRelease, "cfg.json"), Path.Combine(SampleRelease, "sae_weights.safetensors"),
             .. Directory.GetFiles(Path.GetFullPath(Path.Combine(Sample, "..", "models", "modular-addition"))).Order(StringComparer.Ordinal)], // the model folder named by "model"
            File.ReadAllLines(deps));
    }

    [Fact]
    public void Sample_configs_follow_the_schema_and_the_schema_rejects_what_the_reader_rejects()
    {
        foreach (var name in new[] { "mechanist.json", "mechanist.memorising.json", "mechanist.failing.json" })
            SchemaValidation.AssertValid(SchemaValidation.ConfigSchemaPath, File.ReadAllText(Path.Combine(Sample, name)));
        string[] invalid =
        [
            """{ "modle": "m" }""",
            """{ "decompositions": { "a": { "activations": "x", "metod": "pca" } } }""",
            """{ "decompositions": { "a": { "activations": "x", "method": "pca", "path": "p" } } }""",
            """{ "decompositions": { "a": { "activations": "x", "path": "p", "options": {} } } }""",
            """{ "checks": { "MECH1001": "eror" } }""",
            """{ "checks": { "CA-1001": "error" } }""",
            """{ "checks": { "MECH10001": "error" } }""",
            """{ "timeouts": { "default": 0 } }""",
            """{ "timeouts": { "Not.An.Id": 5 } }""",
            """{ "checks": { "MECH1001": { "threshold": "high" } } }""",
            """{ "validations": [ { "options": {} } ] }""",
            """{ "device": "gpu" }""",
            """{ "seed": -1 }""",
            """{ "dataset": { "path": "a", "task": "b" } }""",
            """{ "dataset": { "path": "a.jsonl", "options": { "p": 7 } } }""",
            """{ "behaviours": { "b": { "metric": "logits", "target": "label" } } }""",
            """{ "behaviours": { "b": { "metric": "logit" } } }""",
            """{ "behaviours": { "b": { "metric": "logit-diff", "target": 1 } } }""",
            """{ "behaviours": { "b": { "metric": "logit", "target": 1, "contrast": 2 } } }""",
            """{ "behaviours": { "b": { "metric": "logit", "target": -1 } } }""",
            """{ "behaviours": { "b": { "metric": "logit", "target": "corrupted-label" } } }""",
            """{ "behaviours": { "b": { "metric": "logit", "target": 1, "corrupted": { "rule": "shuffle", "position": 1 } } } }""",
            """{ "behaviours": { "b": { "metric": "logit", "target": 1, "corrupted": { "rule": "resample" } } } }""",
            """{ "attributions": [ { "method": "saliency" } ] }""",
            """{ "attributions": [ { "method": "saliency", "behaviour": "b", "site": "s", "sites": [ "t" ] } ] }""",
            """{ "validations": [ { "method": "v", "behaviour": 3 } ] }""",
            """{ "baseline": "" }""",
            """{ "decompositions": { "a": { "tensor": "t", "method": "pca" } } }""",
        ];
        foreach (var json in invalid)
        {
            Assert.NotEmpty(SchemaValidation.Errors(SchemaValidation.ConfigSchemaPath, json));
            Assert.Throws<CheckInputException>(() => CheckConfigReader.Parse(System.Text.Encoding.UTF8.GetBytes(json), "/x/mechanist.json"));
        }
    }

    [Fact]
    public void Schema_and_reader_know_the_same_keys()
    {
        var schema = JsonNode.Parse(File.ReadAllText(SchemaValidation.ConfigSchemaPath))!;
        IEnumerable<string> Keys(JsonNode node) => node["properties"]!.AsObject().Select(p => p.Key);
        Assert.Equal(CheckConfigReader.Keys["root"].Order(), Keys(schema).Order());
        foreach (var (definition, keys) in CheckConfigReader.Keys.Where(k => k.Key != "root"))
            Assert.Equal(keys.Order(), Keys(schema["definitions"]![definition]!).Order());
        Assert.Equal(CheckConfigReader.SeverityNames, schema["definitions"]!["severity"]!["enum"]!.AsArray().Select(x => (string)x!));
    }

    // Bad input: exit 2, every problem as a canonical error line with its ID and line, nothing written.

    static void AssertBadInput(CliResult r, TempDir temp, params string[] expected)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Out);
        var lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.Matches(CanonicalLine, l));
        Assert.All(lines, l => Assert.Contains("): error MECH00", l));
        foreach (var text in expected) Assert.Contains(lines, l => l.Contains(text));
        Assert.False(File.Exists(temp.File("report.sarif")));
        Assert.DoesNotContain(temp.Entries(), e => e.EndsWith(".tmp", StringComparison.Ordinal));
    }

    static CliResult Check(TempDir temp, string configPath, params string[] extra) =>
        Cli.Run(["check", configPath, "--format", "sarif", "--out", temp.File("report.sarif"), .. extra]);

    [Fact]
    public void Mistyped_key()
    {
        using var temp = new TempDir();
        var config = Config(temp, """
            {
              "decompositions": { "resid": { "activations": "{ACTS}", "path": "{SAE}" } },
              "validatons": [ { "method": "decomposition.quality" } ]
            }
            """);
        AssertBadInput(Check(temp, config), temp, $"{config}(3,3): error MECH0010: unknown key 'validatons' in the configuration. Did you mean 'validations'?");
    }

    [Fact]
    public void Unknown_check_id()
    {
        using var temp = new TempDir();
        var config = Config(temp, WithChecks("""{ "MECH1011": "error" }"""));
        AssertBadInput(Check(temp, config), temp, "(7,15): error MECH0003: unknown check 'MECH1011'; did you mean 'MECH1001' (Explained variance below threshold)?");
    }

    [Fact]
    public void Checks_that_cannot_be_configured()
    {
        using var temp = new TempDir();
        AssertBadInput(Check(temp, Config(temp, WithChecks("""{ "MECH0010": "none", "MECH1005": { "threshold": 2 } }"""))), temp,
            "error MECH0010: MECH0010 cannot be configured", "error MECH0010: check MECH1005 (Non-finite weights) has no threshold to set.");
    }

    [Fact]
    public void Unknown_methods_and_options()
    {
        using var temp = new TempDir();
        var config = Config(temp, """
            {
              "decompositions": { "a": { "activations": "{ACTS}", "method": "pcaa" }, "b": { "activations": "{ACTS}", "method": "pca", "options": { "componets": 3 } } },
              "validations": [ { "method": "decomposition.qualty", "decompositions": [ "c" ] } ],
              "attributions": [ { "method": "pca", "behaviour": "b" } ]
            }
            """);
        AssertBadInput(Check(temp, config), temp,
            "error MECH0003: unknown decomposer 'pcaa'; did you mean 'pca'? Known decomposers: ",
            "error MECH0010: unknown option 'componets' for method 'pca'. Did you mean 'components'?",
            "error MECH0003: unknown validator 'decomposition.qualty'; did you mean 'decomposition.quality'?",
            "error MECH0010: validation 'decomposition.qualty' names decomposition 'c', which 'decompositions' does not define.",
            "error MECH0010: method 'pca' is a decomposer, not an attribution.",
            "error MECH0010: attribution 'pca' names behaviour 'b', which 'behaviours' does not define.");
    }

    [Fact]
    public void Missing_model_folder()
    {
        using var temp = new TempDir();
        var config = Config(temp, """{ "model": "models/missing" }""");
        AssertBadInput(Check(temp, config), temp, $"{config}(1,3): error MECH0011: model folder {temp.File("models/missing")} not found.");
        AssertBadInput(Check(temp, Config(temp, "{}"), "--model", temp.File("other")), temp, $"error MECH0011: model folder {temp.File("other")} not found.");
    }

    [Fact]
    public void Model_folder_without_config_or_loader()
    {
        using var temp = new TempDir();
        Directory.CreateDirectory(temp.File("m"));
        AssertBadInput(Check(temp, Config(temp, """{ "model": "m" }""")), temp, "error MECH0011: model folder", "has no config.json");
        File.WriteAllText(Path.Combine(temp.File("m"), "config.json"), """{ "model_type": "gpt-9" }""");
        AssertBadInput(Check(temp, Config(temp, """{ "model": "m" }""")), temp, "error MECH0003: unknown model-loader 'gpt-9' (the model_type of");
    }

    [Fact]
    public void Missing_and_corrupt_inputs()
    {
        using var temp = new TempDir();
        var cut = temp.File("cut.safetensors");
        File.WriteAllBytes(cut, File.ReadAllBytes(SampleActivations)[..^100]);
        Directory.CreateDirectory(temp.File("empty-sae"));
        var config = Config(temp, $$"""
            {
              "plugins": [ "no-such-plugin" ],
              "decompositions": {
                "a": { "activations": "nope.safetensors", "path": "{SAE}" },
                "b": { "activations": "{ACTS}", "path": "empty-sae" }
              }
            }
            """);
        AssertBadInput(Check(temp, config), temp, "(2,16): error MECH0011: plugin folder", "no-such-plugin not found.");
        config = Config(temp, """
            {
              "decompositions": {
                "a": { "activations": "nope.safetensors", "path": "{SAE}" },
                "b": { "activations": "{ACTS}", "path": "empty-sae" },
                "c": { "activations": "cut.safetensors", "path": "{SAE}" },
                "d": { "site": "x", "method": "pca" }
              }
            }
            """);
        AssertBadInput(Check(temp, config), temp,
            "(3,12): error MECH0011: activation file", "nope.safetensors not found.",
            "error MECH0011: decomposition folder", "has no cfg.json",
            "error MECH0010: decomposition 'd' has no 'activations', so they are harvested from the model, which needs a 'model' to run, a 'dataset' to run it on");
        config = Config(temp, """{ "decompositions": { "c": { "activations": "cut.safetensors", "path": "{SAE}" } } }""");
        AssertBadInput(Check(temp, config), temp, "error MECH0011: ", "cut.safetensors", "truncated");
    }

    [Fact]
    public void Activations_of_another_width()
    {
        using var temp = new TempDir();
        var narrow = TestData.WithTensor(temp.Path, "narrow.safetensors", "activations", randn(64, 8));
        AssertBadInput(Check(temp, Config(temp, $$"""{ "decompositions": { "a": { "activations": "{{narrow}}", "path": "{SAE}" } } }""")), temp,
            "error MECH0011: decomposition 'a' has d_in 128, but its activations", "have dimension 8.");
    }

    [Fact]
    public void A_failed_check_keeps_the_previous_report()
    {
        using var temp = new TempDir();
        var good = Config(temp, WithChecks("{}"));
        Assert.Equal(0, Check(temp, good).ExitCode);
        var before = File.ReadAllText(temp.File("report.sarif"));
        var bad = Config(temp, """{ "sed": 1 }""", "bad.json");
        var r = Check(temp, bad);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(before, File.ReadAllText(temp.File("report.sarif")));
    }

    [Fact]
    public void Config_argument_is_required_and_single()
    {
        Assert.Contains("needs a configuration file", Cli.Run("check").Error);
        Assert.Contains("unexpected argument 'b.json'", Cli.Run("check", "a.json", "b.json").Error);
        Assert.Equal(2, Cli.Run("check", "a.json", "--format", "xml").ExitCode);
    }

    [Fact]
    public void Exit_codes_as_the_shell_sees_them()
    {
        using var temp = new TempDir();
        Assert.Equal(0, Cli.RunProcess("check", Config(temp, WithChecks("""{ "MECH1004": "none" }"""))).ExitCode);
        Assert.Equal(1, Cli.RunProcess("check", Path.Combine(Sample, "mechanist.failing.json")).ExitCode);
        Assert.Equal(2, Cli.RunProcess("check", Path.Combine(Sample, "missing.json")).ExitCode);
    }
}
