using System.Text.Json.Nodes;
using Mechanist.Cli;
using Mechanist.Testing;

namespace Mechanist.Sweeps.Tests;

/// <summary>
/// <c>mechanist sweep</c> with its embedded silo: results like compare's, a failing job reported while the others
/// finish (exit 1), reruns that skip finished jobs, a killed sweep resuming its job from the trainer checkpoint, a
/// sweep that harvests first, and bad input refused before anything is written.
/// </summary>
[Collection(SweepCollection.Name)]
public sealed class EmbeddedSweepTests
{
    sealed record CliResult(int ExitCode, string Out, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
    }

    static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void A_failing_job_is_reported_the_others_finish_and_a_rerun_skips_what_finished()
    {
        using var temp = new TempDir();
        var sweep = SweepFiles.Write(temp.Path, "mixed.json", new JsonObject
        {
            ["activations"] = SweepFiles.Data,
            ["ground_truth"] = SweepFiles.Data,
            ["methods"] = new JsonObject
            {
                ["sae.topk"] = new JsonObject { ["k"] = new JsonArray(2, 4), ["d_sae"] = 32 },
                // 64 components binds, but fails when fitted on 32-dimensional data.
                ["pca"] = new JsonObject { ["components"] = new JsonArray(8, 64) },
            },
            ["options"] = new JsonObject { ["steps"] = 40 },
            ["out"] = "out",
        });
        var first = Run("sweep", sweep, "--jobs", "2");
        var outRoot = Path.Combine(temp.Path, "out");
        var results = SweepFiles.Results(outRoot);
        var rows = results["jobs"]!.AsArray();
        var failed = results["failed"]!.AsArray();
        Assert.True(first.ExitCode == 1 && failed.Count == 1 && rows.Count == 3, first.ToString());
        Assert.Equal("pca components=64", failed[0]!["label"]!.GetValue<string>());
        Assert.Contains("more than the activation dimension 32", failed[0]!["error"]!.GetValue<string>());
        Assert.Contains("sweep: job pca components=64 failed: option 'components'", first.Error); // reported as it happened
        Assert.Contains($"FAILED pca components=64: {failed[0]!["error"]}", first.Out);
        foreach (var row in rows)
        {
            var folder = Path.Combine(outRoot, row!["folder"]!.GetValue<string>());
            Assert.True(File.Exists(Path.Combine(folder, "cfg.json")) && File.Exists(Path.Combine(folder, "sae_weights.safetensors")));
            var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")))!;
            Assert.Equal(row["metrics"]!["fvu"]!.GetValue<double>(), metrics["fvu"]!.GetValue<double>());
            Assert.InRange(row["metrics"]!["mmcs"]!.GetValue<double>(), 0, 1);
        }
        Assert.True(File.Exists(Path.Combine(outRoot, "pareto.png")));
        Assert.True(File.Exists(Path.Combine(outRoot, "report.html")));
        Assert.Contains("job", first.Out.Split('\n')[0]);

        var second = Run("sweep", sweep);
        Assert.Contains("3 finished earlier, 1 to run", second.Error);
        Assert.Equal(1, second.ExitCode);
        Assert.Equal(3, SweepFiles.Results(outRoot)["jobs"]!.AsArray().Count);
    }

    [Fact]
    public void A_killed_sweep_resumes_its_job_from_the_trainer_checkpoint_with_the_same_weights()
    {
        using var temp = new TempDir();
        var sweep = SweepFiles.Write(temp.Path, "long.json", new JsonObject
        {
            ["activations"] = SweepFiles.Data,
            ["methods"] = new JsonObject { ["sae.topk"] = new JsonObject { ["k"] = 4, ["d_sae"] = 64 } },
            ["options"] = new JsonObject { ["steps"] = 1500, ["batch_size"] = 128 },
            ["checkpoint_every"] = 50,
        });
        var killedRoot = Path.Combine(temp.Path, "killed");
        using (var process = ChildProcess.Mechanist("sweep", sweep, "--out", killedRoot))
        {
            var checkpoints = Path.Combine(killedRoot, "checkpoints");
            var watch = System.Diagnostics.Stopwatch.StartNew();
            while (!(Directory.Exists(checkpoints) && Directory.EnumerateDirectories(checkpoints, "step-*", SearchOption.AllDirectories).Any()))
            {
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited, $"no checkpoint appeared:\n{process.Output}");
                Thread.Sleep(10);
            }
            process.Kill();
        }
        Assert.False(Directory.Exists(Path.Combine(killedRoot, "jobs")) && Directory.EnumerateDirectories(Path.Combine(killedRoot, "jobs")).Any());

        var resumed = Run("sweep", sweep, "--out", killedRoot);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var row = SweepFiles.Results(killedRoot)["jobs"]!.AsArray().Single()!;
        Assert.True(row["resumed_from_step"]!.GetValue<long>() >= 50, row.ToJsonString());

        var clean = Path.Combine(temp.Path, "clean");
        Assert.Equal(0, Run("sweep", sweep, "--out", clean).ExitCode);
        Assert.Equal(SweepFiles.Fingerprints(clean), SweepFiles.Fingerprints(killedRoot));
    }

    [Fact]
    public void A_sweep_that_names_a_model_harvests_once_and_fits_every_site()
    {
        using var temp = new TempDir();
        var fixture = Path.Combine(Repo.Root, "tests", "Fixtures", "gpt2-tiny");
        var sweep = SweepFiles.Write(temp.Path, "harvest.json", new JsonObject
        {
            ["harvest"] = new JsonObject
            {
                ["model"] = fixture, ["tokens"] = Path.Combine(fixture, "tokens.jsonl"), ["sites"] = new JsonArray("blocks.0.hook_resid_post", "blocks.1.hook_resid_post"),
            },
            ["methods"] = new JsonObject { ["pca"] = new JsonObject { ["components"] = 4 } },
            ["out"] = "out",
        });
        var first = Run("sweep", sweep);
        Assert.True(first.ExitCode == 0, first.ToString());
        var store = Assert.Single(Directory.GetDirectories(Path.Combine(temp.Path, "out", "activations")));
        var rows = SweepFiles.Results(Path.Combine(temp.Path, "out"))["jobs"]!.AsArray();
        Assert.Equal(["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"], rows.Select(r => r!["site"]!.GetValue<string>()).Order());
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(temp.Path, "out", rows[0]!["folder"]!.GetValue<string>(), "cfg.json")))!;
        Assert.Equal(rows[0]!["site"]!.GetValue<string>(), cfg["hook_name"]!.GetValue<string>());

        var written = Directory.GetLastWriteTimeUtc(store);
        var second = Run("sweep", sweep);
        Assert.Contains("2 finished earlier, 0 to run", second.Error);
        Assert.Equal(written, Directory.GetLastWriteTimeUtc(store));
    }

    [Fact]
    public void Bad_input_is_one_line_exit_2_and_nothing_written()
    {
        using var temp = new TempDir();
        var outRoot = temp.File("out");
        var unknown = SweepFiles.Write(temp.Path, "unknown.json", new JsonObject
        {
            ["activations"] = SweepFiles.Data, ["methods"] = new JsonObject { ["sae.topkk"] = new JsonObject() }, ["out"] = "out",
        });
        var missingData = SweepFiles.Write(temp.Path, "missing.json", new JsonObject
        {
            ["activations"] = temp.File("nope.safetensors"), ["methods"] = new JsonObject { ["pca"] = new JsonObject() }, ["out"] = "out",
        });
        var badTruth = SweepFiles.Write(temp.Path, "truth.json", new JsonObject
        {
            ["activations"] = SweepFiles.Data, ["ground_truth"] = Path.Combine(Repo.Root, "tests", "Fixtures", "gpt2-tiny", "model.safetensors"),
            ["methods"] = new JsonObject { ["pca"] = new JsonObject() }, ["out"] = "out",
        });
        foreach (var args in new[]
                 {
                     new[] { "sweep", unknown }, ["sweep", missingData], ["sweep", badTruth], ["sweep", temp.File("absent.json")],
                     ["sweep", unknown, "--jobs", "0"], ["sweep", unknown, "--cluster", "tcp://x:1"], ["sweep"],
                     ["sweep", unknown, "--cluster", "redis://127.0.0.1:1", "--jobs", "2"],
                     ["silo"], ["silo", "--cluster", "http://x"], ["silo", "--cluster", "redis://127.0.0.1:1", "--port", "70000"],
                 })
        {
            var r = Run(args);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)}: {r}");
            Assert.StartsWith("mechanist: error: ", r.Error);
            Assert.Single(r.Error.TrimEnd().Split('\n'));
            Assert.False(Directory.Exists(outRoot), $"{string.Join(' ', args)} wrote {outRoot}");
        }
    }
}
