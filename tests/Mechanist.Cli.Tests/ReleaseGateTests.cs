using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Cli.Tests;

/// <summary>
/// The release gate from a mechanist.json: what each validator requires, behaviours and datasets, harvesting from the
/// model, baselines with SARIF baselineState and MECH5xxx regressions, and the bad inputs of all of these.
/// </summary>
public sealed class ReleaseGateTests
{
    static string Sample => Path.Combine(Repo.Root, "samples", "model-release");
    static string Models => Path.Combine(Repo.Root, "samples", "models");
    static readonly Regex CanonicalLine = new(@"^(?<file>.+)\((?<line>\d+),(?<col>\d+)\): (?<cat>error|warning|info) (?<id>MECH\d{4}): (?<msg>.+)$");

    /// <summary>Writes a config; {MODEL}, {SAMPLE} and {MODELS} stand for the shipped model, the sample folder and the models folder.</summary>
    static string Config(TempDir temp, string json, string name = "mechanist.json")
    {
        var path = temp.File(name);
        File.WriteAllText(path, json.Replace("{MODEL}", Path.Combine(Models, "modular-addition")).Replace("{SAMPLE}", Sample).Replace("{MODELS}", Models));
        return path;
    }

    static JsonObject Json(CliResult r) => (JsonObject)JsonNode.Parse(r.Out)!;

    static CliResult Check(TempDir temp, string config, params string[] extra) =>
        Cli.Run(["check", config, "--format", "json", "--cache", temp.File("cache"), .. extra]);

    /// <summary>Exit 2, each expected problem as a canonical error line (with its line and column), and nothing written.</summary>
    static void AssertBadInput(CliResult r, TempDir temp, params (int Line, int Column, string Text)[] expected)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Out);
        var lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.Matches(CanonicalLine, l));
        foreach (var (line, column, text) in expected)
            Assert.True(lines.Any(l => l.Contains($"({line},{column}): error MECH001", StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal)),
                $"expected ({line},{column}) '{text}' in:\n{r.Error}");
        Assert.False(File.Exists(temp.File("report.json")));
        // No cache entry: nothing was harvested before the inputs were checked.
        Assert.True(!Directory.Exists(temp.File("cache")) || !Directory.EnumerateFileSystemEntries(temp.File("cache")).Any(),
            string.Join(", ", Directory.Exists(temp.File("cache")) ? Directory.EnumerateFileSystemEntries(temp.File("cache")) : []));
    }

    const string Gate = """
        {
          "model": "{MODEL}",
          "device": "cpu",
          "dataset": { "task": "modular-addition", "options": { "samples": 512 } },
          "decompositions": { "mlp": { "site": "blocks.0.mlp.hook_post", "path": "{SAMPLE}/release/mlp" } },
          "behaviours": {
            "answer": {
              "inputs": { "task": "modular-addition", "options": { "split": "held_out", "samples": 64 } },
              "corrupted": { "rule": "resample", "position": 1 },
              "metric": "logit",
              "target": "label"
            }
          },
          "validations": VALIDATIONS,
          "checks": { "MECH1004": "none", "MECH4001": "none" }
        }
        """;

    static string GateWith(string validations) => Gate.Replace("VALIDATIONS", validations);

    [Fact]
    public void A_validation_that_lacks_what_its_validator_requires_is_MECH0010_at_its_line()
    {
        using var temp = new TempDir();
        var config = Config(temp, """
            {
              "model": "{MODEL}",
              "decompositions": { "resid": { "site": "blocks.0.hook_resid_post", "activations": "{SAMPLE}/data/activations.safetensors", "path": "{SAMPLE}/release/resid" } },
              "behaviours": { "top": { "inputs": "{SAMPLE}/data/tokens.jsonl", "metric": "accuracy", "target": 3 } },
              "validations": [
                { "method": "causal.ablation" },
                { "method": "attribution.faithfulness", "behaviour": "top" },
                { "method": "decomposition.splice" },
                { "method": "explanation.consistency", "options": { "explanation": "token" } }
              ]
            }
            """);
        var r = Check(temp, config, "--out", temp.File("report.json"));
        AssertBadInput(r, temp,
            (6, 5, "validation 'causal.ablation' on decomposition 'resid' cannot run: it needs a behaviour (name one of 'behaviours' in the entry's 'behaviour'); a differentiable metric"),
            (7, 5, "validation 'attribution.faithfulness' on decomposition 'resid' cannot run: it needs a differentiable metric (use a metric other than 'accuracy')"),
            (8, 5, "validation 'decomposition.splice' on decomposition 'resid' cannot run: it needs model inputs (set 'dataset')"));
        // A check that needs more than its validator: MECH2002 without corrupted inputs, unless switched off.
        config = Config(temp, GateWith("""[ { "method": "attribution.faithfulness", "behaviour": "plain", "decompositions": [], "site": "hook_embed" } ]""")
            .Replace("\"behaviours\": {", "\"behaviours\": { \"plain\": { \"metric\": \"logit\", \"target\": \"label\" },"));
        AssertBadInput(Check(temp, config), temp, (14, 20, "check MECH2002 (Attribution patching disagrees with activation patching) of validation 'attribution.faithfulness' needs corrupted inputs"));
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"MECH4001\": \"none\"", "\"MECH4001\": \"none\", \"MECH2002\": \"none\""));
        var ok = Check(temp, config);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Contains(Json(ok)["measurements"]!.AsArray(), m => (string?)m!["check"] == "MECH2001");
    }

    [Fact]
    public void Every_validator_runs_from_the_file_with_what_it_measured_and_logged_in_the_report()
    {
        using var temp = new TempDir();
        var config = Config(temp, GateWith("""
            [
              { "method": "decomposition.quality" },
              { "method": "decomposition.splice" },
              { "method": "causal.ablation", "behaviour": "answer", "options": { "top_k": 24, "random_draws": 3, "steps": 4 } },
              { "method": "explanation.consistency", "options": { "max_features": 4 } },
              { "method": "attribution.faithfulness", "behaviour": "answer", "options": { "steps": 16 } }
            ]
            """).Replace("\"checks\"", """
            "attributions": [ { "method": "layer-integrated-gradients", "behaviour": "answer", "site": "hook_embed" },
                              { "method": "activation-patching", "behaviour": "answer", "sites": [ "blocks.0.hook_attn_out", "blocks.0.hook_mlp_out" ], "top": 3 } ],
            "checks"
            """));
        var r = Check(temp, config);
        Assert.True(r.ExitCode == 0, r.ToString());
        var report = Json(r);
        string[] measured = ["MECH1001", "MECH1002", "MECH1003", "MECH1004", "MECH1005", "MECH1006", "MECH1007", "MECH2001", "MECH2002", "MECH2003", "MECH3001", "MECH3002", "MECH4001"];
        Assert.Equal(measured, report["measurements"]!.AsArray().Select(m => (string)m!["check"]!).Distinct().Order());
        // Every measurement of one validator run names the run: validation, decomposition, behaviour, site.
        var credited = report["measurements"]!.AsArray().Single(m => (string?)m!["check"] == "MECH3001")!;
        Assert.Equal(("causal.ablation", "mlp", "answer", "blocks.0.mlp.hook_post"),
            ((string?)credited["validation"], (string?)credited["decomposition"], (string?)credited["behaviour"], (string?)credited["site"]));
        // What the methods logged reaches the report.
        Assert.Contains(report["log"]!.AsArray(), l => (string?)l!["source"] == "causal.ablation on 'mlp'" && ((string)l["message"]!).Contains("the features carry"));

        // Attribution entries: their scores and completeness error, in JSON and SARIF.
        var attributions = report["attributions"]!.AsArray();
        Assert.Equal(["layer-integrated-gradients", "activation-patching"], attributions.Select(a => (string)a!["method"]!));
        var ig = attributions[0]!;
        // Completeness: Σ scores = M(x) − M(x′) for every example; integrated gradients over the embedding are exact to quadrature.
        Assert.InRange((double)ig["completeness_error"]!, 0, 1e-2 * Math.Abs((double)ig["metric_mean"]! - (double)ig["reference_metric_mean"]!));
        Assert.Equal(3, attributions[1]!["top"]!.AsArray().Count);
        Assert.StartsWith("blocks.0.hook_", (string)attributions[1]!["top"]![0]!["unit"]!);
        var sarif = Cli.Run("check", config, "--format", "sarif", "--cache", temp.File("cache")).Out;
        SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, sarif);
        Assert.Equal(2, JsonNode.Parse(sarif)!["runs"]![0]!["properties"]!["attributions"]!.AsArray().Count);
        Assert.NotEmpty(JsonNode.Parse(sarif)!["runs"]![0]!["invocations"]![0]!["toolExecutionNotifications"]!.AsArray());
    }

    [Fact]
    public void Bad_behaviours_datasets_and_sites_are_input_errors_at_their_lines_and_nothing_is_harvested()
    {
        using var temp = new TempDir();
        var narrow = temp.File("two-positions.jsonl");
        File.WriteAllText(narrow, "[1, 2]\n[3, 4]\n");
        var config = Config(temp, $$"""
            {
              "model": "{MODEL}",
              "dataset": { "task": "modular-addition", "options": { "splitt": "held_out" } },
              "decompositions": { "mlp": { "site": "blocks.0.mlp.hook_pots", "path": "{SAMPLE}/release/mlp" } }
            }
            """);
        AssertBadInput(Check(temp, config, "--out", temp.File("report.json")), temp,
            (3, 57, "unknown option 'splitt' for task 'modular-addition'. Did you mean 'split'?"));
        config = Config(temp, $$"""
            {
              "model": "{MODEL}",
              "dataset": { "task": "modular-addition", "options": { "samples": 32 } },
              "decompositions": { "mlp": { "site": "blocks.0.mlp.hook_pots", "path": "{SAMPLE}/release/mlp" } },
              "behaviours": {
                "word": { "metric": "logit", "target": " Paris" },
                "big": { "metric": "logit", "target": 113 },
                "far": { "metric": "logit", "target": 1, "position": 3 },
                "shape": { "metric": "logit", "target": 1, "corrupted": "{{narrow}}" }
              }
            }
            """);
        AssertBadInput(Check(temp, config, "--out", temp.File("report.json")), temp,
            (4, 32, "decomposition 'mlp': model 'modular-addition' has no hook site 'blocks.0.mlp.hook_pots'. Did you mean 'blocks.0.mlp.hook_post'?"),
            (6, 34, "behaviour 'word': target \" Paris\" is a token string, read with GPT-2's BPE; model 'modular-addition' does not use GPT-2's vocabulary"),
            (7, 33, "behaviour 'big': target 113 is outside the model's 113 outputs (0 … 112)"),
            (8, 46, "behaviour 'far': position 3 is outside the inputs' 3 positions"),
            (9, 48, "the corrupted inputs " + narrow + " have shape [2, 2], the clean inputs [32, 3]; they must match."));
    }

    [Fact]
    public void Update_baseline_then_a_degraded_decomposition_reports_regressions_with_their_baseline_state()
    {
        using var temp = new TempDir();
        // The released SAE, copied: the test degrades it later.
        var sae = temp.File("sae");
        Directory.CreateDirectory(sae);
        foreach (var f in Directory.GetFiles(Path.Combine(Sample, "release", "resid"))) File.Copy(f, Path.Combine(sae, Path.GetFileName(f)));
        var config = Config(temp, $$"""
            {
              "decompositions": { "resid": { "site": "blocks.0.hook_resid_post", "activations": "{SAMPLE}/data/activations.safetensors", "path": "sae" } },
              "validations": [ { "method": "decomposition.quality" } ],
              "checks": { "MECH1001": { "severity": "error", "threshold": 0.93 }, "MECH5001": "error", "MECH5002": "error" }
            }
            """);
        var baseline = temp.File("mechanist.baseline.json");
        var accepted = Check(temp, config, "--update-baseline");
        Assert.True(accepted.ExitCode == 0, accepted.ToString());
        var text = File.ReadAllText(baseline);
        Assert.StartsWith("{\n  \"format\": \"mechanist.baseline\",\n  \"version\": 1,\n  \"config\": \"mechanist.json\",\n", text);
        Assert.Contains("""{"check":"MECH1001","validation":"decomposition.quality","decomposition":"resid","site":"blocks.0.hook_resid_post","value":0.94488}""", text);
        Assert.Contains("""{"id":"MECH1004","severity":"warning","validation":"decomposition.quality","decomposition":"resid","site":"blocks.0.hook_resid_post","value":0.53125,""", text);
        // Stable: the same run writes the same bytes.
        Assert.Equal(0, Check(temp, config, "--update-baseline").ExitCode);
        Assert.Equal(text, File.ReadAllText(baseline));
        // Compared with itself: every finding unchanged, nothing to report.
        var same = Cli.Run("check", config, "--format", "sarif");
        Assert.True(same.ExitCode == 0, same.ToString());

        // Degrade: latent 0 never fires (its encoder bias far below zero), and the decoder is perturbed.
        var weights = Safetensors.ReadAll(Path.Combine(sae, "sae_weights.safetensors"));
        weights["b_enc"][0] = tensor(-1e6f);
        weights["W_dec"] = weights["W_dec"] + 0.2f * randn(weights["W_dec"].shape, generator: new Generator(3));
        Safetensors.Write(Path.Combine(sae, "sae_weights.safetensors"), weights);

        var r = Cli.Run("check", config, "--format", "sarif", "--out", temp.File("report.sarif"), "--cache", temp.File("cache"));
        Assert.True(r.ExitCode == 1, r.ToString());
        var sarifText = File.ReadAllText(temp.File("report.sarif"));
        SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, sarifText);
        var results = JsonNode.Parse(sarifText)!["runs"]![0]!["results"]!.AsArray();
        var regression = results.Single(x => (string)x!["ruleId"]! == "MECH5001" && ((string)x["message"]!["text"]!).StartsWith("MECH1001"))!;
        Assert.Equal(("error", "new"), ((string)regression["level"]!, (string)regression["baselineState"]!));
        var died = results.Single(x => (string)x!["ruleId"]! == "MECH5002")!;
        Assert.Equal((0, "new"), ((int)died["properties"]!["feature"]!, (string)died["baselineState"]!));
        Assert.Equal("updated", (string)results.Single(x => (string)x!["ruleId"]! == "MECH1004")!["baselineState"]!); // same place, another value
        Assert.Contains(results, x => (string)x!["ruleId"]! == "MECH1001" && (string)x["baselineState"]! == "new"); // below 0.93 now

        // --fail-on new: errors the baseline had stay errors only if new; the regressions are new, so it still fails.
        Assert.Equal(1, Cli.Run("check", config, "--fail-on", "new").ExitCode);
        // Accept the degraded state; then a baseline error (MECH1001) is old news under --fail-on new, not under all.
        Assert.Equal(1, Cli.Run("check", config, "--update-baseline").ExitCode);
        var legacy = Cli.Run("check", config, "--fail-on", "new");
        Assert.True(legacy.ExitCode == 0, legacy.ToString());
        Assert.Contains("): warning MECH1001: ", legacy.Out);
        Assert.Contains("an error that does not fail the check under --fail-on new", legacy.Out);
        Assert.Equal(1, Cli.Run("check", config, "--fail-on", "all").ExitCode);

        // The released SAE back: the accepted MECH1001 error is gone, reported as absent (a passing SARIF result).
        File.Copy(Path.Combine(Sample, "release", "resid", "sae_weights.safetensors"), Path.Combine(sae, "sae_weights.safetensors"), overwrite: true);
        var fixedRun = Cli.Run("check", config, "--format", "sarif");
        Assert.True(fixedRun.ExitCode == 0, fixedRun.ToString());
        SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, fixedRun.Out);
        var gone = JsonNode.Parse(fixedRun.Out)!["runs"]![0]!["results"]!.AsArray().Single(x => (string)x!["ruleId"]! == "MECH1001")!;
        Assert.Equal(("absent", "pass", "none"), ((string)gone["baselineState"]!, (string)gone["kind"]!, (string)gone["level"]!));
    }

    [Fact]
    public void A_corrupt_baseline_or_one_from_another_config_is_an_input_error()
    {
        using var temp = new TempDir();
        var config = Config(temp, """
            {
              "decompositions": { "resid": { "activations": "{SAMPLE}/data/activations.safetensors", "path": "{SAMPLE}/release/resid" } },
              "validations": [ { "method": "decomposition.quality" } ],
              "baseline": "base.json"
            }
            """);
        AssertBadInput(Check(temp, config), temp, (4, 3, $"baseline file {temp.File("base.json")} not found; write it with --update-baseline."));
        File.WriteAllText(temp.File("base.json"), """{ "format": "mechanist.baseline", "version": 1, "config": "mechanist.json", "measurements": [ { "value": 1 } ], "findings": [] }""");
        AssertBadInput(Check(temp, config), temp, (4, 3, "is corrupt: measurements[0] has no 'check'"));
        File.WriteAllText(temp.File("base.json"), "{ not json");
        AssertBadInput(Check(temp, config), temp, (4, 3, "is corrupt: not valid JSON"));
        File.WriteAllText(temp.File("base.json"), """{ "format": "mechanist.baseline", "version": 1, "config": "other.json", "measurements": [], "findings": [] }""");
        AssertBadInput(Check(temp, config), temp, (4, 3, "was written for the config 'other.json', not 'mechanist.json'"));
        Assert.Equal(0, Check(temp, config, "--update-baseline").ExitCode); // the update writes it
        Assert.Equal(0, Check(temp, config).ExitCode);
    }

    static Process StartCheck(string config, string cache)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "mechanist.dll"), "check", config, "--cache", cache, "--format", "json" }) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    [Fact]
    public async Task A_check_killed_while_harvesting_and_two_checks_at_once_leave_the_cache_valid()
    {
        using var temp = new TempDir();
        var config = Config(temp, """
            {
              "model": "{MODEL}",
              "device": "cpu",
              "dataset": { "task": "modular-addition" },
              "decompositions": { "mlp": { "site": "blocks.0.mlp.hook_post", "path": "{SAMPLE}/release/mlp" } },
              "validations": [ { "method": "decomposition.quality" } ],
              "checks": { "MECH1004": "none" }
            }
            """);
        var cache = temp.File("cache");
        using (var p = StartCheck(config, cache))
        {
            // Kill it as soon as its harvest is under way (or, on a fast machine, whenever it got to).
            var watch = Stopwatch.StartNew();
            while (!p.HasExited && watch.Elapsed < TimeSpan.FromSeconds(60) &&
                   !(Directory.Exists(cache) && Directory.EnumerateDirectories(cache).Any(d => Path.GetFileName(d).Contains("tmp-", StringComparison.Ordinal))))
                Thread.Sleep(5);
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        // Two checks at once on the same cache (two projects sharing it): each reuses a complete entry or builds one;
        // both pass with the same activations, and one entry is left, without temporary folders.
        using var first = StartCheck(config, cache);
        using var second = StartCheck(config, cache);
        var reads = new[] { first, second }.Select(p => (Out: p.StandardOutput.ReadToEndAsync(), Error: p.StandardError.ReadToEndAsync())).ToList();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await Task.WhenAll(first.WaitForExitAsync(timeout.Token), second.WaitForExitAsync(timeout.Token));
        var outputs = new List<(string Out, string Error)>();
        foreach (var r in reads) outputs.Add((await r.Out, await r.Error));
        Assert.True(first.ExitCode == 0 && second.ExitCode == 0, $"{outputs[0].Out}\n{outputs[0].Error}\n{outputs[1].Error}");
        var harvests = outputs.Select(o => JsonNode.Parse(o.Out)!["harvests"]![0]!).ToList();
        Assert.All(harvests, h => Assert.Equal(3 * 113 * 113, (long)h!["rows"]!));
        Assert.Equal((string)harvests[0]!["cache_key"]!, (string)harvests[1]!["cache_key"]!);
        var measured = outputs.Select(o => JsonNode.Parse(o.Out)!["measurements"]!.ToJsonString()).ToList();
        Assert.Equal(measured[0], measured[1]);
        Assert.Equal([(string)harvests[0]!["cache_key"]!], Directory.EnumerateDirectories(cache).Select(Path.GetFileName));
        Assert.True((bool)Json(Cli.Run("check", config, "--format", "json", "--cache", cache))["harvests"]![0]!["reused"]!);
    }

    [Fact]
    public void Evaluate_reads_a_task_models_loss_at_its_answer_position()
    {
        // The command a new user tries: the SAE of the residual stream spliced into the modular-addition model.
        var r = Cli.Run("evaluate", "--decomposition", Path.Combine(Sample, "release", "resid"), "--activations", Path.Combine(Sample, "data", "activations.safetensors"),
            "--model", Path.Combine(Models, "modular-addition"), "--tokens", Path.Combine(Sample, "data", "tokens.jsonl"), "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var splice = JsonNode.Parse(r.Out)!["splice"]!;
        Assert.Equal(("task", 512L), ((string)splice["loss"]!, (long)splice["tokens"]!));
        Assert.Contains("answer positions", (string)splice["definitions"]!["ce_clean"]!);
        // Independent: the cross-entropy of (a + b) mod p at '=' computed here from the model's logits.
        using var model = Mechanist.Models.Architectures.ModularAdditionTransformer.Load(Path.Combine(Models, "modular-addition"));
        var rows = File.ReadAllLines(Path.Combine(Sample, "data", "tokens.jsonl")).Select(l => JsonNode.Parse(l)!.AsArray().Select(x => (long)x!).ToArray()).ToArray();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = tensor(rows.SelectMany(x => x).ToArray(), [rows.Length, 3]);
        var labels = tensor(rows.Select(x => (x[0] + x[1]) % 113).ToArray());
        double expected = nn.functional.cross_entropy(model.Run(tokens).select(1, 2).to(ScalarType.Float64), labels).item<double>();
        Assert.Equal(expected, (double)splice["ce_clean"]!, 9);
        Assert.InRange((double)splice["ce_loss_score"]!, 0.99, 1.0);
    }

    [Fact]
    public void An_internal_error_prints_one_line_without_native_frames_unless_verbose()
    {
        var native = new System.Runtime.InteropServices.ExternalException("index 113 is out of bounds for dimension 2 with size 113\nException raised from checkIndex at aten/src/ATen/native/TensorAdvancedIndexing.cpp:1\nframe #0: c10::Error::Error(...)\nframe #1: at::native::index(...)");
        Assert.Equal("index 113 is out of bounds for dimension 2 with size 113", Mechanist.Host.Running.ExceptionMessages.Brief(native));
        // A plugin method that throws such an error is MECH0001 with the first line only.
        var entry = new Mechanist.Host.Discovery.MethodEntry(Mechanist.Discovery.MethodDescriptor.FromType(typeof(Mechanist.Methods.Validators.CausalAblation)),
            typeof(Mechanist.Methods.Validators.CausalAblation), "built-in");
        var finding = new Mechanist.Host.Discovery.MethodFailedException(entry, native).ToFinding();
        Assert.DoesNotContain("frame #", finding.Message);
        Assert.EndsWith("index 113 is out of bounds for dimension 2 with size 113", finding.Message);
    }
}
