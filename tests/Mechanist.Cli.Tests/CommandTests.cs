using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

public class CommandTests
{
    [Fact]
    public void Version_and_help()
    {
        var version = Cli.Run("--version");
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^mechanist \d+\.\d+\.\d+", version.Out);
        var help = Cli.Run("--help");
        Assert.Equal(0, help.ExitCode);
        foreach (var verb in new[] { "plugins list", "decompose", "evaluate", "generate superposition" })
            Assert.Contains(verb, help.Out);
        var decomposeHelp = Cli.Run("decompose", "--help");
        Assert.Equal(0, decomposeHelp.ExitCode);
        Assert.Contains("--activations FILE", decomposeHelp.Out);
    }

    [Fact]
    public void No_arguments_and_unknown_commands_are_usage_errors()
    {
        Assert.Equal(2, Cli.Run().ExitCode);
        var r = Cli.Run("decompse");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown command 'decompse'", r.Error);
        Assert.Contains("Did you mean 'decompose'?", r.Error);
    }

    [Fact]
    public void Plugins_list_json_lists_built_ins_and_the_sample_plugin()
    {
        var r = Cli.Run("plugins", "list", "--plugins", Cli.FastIcaPlugin, "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Error);
        var array = JsonNode.Parse(r.Out)!.AsArray();
        var pca = array.Single(m => (string?)m!["id"] == "pca")!;
        Assert.Equal("decomposer", (string?)pca["kind"]);
        Assert.Equal("Mechanist.Methods", (string?)pca["assembly"]);
        Assert.False(string.IsNullOrEmpty((string?)pca["title"]));
        Assert.False(string.IsNullOrEmpty((string?)pca["version"]));
        var ica = array.Single(m => (string?)m!["id"] == "fastica")!;
        Assert.Equal("Mechanist.Plugins.FastIca", (string?)ica["assembly"]);
        var quality = array.Single(m => (string?)m!["id"] == "decomposition.quality")!;
        Assert.Equal("validator", (string?)quality["kind"]);
        Assert.Contains("MECH1001", quality["checks"]!.AsArray().Select(c => (string?)c));
        Assert.Null(pca["checks"]);
    }

    [Fact]
    public void Plugins_list_reports_a_broken_plugin_and_still_lists_the_rest()
    {
        using var temp = new TempDir();
        var broken = Path.Combine(temp.Path, "Broken");
        Directory.CreateDirectory(broken);
        File.WriteAllText(Path.Combine(broken, "Broken.dll"), "not an assembly");
        var r = Cli.Run("plugins", "list", "--plugins", broken);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("warning MECH0002", r.Error);
        Assert.Contains("Broken.dll", r.Error);
        Assert.Contains("pca", r.Out);
    }

    [Fact]
    public void Decompose_then_evaluate_with_pca()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path);
        var outDir = temp.File("pca");
        var r = Cli.Run("decompose", "--activations", data, "--method", "pca", "--set", "components=8", "--ground-truth", data,
            "--hook-name", "blocks.0.hook_resid_post", "--seed", "4", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["cfg.json", "metrics.json", "sae_weights.safetensors"], Directory.GetFiles(outDir).Select(Path.GetFileName).Order());

        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "metrics.json")))!.AsObject();
        foreach (var key in new[] { "fvu", "explained_variance", "l0", "dead_fraction", "mmcs" })
        {
            Assert.True(metrics.ContainsKey(key), key);
            Assert.False(string.IsNullOrEmpty((string?)metrics["definitions"]![key]), $"definition of {key}");
        }
        double fvu = (double)metrics["fvu"]!;
        Assert.InRange(fvu, 0, 1e-6); // 8 components in 8 dimensions: exact
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "cfg.json")))!;
        Assert.Equal(16, (int)cfg["d_sae"]!);
        Assert.Equal("blocks.0.hook_resid_post", (string?)cfg["metadata"]!["hook_name"]);
        Assert.Equal("8", (string?)cfg["mechanist"]!["options"]!["components"]);

        var e = Cli.Run("evaluate", "--decomposition", outDir, "--activations", data, "--ground-truth", data, "--format", "json");
        Assert.True(e.ExitCode == 0, e.ToString());
        var evaluated = JsonNode.Parse(e.Out)!;
        Assert.Equal((double)metrics["fvu"]!, (double)evaluated["fvu"]!, 12);
        Assert.Equal((double)metrics["mmcs"]!, (double)evaluated["mmcs"]!, 12);
        Assert.Equal((double)metrics["l0"]!, (double)evaluated["l0"]!, 12);
    }

    [Fact]
    public void Evaluate_writes_its_report_atomically_when_asked()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path);
        Assert.Equal(0, Cli.Run("decompose", "--activations", data, "--method", "pca", "--set", "components=2", "--out", temp.File("d")).ExitCode);
        var report = temp.File("reports/eval.json");
        var r = Cli.Run("evaluate", "--decomposition", temp.File("d"), "--activations", data, "--out", report);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("explained_variance", r.Out);
        Assert.True(JsonNode.Parse(File.ReadAllText(report))!["fvu"] is not null);
        Assert.DoesNotContain(Directory.GetFiles(temp.File("reports")), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void The_plugin_decomposer_runs_through_the_same_commands()
    {
        using var temp = new TempDir();
        var data = TestData.Superposition(temp.Path);
        var outDir = temp.File("ica");
        var r = Cli.Run("decompose", "--plugins", Cli.FastIcaPlugin, "--activations", data, "--method", "fastica", "--set", "components=4", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.ToString());
        var e = Cli.Run("evaluate", "--decomposition", outDir, "--activations", data, "--format", "json");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Equal(8, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "cfg.json")))!["d_sae"]!);
    }

    [Fact]
    public void Npy_activations_are_accepted()
    {
        using var temp = new TempDir();
        var path = temp.File("x.npy");
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (64, 3), }";
        header = header.PadRight(117) + "\n"; // 10 + 118 = 128 bytes before the data
        using (var s = File.Create(path))
        {
            s.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
            s.Write(BitConverter.GetBytes((ushort)header.Length));
            s.Write(System.Text.Encoding.ASCII.GetBytes(header));
            var rng = new Random(1);
            for (int i = 0; i < 64 * 3; i++) s.Write(BitConverter.GetBytes((float)rng.NextDouble()));
        }
        var r = Cli.Run("decompose", "--activations", path, "--method", "pca", "--set", "components=3", "--out", temp.File("o"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("fitted on 64 rows", r.Out);
    }

    [Fact]
    public void The_real_program_exits_with_the_documented_codes()
    {
        using var temp = new TempDir();
        var ok = Cli.RunProcess("--version");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        var missing = Cli.RunProcess("decompose", "--activations", temp.File("missing.safetensors"), "--method", "pca", "--out", temp.File("o"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Single(missing.Error.Trim().Split('\n'));
        Assert.Contains("missing.safetensors", missing.Error);
        Assert.DoesNotContain("   at ", missing.Error); // no stack trace without --verbose
        Assert.Empty(temp.Entries());
    }
}
