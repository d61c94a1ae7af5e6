using System.Diagnostics;
using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

/// <summary>
/// <c>bench sae</c>'s PyTorch reference, time to quality and scaling modes, and <c>compare --target-l0</c>, at tiny
/// shapes. The reference needs a Python with PyTorch (Debian's python3-torch); without one, the bench must say so in
/// one line and carry on, and that is what is tested.
/// </summary>
public class BenchSaeTests
{
    static readonly Lazy<bool> PythonHasTorch = new(() =>
    {
        if (!File.Exists("/usr/bin/python3")) return false;
        var info = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("import numpy, torch");
        using var p = Process.Start(info)!;
        p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        return p.WaitForExit(120_000) && p.ExitCode == 0;
    });

    [Fact]
    public void Reference_runs_in_the_same_bench_or_the_bench_says_why_not()
    {
        using var temp = new TempDir();
        var r = Cli.Run("bench", "sae", "--d-in", "16", "--d-sae", "128", "--batch", "64", "--k", "4", "--steps", "2", "--variants", "topk",
            "--reference", "pytorch", "--out", temp.File("bench.json"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(File.ReadAllText(temp.File("bench.json")))!;
        var reference = json["reference"]!;
        if (PythonHasTorch.Value)
        {
            Assert.True((double)reference["speedup"]! > 0, r.ToString());
            Assert.True((double)reference["steps_per_second"]! > 0);
            Assert.True((double)reference["own_matmul_gflops"]! > 0);
            Assert.Equal(2, reference["step_seconds"]!.AsArray().Count);
            Assert.Contains("of the plain PyTorch TopK SAE", r.Out);
            Assert.True((double)reference["cpu_speedup"]! > 0);
        }
        else
        {
            Assert.Contains("reference pytorch: skipped:", r.Error);
            Assert.NotNull(reference["skipped"]);
        }

        var missing = Cli.Run("bench", "sae", "--d-in", "16", "--d-sae", "128", "--batch", "64", "--k", "4", "--steps", "1", "--variants", "topk",
            "--reference", "pytorch", "--python", temp.File("no-python"));
        Assert.True(missing.ExitCode == 0, missing.ToString());
        Assert.Contains($"reference pytorch: skipped: {temp.File("no-python")} not found", missing.Error);
        Assert.Contains("reference pytorch: skipped:", missing.Out);
    }

    [Fact]
    public void Time_to_quality_reports_the_seconds_sae_topk_needs_and_the_reference_pair()
    {
        using var temp = new TempDir();
        var r = Cli.Run("bench", "sae", "--time-to-quality", "--features", "16", "--dim", "12", "--k", "4", "--batch", "256",
            "--target-mmcs", "0.8", "--reference", "pytorch", "--out", temp.File("ttq.json"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(File.ReadAllText(temp.File("ttq.json")))!;
        var topk = json["sae_topk"]!;
        Assert.True((bool)topk["reached"]!, r.ToString());
        Assert.True((double)topk["seconds"]! > 0);
        // The budget that reached the target reports an MMCS at or above it; the budgets below it did not reach it.
        var run = topk["runs"]![0]!;
        Assert.True((double)run["mmcs"]! >= 0.8);
        foreach (var b in topk["budgets"]!.AsArray().Where(b => (int)b!["steps"]! < (int)run["steps"]!))
            Assert.True((double)b!["mmcs"]! < 0.8 || (int)b["steps"]! > (int)run["steps"]!, b.ToJsonString());
        Assert.Equal(32, (int)json["d_sae"]!);
        if (PythonHasTorch.Value)
        {
            var reference = json["reference"]!;
            Assert.NotEmpty(reference["runs"]!.AsArray());
            Assert.NotNull(reference["runs"]![0]!["history"]);
        }
        else Assert.Contains("reference pytorch: skipped:", r.Error);
    }

    [Fact]
    public void Scaling_fits_exponents_and_writes_table_csv_and_plots()
    {
        using var temp = new TempDir();
        var r = Cli.Run("bench", "sae", "--scaling", "--d-in", "16", "--d-sae", "128", "--batch", "64", "--k", "4", "--steps", "1",
            "--scaling-d-sae", "64,128,256", "--scaling-d-in", "8,16", "--out-dir", temp.File("scaling"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(File.ReadAllText(temp.File("scaling/scaling.json")))!;
        Assert.Equal(2 * (3 + 2), json["points"]!.AsArray().Count);
        foreach (var key in new[] { "topk.d_sae", "relu.d_sae", "topk.d_in", "relu.d_in" })
            Assert.True(double.IsFinite((double)json["exponents"]![key]!["time"]!), key);
        Assert.Equal(3, (int)json["exponents"]!["topk.d_sae"]!["points"]!);
        Assert.Equal(11, File.ReadAllLines(temp.File("scaling/scaling.csv")).Length);
        foreach (var sweep in new[] { "d_sae", "d_in" })
        {
            var png = PlotAssert.Png(temp.File($"scaling/scaling-{sweep}.png"), 720, 480);
            PlotAssert.NotBlank(png);
            PlotAssert.TextIn(png, 0, 30, "title");
            Assert.Contains("exponent", File.ReadAllText(temp.File($"scaling/scaling-{sweep}.svg")));
        }
        Assert.Contains("topk.d_sae: step time ∝ size^", r.Out);
    }

    [Fact]
    public void Compare_at_a_target_L0_adapts_penalised_variants_and_sets_k_for_topk()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path, features: 32, dim: 12, samples: 4000);
        var r = Cli.Run("compare", "--activations", data, "--methods", "sae.relu,sae.topk,pca", "--target-l0", "4", "--steps", "400",
            "--batch-size", "256", "--set", "sae.relu.d_sae=64", "--set", "sae.topk.d_sae=64", "--set", "pca.components=6", "--out", temp.File("cmp"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(File.ReadAllText(temp.File("cmp/results.json")))!;
        Assert.Equal(4, (double)json["target_l0"]!);
        var methods = json["methods"]!.AsArray().ToDictionary(m => (string)m!["method"]!, m => m!);
        Assert.Equal("target_l0", (string?)methods["sae.relu"]["sparsity_control"]);
        double l0 = (double)methods["sae.relu"]["metrics"]!["l0"]!;
        Assert.True(Math.Abs(l0 - 4) <= 0.4, $"sae.relu l0 {l0}\n{r}");
        Assert.True((bool)methods["sae.relu"]["l0_within_10_percent_of_target"]!);
        Assert.Equal("k=4", (string?)methods["sae.topk"]["sparsity_control"]);
        Assert.Equal("none", (string?)methods["pca"]["sparsity_control"]);
        Assert.Contains("pca has no sparsity option", r.Out);
        var cfg = JsonNode.Parse(File.ReadAllText(temp.File("cmp/sae.relu/cfg.json")))!;
        Assert.True((double)cfg["training"]!["final_sparsity_coefficient"]! > 0);
    }

    [Fact]
    public void Bad_bench_and_target_inputs_exit_2_with_one_line()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path);
        BadInputTests.AssertBadInput(Cli.Run("bench", "sae", "--reference", "torch"), temp, "x", "--reference: unknown reference 'torch'");
        BadInputTests.AssertBadInput(Cli.Run("bench", "sae", "--scaling", "--time-to-quality"), temp, "x", "separate runs");
        BadInputTests.AssertBadInput(Cli.Run("bench", "sae", "--scaling", "--scaling-d-sae", "64,x", "--out-dir", temp.File("s")), temp, "s",
            "--scaling-d-sae expects positive integers", "'x'");
        BadInputTests.AssertBadInput(Cli.Run("bench", "sae", "--time-to-quality", "--target-mmcs", "1.5"), temp, "x", "--target-mmcs must be in (0, 1]");
        BadInputTests.AssertBadInput(Cli.Run("compare", "--activations", data, "--methods", "sae.relu", "--target-l0", "0", "--out", temp.File("c")),
            temp, "c", "--target-l0 must be a positive number");
        BadInputTests.AssertBadInput(Cli.Run("decompose", "--activations", data, "--method", "sae.relu", "--set", "target_l0=-2", "--out", temp.File("d")),
            temp, "d", "target_l0", "must be at least 0");
    }
}
