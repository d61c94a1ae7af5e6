using System.Diagnostics;
using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

public class TrainCommandTests
{
    static readonly string[] Small =
        ["--p", "13", "--d-model", "16", "--n-heads", "2", "--d-mlp", "32", "--lr", "0.01", "--train-fraction", "0.5"];

    static CliResult Train(string folder, params string[] extra) =>
        Cli.Run(["train", "modular-addition", "--out", folder, .. Small, .. extra]);

    [Fact]
    public void Train_modular_addition_writes_a_run_folder_and_extends_it_with_resume()
    {
        using var temp = new TempDir();
        var run = temp.File("run");
        var r = Train(run, "--epochs", "40", "--checkpoint-every", "10", "--eval-every", "5");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("epoch 40: train loss", r.Out);
        Assert.Contains("train accuracy >= 99% from epoch", r.Out);
        Assert.Contains("training modular addition mod 13", r.Error);
        Assert.Contains("epoch 40/40", r.Error);
        Assert.Equal(["run", "run/checkpoint.safetensors", "run/config.json", "run/metrics.json", "run/model.safetensors", "run/training_log.jsonl"],
            temp.Entries());
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!;
        Assert.Equal(40, (int)metrics["epochs"]!);
        Assert.Equal(0.01, (double)metrics["options"]!["lr"]!);

        var resumed = Cli.Run("train", "modular-addition", "--out", run, "--resume", "--epochs", "60");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resuming modular addition mod 13", resumed.Error);
        Assert.Equal(60, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!["epochs"]!);
        var epochs = File.ReadAllLines(Path.Combine(run, "training_log.jsonl")).Select(l => (int)JsonNode.Parse(l)!["epoch"]!).ToList();
        Assert.Equal(Enumerable.Range(0, 13).Select(i => i * 5), epochs);
    }

    /// <summary>Starts a training process and waits until it has written its first checkpoint.</summary>
    static Process StartUntilFirstCheckpoint(string folder, string[] settings)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "mechanist.dll"), "train", "modular-addition", "--out", folder, .. Small, .. settings])
            info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var checkpoint = Path.Combine(folder, "checkpoint.safetensors");
        var clock = Stopwatch.StartNew();
        while (!File.Exists(checkpoint) && !process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(20);
        Assert.False(process.HasExited, "the run finished before it could be stopped");
        return process;
    }

    [Fact]
    public void A_killed_or_terminated_process_resumes_to_the_same_weights_as_an_uninterrupted_run()
    {
        using var temp = new TempDir();
        string[] settings = ["--epochs", "800", "--checkpoint-every", "50", "--eval-every", "50"];
        var straight = temp.File("straight");
        Assert.Equal(0, Train(straight, settings).ExitCode);
        var expected = File.ReadAllBytes(Path.Combine(straight, "model.safetensors"));

        // SIGKILL: nothing runs after it; the last periodic checkpoint is where the run continues.
        var killed = temp.File("killed");
        using (var process = StartUntilFirstCheckpoint(killed, settings))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        Assert.False(File.Exists(Path.Combine(killed, "model.safetensors")), "killed before the end");
        Assert.DoesNotContain(temp.Entries(), e => e.EndsWith(".tmp", StringComparison.Ordinal));
        var resumed = Cli.Run("train", "modular-addition", "--out", killed, "--resume");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(expected, File.ReadAllBytes(Path.Combine(killed, "model.safetensors")));

        // SIGTERM: the run writes a checkpoint at the epoch it reached and exits with 130.
        var terminated = temp.File("terminated");
        using (var process = StartUntilFirstCheckpoint(terminated, settings))
        {
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}: {error}");
            Assert.Contains("interrupted; checkpoint written", error);
        }
        Assert.False(File.Exists(Path.Combine(terminated, "model.safetensors")));
        resumed = Cli.Run("train", "modular-addition", "--out", terminated, "--resume");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(expected, File.ReadAllBytes(Path.Combine(terminated, "model.safetensors")));
    }

    [Fact]
    public void Train_toy_superposition_writes_model_and_metrics()
    {
        using var temp = new TempDir();
        var r = Cli.Run("train", "toy-superposition", "--features", "10", "--hidden", "3", "--sparsity", "0.5", "--steps", "300", "--out", temp.File("toy"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("of 10 features represented", r.Out);
        Assert.Equal(["toy", "toy/config.json", "toy/metrics.json", "toy/model.safetensors"], temp.Entries());
        var metrics = JsonNode.Parse(File.ReadAllText(temp.File("toy/metrics.json")))!;
        Assert.Equal(10, metrics["feature_norms"]!.AsArray().Count);
        Assert.Equal(0.5, (double)metrics["options"]!["sparsity"]!);
    }

    [Fact]
    public void Bench_modular_addition_times_both_paths_on_the_same_step()
    {
        using var temp = new TempDir();
        var r = Cli.Run("bench", "modular-addition", "--p", "11", "--steps", "2", "--repeats", "1", "--format", "json", "--out", temp.File("bench.json"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var report = JsonNode.Parse(r.Out)!;
        Assert.Equal(report.ToJsonString(), JsonNode.Parse(File.ReadAllText(temp.File("bench.json")))!.ToJsonString());
        Assert.Equal(36, (int)report["batch"]!);
        Assert.True((double)report["full_ms_per_step"]! > 0 && (double)report["fast_ms_per_step"]! > 0);
        Assert.True((double)report["full_gflop_per_step"]! > (double)report["fast_gflop_per_step"]!);
        Assert.Equal((double)report["first_step_loss_full"]!, (double)report["first_step_loss_fast"]!, 1e-6);
        AssertBadInput(Cli.Run("bench", "modular-addition", "--steps", "0"), "option '--steps' must be at least 1");
    }

    static void AssertBadInput(CliResult r, params string[] expected)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("mechanist: error: ", line);
        foreach (var text in expected) Assert.Contains(text, line);
        Assert.Equal("", r.Out);
    }

    [Theory]
    [InlineData("--p 1", "--p must be at least 2")]
    [InlineData("--train-fraction 1.5", "--train-fraction must leave at least one training and one held-out pair")]
    [InlineData("--train-fraction abc", "'--train-fraction' expects a number, got 'abc'")]
    [InlineData("--epochs 0", "--epochs must be at least 1")]
    [InlineData("--epoch 10", "unknown option '--epoch'", "Did you mean '--epochs'?")]
    [InlineData("--lr 2", "--lr x --weight-decay must be below 1")]
    [InlineData("--d-model 30", "--d-model 30 is not divisible by --n-heads 4")]
    [InlineData("--checkpoint-every 0", "--checkpoint-every must be at least 1")]
    [InlineData("--device tpu", "--device expects auto, cpu, cuda or cuda:N")]
    public void Bad_modular_addition_options_exit_2_and_write_nothing(string options, params string[] expected)
    {
        using var temp = new TempDir();
        AssertBadInput(Cli.Run(["train", "modular-addition", "--out", temp.File("run"), .. options.Split(' ')]), expected);
        Assert.Empty(temp.Entries());
    }

    [Fact]
    public void Output_folder_mistakes_exit_2_and_change_nothing()
    {
        using var temp = new TempDir();
        var run = temp.File("run");
        AssertBadInput(Train(run, "--resume"), "checkpoint.safetensors: file not found", "--resume");
        Assert.Empty(temp.Entries());

        Assert.Equal(0, Train(run, "--epochs", "10").ExitCode);
        var before = temp.Entries().Select(e => (e, File.Exists(temp.File(e)) ? File.ReadAllBytes(temp.File(e)).Length : -1)).ToList();
        AssertBadInput(Train(run, "--epochs", "10"), "holds the checkpoint of an earlier run", "--resume");
        AssertBadInput(Cli.Run("train", "modular-addition", "--out", run, "--resume", "--epochs", "20", "--lr", "0.02"), "--lr is 0.02", "was started with 0.01");
        AssertBadInput(Cli.Run("train", "modular-addition", "--out", run, "--resume", "--d-mlp", "64"), "--d-mlp is 64", "was started with 32");
        AssertBadInput(Cli.Run("train", "modular-addition", "--out", run, "--resume", "--epochs", "5"), "--epochs 5 is below the checkpoint's epoch 10");
        Assert.Equal(before, temp.Entries().Select(e => (e, File.Exists(temp.File(e)) ? File.ReadAllBytes(temp.File(e)).Length : -1)).ToList());

        File.WriteAllText(temp.File("file"), "x");
        AssertBadInput(Train(temp.File("file")), "is a file");
    }

    [Theory]
    [InlineData("--features 10 --hidden 3 --sparsity 1", "--sparsity must be in [0, 1)")]
    [InlineData("--features 10 --sparsity 0.5", "needs --hidden")]
    [InlineData("--features 0 --hidden 3 --sparsity 0.5", "--features must be at least 1")]
    [InlineData("--features 10 --hidden 3 --sparsity 0.5 --importance-decay 0", "--importance-decay must be in (0, 1]")]
    [InlineData("--features 10 --hidden 3 --sparsity 0.5 --step 5", "unknown option '--step'", "Did you mean '--steps'?")]
    public void Bad_toy_superposition_options_exit_2_and_write_nothing(string options, params string[] expected)
    {
        using var temp = new TempDir();
        AssertBadInput(Cli.Run(["train", "toy-superposition", "--out", temp.File("toy"), .. options.Split(' ')]), expected);
        Assert.Empty(temp.Entries());
    }
}
