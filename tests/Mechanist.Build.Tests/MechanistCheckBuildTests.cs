using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Build.Tests;

/// <summary>
/// The Mechanist.Build package as a user meets it: a real consumer project in a temporary folder references the packed
/// package and is built with <c>dotnet build</c>. The check runs the CLI built in this repository (MechanistToolPath).
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class MechanistCheckBuildTests(PackageFeed feed)
{
    static string Sample => Path.Combine(Repo.Root, "samples", "model-release");

    const string SkippedRun = "Skipping target \"_MechanistRunChecks\" because all output files are up-to-date";
    const string Summary = "mechanist check ";

    /// <summary>
    /// A consumer project with the sample's activations and SAEs, and a copy of the released model in models/;
    /// <paramref name="items"/> are its MechanistCheck items, <paramref name="files"/> its configs.
    /// </summary>
    string Consumer(string name, string items, params (string File, string Text)[] files)
    {
        var dir = Path.Combine(feed.Root, "consumers", name);
        foreach (var (from, to) in new[] { ("data", "data"), ("release/resid", "release/resid"), ("release/mlp", "release/mlp"), ("../models/modular-addition", "models/modular-addition") })
        {
            Directory.CreateDirectory(Path.Combine(dir, to));
            foreach (var f in Directory.GetFiles(Path.Combine(Sample, from)).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)))
                File.Copy(f, Path.Combine(dir, to, Path.GetFileName(f)));
        }
        File.Copy(Path.Combine(Sample, "mechanist.failing.json"), Path.Combine(dir, "mechanist.failing.json"));
        File.WriteAllText(Path.Combine(dir, "mechanist.failing.json"), File.ReadAllText(Path.Combine(dir, "mechanist.failing.json")).Replace("../models/", "models/"));
        foreach (var (file, text) in files) File.WriteAllText(Path.Combine(dir, file), text);
        File.WriteAllText(Path.Combine(dir, "Release.cs"), "namespace Consumer;\n\npublic static class Release { }\n");
        File.WriteAllText(Path.Combine(dir, "Consumer.csproj"), feed.ConsumerProject(items));
        return dir;
    }

    ProcessResult Build(string dir, params string[] properties) =>
        Dotnet.Run(dir, feed.Environment, ["build", "Consumer.csproj", "--disable-build-servers", "-nodeReuse:false", "-v:n",
            "-p:UseSharedCompilation=false", .. properties]);

    static void AssertPassed(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Build succeeded.", r.Output);
    }

    static void AssertFailedWith(ProcessResult r, params string[] expected)
    {
        Assert.True(r.ExitCode != 0, r.ToString());
        foreach (var text in expected) Assert.True(r.Output.Contains(text, StringComparison.Ordinal), $"expected '{text}' in:\n{r}");
    }

    /// <summary>A mechanism gate on the model in the consumer: MLP activations harvested from it, a behaviour on held-out pairs.</summary>
    const string MechanismGate = """
        {
          "model": "models/modular-addition",
          "device": "cpu",
          "dataset": { "task": "modular-addition", "options": { "samples": 256 } },
          "decompositions": { "mlp": { "site": "blocks.0.mlp.hook_post", "path": "release/mlp" } },
          "behaviours": {
            "correct-answer": {
              "inputs": { "task": "modular-addition", "options": { "split": "held_out", "samples": 32 } },
              "metric": "logit", "target": "label"
            }
          },
          "validations": [
            { "method": "decomposition.quality" },
            { "method": "decomposition.splice" },
            { "method": "causal.ablation", "behaviour": "correct-answer", "options": { "top_k": 24, "random_draws": 2, "steps": 4 } }
          ],
          "checks": { "MECH1001": "error", "MECH1003": { "threshold": 0.5 }, "MECH1006": "error", "MECH3001": "error" }
        }
        """;

    [Fact]
    public void The_gate_harvests_from_the_model_skips_unchanged_rebuilds_and_harvests_again_when_the_model_changes()
    {
        var dir = Consumer("mechanism", """<MechanistCheck Include="mechanist.json" />""", ("mechanist.json", MechanismGate));
        var config = Path.Combine(dir, "mechanist.json");
        var weights = Path.Combine(dir, "models", "modular-addition", "model.safetensors");
        var obj = Path.Combine(dir, "obj", "Debug", "net10.0", "mechanist");

        var first = Build(dir);
        AssertPassed(first);
        Assert.Contains($"{Summary}{config}: 0 errors, 0 warnings", first.Output);
        Assert.Contains("mechanist check: harvested activations of 'mlp' at blocks.0.mlp.hook_post: 768 rows", first.Output);
        var report = Assert.Single(Directory.GetFiles(obj, "*.sarif"));
        var run = JsonNode.Parse(File.ReadAllText(report))!["runs"]![0]!;
        Assert.Equal("mlp", (string)run["properties"]!["harvests"]![0]!["decomposition"]!);
        // The cache entry is an input (dependency list) and an output (kept files) of the check.
        var kept = File.ReadAllLines(Assert.Single(Directory.GetFiles(obj, "*.outputs")));
        Assert.NotEmpty(kept);
        Assert.All(kept, f => Assert.StartsWith(Path.Combine(obj, "cache") + Path.DirectorySeparatorChar, f));
        Assert.Subset(File.ReadAllLines(Assert.Single(Directory.GetFiles(obj, "*.inputs"))).ToHashSet(), kept.ToHashSet());

        // Unchanged: skipped, and it says so.
        var second = Build(dir);
        AssertPassed(second);
        Assert.Contains(SkippedRun, second.Output);
        Assert.Contains($"mechanist check: {config} skipped: its inputs have not changed since it passed", second.Output);
        Assert.DoesNotContain(Summary + config, second.Output);

        // The model file touched but not changed: the check runs again and reuses the harvest.
        File.SetLastWriteTimeUtc(weights, DateTime.UtcNow);
        var touched = Build(dir);
        AssertPassed(touched);
        Assert.Contains("mechanist check: reused cached activations of 'mlp'", touched.Output);
        Assert.Contains(SkippedRun, Build(dir).Output); // reused entries count as fresh outputs: no endless reruns

        // The model changed (one bit of its last weight): harvested again under a new key.
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0x01;
        File.WriteAllBytes(weights, bytes);
        var edited = Build(dir);
        AssertPassed(edited);
        Assert.Contains("mechanist check: harvested activations of 'mlp'", edited.Output);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(obj, "cache")).Length);

        // The cache deleted (a kept output missing): the check runs again and rebuilds it.
        Directory.Delete(Path.Combine(obj, "cache"), recursive: true);
        var rebuilt = Build(dir);
        AssertPassed(rebuilt);
        Assert.Contains("mechanist check: harvested activations of 'mlp'", rebuilt.Output);

        // A tool that exits 0 without writing its report or dependency list does not pass the build.
        var stub = Path.Combine(dir, "stub-mechanist");
        File.WriteAllText(stub, "#!/bin/sh\necho checked\nexit 0\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        AssertFailedWith(Build(dir, $"-p:MechanistToolPath={stub}"),
            $"{config}(1,1): error MECH0012: mechanist check exited with code 0 but did not write");
    }

    [Fact]
    public void A_violated_threshold_fails_the_build_with_its_check_ID_every_time()
    {
        var dir = Consumer("failing", """<MechanistCheck Include="mechanist.failing.json" />""");
        var config = Path.Combine(dir, "mechanist.failing.json");
        var first = Build(dir);
        AssertFailedWith(first, $"{config}(7,5): error MECH1001: explained variance 0.9449 is below the threshold 0.97");
        // Not skipped: a failed check leaves no stamp, so it runs (and fails) again.
        var second = Build(dir);
        AssertFailedWith(second, "error MECH1001");
        Assert.DoesNotContain(SkippedRun, second.Output);
        // MechanistEnabled=false turns the check off.
        var off = Build(dir, "-p:MechanistEnabled=false");
        AssertPassed(off);
        Assert.DoesNotContain(Summary, off.Output);

        // Adopting the gate on a release with a known problem: accept it into the baseline, then fail only on new errors.
        var accept = Dotnet.Start("dotnet", dir, feed.Environment, Dotnet.CliDll, "check", config, "--update-baseline");
        Assert.True(accept.ExitCode == 1 && File.Exists(Path.Combine(dir, "mechanist.failing.baseline.json")), accept.ToString());
        var legacy = Build(dir, "-p:MechanistFailOn=new");
        AssertPassed(legacy);
        Assert.Contains($"{config}(7,5): warning MECH1001: explained variance 0.9449 is below the threshold 0.97", legacy.Output);
        AssertFailedWith(Build(dir), "error MECH1001"); // --fail-on all, the default
    }

    [Fact]
    public void Warnings_obey_NoWarn_WarningsAsErrors_and_TreatWarningsAsErrors()
    {
        // decomposition.quality at its defaults: MECH1004 (53% of the released SAE's latents are dense) is a warning.
        var dir = Consumer("warnings", """<MechanistCheck Include="defaults.json" />""", ("defaults.json", """
            {
              "device": "cpu",
              "decompositions": { "resid": { "activations": "data/activations.safetensors", "path": "release/resid" } },
              "validations": [ { "method": "decomposition.quality" } ]
            }
            """));
        var config = Path.Combine(dir, "defaults.json");
        var plain = Build(dir);
        AssertPassed(plain);
        Assert.Contains($"{config}(3,23): warning MECH1004: 53.13% of latents fire on more than 10% of rows", plain.Output);

        var suppressed = Build(dir, "-p:NoWarn=MECH1004");
        AssertPassed(suppressed);
        Assert.Contains(Summary, suppressed.Output); // the changed setting reran the check
        Assert.DoesNotContain("warning MECH1004", suppressed.Output);

        AssertFailedWith(Build(dir, "-p:WarningsAsErrors=MECH1004"), $"{config}(3,23): error MECH1004");
        AssertFailedWith(Build(dir, "-p:TreatWarningsAsErrors=true"), $"{config}(3,23): error MECH1004");
        var excepted = Build(dir, "-p:TreatWarningsAsErrors=true", "-p:WarningsNotAsErrors=MECH1004");
        AssertPassed(excepted);
        Assert.Contains("warning MECH1004", excepted.Output);
        // Back to plain: passes again (the failed runs left no stamp).
        AssertPassed(Build(dir));
    }

    [Fact]
    public void A_missing_model_a_mistyped_key_and_an_unknown_check_ID_are_errors_with_codes_all_reported_in_one_build()
    {
        var dir = Consumer("bad-input", """
            <MechanistCheck Include="models/mymodel" Config="mechanist.json" />
                <MechanistCheck Include="typo.json" />
                <MechanistCheck Include="unknown.json" />
            """,
            ("mechanist.json", """{ "decompositions": { "resid": { "activations": "data/activations.safetensors", "path": "release/resid" } } }"""),
            ("typo.json", """
                {
                  "decompositions": { "resid": { "activations": "data/activations.safetensors", "path": "release/resid" } },
                  "validatons": [ { "method": "decomposition.quality" } ]
                }
                """),
            ("unknown.json", """
                {
                  "decompositions": { "resid": { "activations": "data/activations.safetensors", "path": "release/resid" } },
                  "validations": [ { "method": "decomposition.quality" } ],
                  "checks": { "MECH1101": "error" }
                }
                """));
        AssertFailedWith(Build(dir),
            $"{Path.Combine(dir, "mechanist.json")}(1,1): error MECH0011: model folder {Path.Combine(dir, "models", "mymodel")} not found.",
            $"{Path.Combine(dir, "typo.json")}(3,3): error MECH0010: unknown key 'validatons' in the configuration. Did you mean 'validations'?",
            $"{Path.Combine(dir, "unknown.json")}(4,15): error MECH0003: unknown check 'MECH1101'; did you mean 'MECH1001'");
    }

    [Fact]
    public void A_missing_tool_is_an_error_with_a_code()
    {
        var dir = Consumer("missing-tool", """<MechanistCheck Include="mechanist.failing.json" />""");
        AssertFailedWith(Build(dir, $"-p:MechanistToolPath={Path.Combine(dir, "nowhere", "mechanist.dll")}"),
            $"{Path.Combine(dir, "mechanist.failing.json")}(1,1): error MECH0012: mechanist check exited with code");
    }
}
