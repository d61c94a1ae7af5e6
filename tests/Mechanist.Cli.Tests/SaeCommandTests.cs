using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Cli.Tests;

/// <summary>The SAE family through the command line: decompose, evaluate, compare, bench, and their bad inputs.</summary>
public class SaeCommandTests
{
    static void AssertBadInput(CliResult r, TempDir temp, string outName, params string[] expected) =>
        BadInputTests.AssertBadInput(r, temp, outName, expected);

    [Fact]
    public void Decompose_with_topk_writes_a_topk_folder_and_reports_progress()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path);
        var r = Cli.Run("decompose", "--activations", data, "--ground-truth", data, "--method", "sae.topk",
            "--set", "k=3", "--set", "d_sae=32", "--set", "steps=60", "--set", "batch_size=128", "--out", temp.File("topk"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var cfg = JsonNode.Parse(File.ReadAllText(temp.File("topk/cfg.json")))!;
        Assert.Equal("topk", (string?)cfg["architecture"]);
        Assert.Equal(3, (int)cfg["k"]!);
        Assert.Equal(60, (long)cfg["training"]!["steps"]!);
        Assert.Single(cfg["training"]!["activation_scale"]!.AsArray());
        Assert.Contains("[sae.topk]", r.Error);
        Assert.Contains("100% 60/60", r.Error);
        Assert.Contains("mmcs", r.Out);
        var e = Cli.Run("evaluate", "--decomposition", temp.File("topk"), "--activations", data, "--format", "json");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Equal(3, (double)JsonNode.Parse(e.Out)!["l0"]!, 1);
    }

    [Fact]
    public void Transcoder_reads_targets_and_is_evaluated_against_them()
    {
        using var temp = new TempDir();
        var g = new Generator(2);
        var x = randn(1024, 8, generator: g);
        var y = nn.functional.relu(x.matmul(randn(8, 16, generator: g))).matmul(randn(16, 6, generator: g));
        var inputs = TestData.WithTensor(temp.Path, "mlp_in.safetensors", "activations", x);
        var targets = TestData.WithTensor(temp.Path, "mlp_out.safetensors", "activations", y);
        var r = Cli.Run("decompose", "--activations", inputs, "--targets", targets, "--method", "transcoder",
            "--set", "d_sae=64", "--set", "steps=300", "--set", "batch_size=256", "--set", "lr=0.003", "--set", "skip_connection=true",
            "--set", "sparsity_coefficient=0.5", "--out", temp.File("tc"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var cfg = JsonNode.Parse(File.ReadAllText(temp.File("tc/cfg.json")))!;
        Assert.Equal("skip_transcoder", (string?)cfg["architecture"]);
        Assert.Equal(6, (int)cfg["d_out"]!);
        var e = Cli.Run("evaluate", "--decomposition", temp.File("tc"), "--activations", inputs, "--targets", targets, "--format", "json");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.InRange((double)JsonNode.Parse(e.Out)!["fvu"]!, 0, 0.3);

        var noTargets = Cli.Run("decompose", "--activations", inputs, "--method", "transcoder", "--out", temp.File("none"));
        AssertBadInput(noTargets, temp, "none", "'transcoder' needs targets", "--targets FILE");
        var unaligned = TestData.WithTensor(temp.Path, "short.safetensors", "activations", y.narrow(0, 0, 100));
        AssertBadInput(Cli.Run("decompose", "--activations", inputs, "--targets", unaligned, "--method", "transcoder", "--out", temp.File("u")),
            temp, "u", "short.safetensors", "100 rows", "row-aligned");
    }

    [Fact]
    public void Crosscoder_fits_several_sites_given_as_a_list()
    {
        using var temp = new TempDir();
        var g = new Generator(3);
        var a = randn(512, 6, generator: g).pow(3);
        var b = a.matmul(randn(6, 6, generator: g));
        var siteA = TestData.WithTensor(temp.Path, "a.safetensors", "activations", a);
        var siteB = TestData.WithTensor(temp.Path, "b.safetensors", "activations", b);
        var r = Cli.Run("decompose", "--activations", $"{siteA},{siteB}", "--method", "crosscoder",
            "--set", "d_sae=24", "--set", "steps=50", "--set", "batch_size=128", "--hook-name", "blocks.4.hook_resid_post,blocks.6.hook_resid_post",
            "--out", temp.File("cc"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var cfg = JsonNode.Parse(File.ReadAllText(temp.File("cc/cfg.json")))!;
        Assert.Equal("crosscoder", (string?)cfg["architecture"]);
        Assert.Equal(2, (int)cfg["n_sites"]!);
        Assert.Equal(6, (int)cfg["d_in"]!);
        Assert.Equal(["blocks.4.hook_resid_post", "blocks.6.hook_resid_post"], cfg["hook_names"]!.AsArray().Select(n => (string?)n));
        Assert.Equal(2, cfg["training"]!["activation_scale"]!.AsArray().Count);
        var e = Cli.Run("evaluate", "--decomposition", temp.File("cc"), "--activations", $"{siteA},{siteB}", "--format", "json");
        Assert.True(e.ExitCode == 0, e.ToString());
    }

    [Fact]
    public void Compare_trains_every_method_on_the_same_budget_and_writes_table_json_and_plot()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path);
        var outDir = temp.File("cmp");
        var r = Cli.Run("compare", "--activations", data, "--ground-truth", data, "--methods", "sae.topk,sae.relu,pca,fastica",
            "--plugins", Cli.FastIcaPlugin, "--set", "sae.topk.k=2", "--set", "pca.components=4", "--set", "fastica.components=4",
            "--set", "sae.relu.d_sae=32", "--steps", "80", "--batch-size", "128", "--seed", "5", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var id in new[] { "sae.topk", "sae.relu", "pca", "fastica" }) Assert.Contains(id, r.Out);
        Assert.Contains("mmcs", r.Out.Split('\n')[0]);

        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        var methods = results["methods"]!.AsArray();
        Assert.Equal(["sae.topk", "sae.relu", "pca", "fastica"], methods.Select(m => (string?)m!["method"]));
        foreach (var m in methods.Select(n => n!))
        {
            foreach (var key in new[] { "fvu", "explained_variance", "mse", "l0", "dead_fraction", "dense_fraction", "mmcs" })
                Assert.True(m["metrics"]![key] is not null, $"{m["method"]}: {key}");
            Assert.True((double)m["fit_seconds"]! > 0);
            Assert.True((long)m["peak_rss_bytes"]! > 0);
            Assert.True(Directory.Exists(Path.Combine(outDir, (string)m["folder"]!)));
        }
        var topk = methods.Single(m => (string?)m!["method"] == "sae.topk")!;
        Assert.Equal("80", (string?)topk["options"]!["steps"]);
        Assert.Equal("128", (string?)topk["options"]!["batch_size"]);
        Assert.Equal("2", (string?)topk["options"]!["k"]);
        Assert.Equal(2, (double)topk["metrics"]!["l0"]!, 1);
        Assert.Equal("fastica", (string?)methods[3]!["method"]);
        Assert.False(string.IsNullOrEmpty((string?)results["definitions"]!["mmcs"]));

        var png = PlotAssert.Png(Path.Combine(outDir, "pareto.png"), 720, 480);
        PlotAssert.NotBlank(png);
        PlotAssert.TextIn(png, 0, 30, "title");
        Assert.Contains(png.Pixels, p => p.Red == 0x1F && p.Green == 0x77 && p.Blue == 0xB4); // a frontier point
    }

    [Fact]
    public void Compare_rejects_an_unknown_method_before_training_and_writes_nothing()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path);
        var r = Cli.Run("compare", "--activations", data, "--methods", "sae.topk,sae.topkk", "--out", temp.File("cmp"));
        AssertBadInput(r, temp, "cmp", "unknown decomposer 'sae.topkk'", "did you mean 'sae.topk'?");
        var unknownOption = Cli.Run("compare", "--activations", data, "--methods", "sae.topk", "--set", "sae.topk.kk=2", "--out", temp.File("cmp"));
        AssertBadInput(unknownOption, temp, "cmp", "unknown option 'kk' for method 'sae.topk'", "Did you mean 'k'?");
    }

    [Fact]
    public void Bench_reports_every_variant_and_the_sparse_over_dense_ratio()
    {
        using var temp = new TempDir();
        var r = Cli.Run("bench", "sae", "--d-in", "16", "--d-sae", "256", "--batch", "128", "--k", "4", "--steps", "2",
            "--variants", "topk,topk-dense,relu", "--out", temp.File("bench.json"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(File.ReadAllText(temp.File("bench.json")))!;
        Assert.True((double)json["matmul_gflops"]! > 0);
        var variants = json["variants"]!.AsArray();
        Assert.Equal(["topk", "topk-dense", "relu"], variants.Select(v => (string?)v!["variant"]));
        foreach (var v in variants)
        {
            Assert.True((double)v!["steps_per_second"]! > 0);
            Assert.Equal((double)v["steps_per_second"]! * 128, (double)v["tokens_per_second"]!, 6);
            Assert.True((double)v["fraction_of_matmul_rate"]! > 0);
            Assert.True((long)v["peak_rss_bytes"]! > 0);
        }
        Assert.True((double)json["sparse_over_dense_speed"]!["topk"]! > 0);
        Assert.Contains("sparse decoding is", r.Out);
        AssertBadInput(Cli.Run("bench", "sae", "--variants", "topk,relux"), temp, "x", "unknown variant 'relux'", "Did you mean 'relu'?");
        AssertBadInput(Cli.Run("bench", "sae", "--k", "40", "--d-sae", "32"), temp, "x", "--k is 40", "--d-sae 32");
    }

    [Fact]
    public void Sae_bad_inputs_exit_2_with_one_line()
    {
        using var temp = new TempDir();
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", randn(64, 4));
        AssertBadInput(Cli.Run("decompose", "--activations", data, "--method", "sae.topk", "--set", "k=40", "--set", "d_sae=16", "--out", temp.File("o")),
            temp, "o", "invalid options for method 'sae.topk'", "k: is 40, larger than the dictionary (d_sae = 16)");
        AssertBadInput(Cli.Run("decompose", "--activations", data, "--method", "sae.topk", "--set", "k=40", "--out", temp.File("o")),
            temp, "o", "option 'k' is 40", "d_sae = 32");
        AssertBadInput(Cli.Run("decompose", "--activations", data, "--method", "sae.topk", "--set", "sparsity_coefficient=3", "--out", temp.File("o")),
            temp, "o", "unknown option 'sparsity_coefficient' for method 'sae.topk'");
        AssertBadInput(Cli.Run("decompose", "--activations", data, "--method", "sae.relu", "--set", "checkpoint_every=5", "--out", temp.File("o")),
            temp, "o", "checkpoint_dir", "required");
        var nan = randn(64, 4);
        nan[10, 2] = tensor(float.NaN);
        var bad = TestData.WithTensor(temp.Path, "nan.safetensors", "activations", nan);
        AssertBadInput(Cli.Run("decompose", "--activations", bad, "--method", "sae.relu", "--out", temp.File("o")), temp, "o", "NaN at row 10, column 2");
        Assert.Equal(0, Cli.Run("decompose", "--activations", data, "--method", "sae.relu", "--set", "steps=5", "--out", temp.File("sae4")).ExitCode);
        var wide = TestData.WithTensor(temp.Path, "x6.safetensors", "activations", randn(64, 6));
        AssertBadInput(Cli.Run("evaluate", "--decomposition", temp.File("sae4"), "--activations", wide, "--out", temp.File("r.json")),
            temp, "r.json", "d_in = 4", "dimension 6");
    }

    [Fact]
    public void Evaluate_loads_a_sparsify_folder()
    {
        var fixture = Path.Combine(Repo.Root, "tests", "Fixtures", "saelens", "sparsify");
        using var temp = new TempDir();
        var x = Safetensors.ReadAll(Path.Combine(fixture, "expected.safetensors"))["activations"];
        var data = TestData.WithTensor(temp.Path, "x.safetensors", "activations", x);
        var r = Cli.Run("evaluate", "--decomposition", fixture, "--activations", data, "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(r.Out)!;
        Assert.Equal("topk", (string?)json["architecture"]);
        Assert.Equal(5, (double)json["l0"]!, 6);
    }

    /// <summary>
    /// The real program killed while training (after a checkpoint) and started again with the same command ends with
    /// the weights of a run that was never interrupted.
    /// </summary>
    [Fact]
    public void A_killed_training_process_resumes_to_the_uninterrupted_weights()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path, samples: 4000);
        string[] Args(string outDir, string? ckpt) =>
        [
            "decompose", "--activations", data, "--method", "sae.topk", "--set", "k=3", "--set", "d_sae=48", "--set", "steps=1500",
            "--set", "batch_size=64", "--seed", "9", "--out", outDir,
            .. ckpt is null ? Array.Empty<string>() : ["--set", "checkpoint_every=100", "--set", $"checkpoint_dir={ckpt}"],
        ];
        var ckptDir = temp.File("ckpt");
        var dll = Path.Combine(AppContext.BaseDirectory, "mechanist.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var arg in Args(temp.File("killed"), ckptDir)) info.ArgumentList.Add(arg);
        using (var p = Process.Start(info)!)
        {
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            var deadline = DateTime.UtcNow.AddSeconds(120);
            // A step-* folder appears only once complete (it is renamed into place).
            while (DateTime.UtcNow < deadline && !p.HasExited && !(Directory.Exists(ckptDir) && Directory.GetDirectories(ckptDir, "step-*").Length > 0))
                Thread.Sleep(20);
            Assert.False(p.HasExited, "the run finished before it could be killed");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        Assert.False(Directory.Exists(temp.File("killed")), "a killed run leaves no output folder");
        var resumed = Cli.RunProcess(Args(temp.File("resumed"), ckptDir));
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var uninterrupted = Cli.RunProcess(Args(temp.File("straight"), null));
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.ToString());
        var a = Safetensors.ReadAll(Path.Combine(temp.File("resumed"), "sae_weights.safetensors"));
        var b = Safetensors.ReadAll(Path.Combine(temp.File("straight"), "sae_weights.safetensors"));
        foreach (var (name, t) in b) Assert.True(TensorAssert.Identical(t, a[name]), name);
    }
}

/// <summary><c>evaluate --model</c>: the CE-loss and KL scores of splicing a decomposition into a language model.</summary>
public class SpliceCommandTests
{
    const string Site = "blocks.1.hook_resid_mid";

    static string HarvestAndFit(TempDir temp, string method, params string[] settings)
    {
        var acts = temp.File("acts.safetensors");
        if (!File.Exists(acts))
        {
            var h = Cli.Run("harvest", "--model", HarvestCommandTests.Fixture, "--tokens", HarvestCommandTests.FixtureTokens, "--sites", Site, "--out", acts);
            Assert.True(h.ExitCode == 0, h.ToString());
        }
        var outDir = temp.File(method);
        var d = Cli.Run(["decompose", "--activations", acts, "--site", Site, "--method", method, .. settings.SelectMany(s => new[] { "--set", s }), "--out", outDir]);
        Assert.True(d.ExitCode == 0, d.ToString());
        return outDir;
    }

    [Fact]
    public void An_exact_decomposition_spliced_into_gpt2_scores_one()
    {
        using var temp = new TempDir();
        var pca = HarvestAndFit(temp, "pca", "components=32");
        var r = Cli.Run("evaluate", "--decomposition", pca, "--model", HarvestCommandTests.Fixture, "--tokens", HarvestCommandTests.FixtureTokens,
            "--batch-size", "3", "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var splice = JsonNode.Parse(r.Out)!["splice"]!;
        Assert.Equal(Site, (string?)splice["site"]);
        Assert.Equal(1.0, (double)splice["ce_loss_score"]!, 4);
        Assert.Equal(1.0, (double)splice["kl_score"]!, 4);
        Assert.Equal(4 * 15, (long)splice["tokens"]!);
        Assert.False(string.IsNullOrEmpty((string?)splice["definitions"]!["ce_loss_score"]));

        var sae = HarvestAndFit(temp, "sae.topk", "k=4", "d_sae=64", "steps=100", "batch_size=32");
        var s = Cli.Run("evaluate", "--decomposition", sae, "--activations", temp.File("acts.safetensors"), "--site", Site,
            "--model", HarvestCommandTests.Fixture, "--tokens", HarvestCommandTests.FixtureTokens, "--format", "json");
        Assert.True(s.ExitCode == 0, s.ToString());
        var both = JsonNode.Parse(s.Out)!;
        Assert.True(both["fvu"] is not null);
        var score = (double)both["splice"]!["ce_loss_score"]!;
        Assert.True(score < 1 && score > -5, $"a lossy SAE scores below 1: {score}");
    }

    [Fact]
    public void Splice_bad_inputs_exit_2()
    {
        using var temp = new TempDir();
        var pca = HarvestAndFit(temp, "pca", "components=4");
        Assert.Equal(2, Cli.Run("evaluate", "--decomposition", pca, "--tokens", HarvestCommandTests.FixtureTokens).ExitCode);
        var noTokens = Cli.Run("evaluate", "--decomposition", pca, "--model", HarvestCommandTests.Fixture);
        Assert.Equal(2, noTokens.ExitCode);
        Assert.Contains("--tokens FILE or --text FILE", noTokens.Error);
        var badSite = Cli.Run("evaluate", "--decomposition", pca, "--model", HarvestCommandTests.Fixture, "--tokens", HarvestCommandTests.FixtureTokens,
            "--splice-site", "blocks.1.hook_resid_mdi");
        Assert.Equal(2, badSite.ExitCode);
        Assert.Contains("Did you mean 'blocks.1.hook_resid_mid'?", badSite.Error);
    }
}
