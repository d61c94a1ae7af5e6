using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Reports.Tests;

/// <summary><c>mechanist report</c> and <c>check --format html</c> on bad input: one line, exit 2, nothing written.</summary>
public class ReportCommandTests
{
    [Fact]
    public void Report_rejects_bad_input_with_one_line_and_writes_nothing()
    {
        using var temp = new TempDir();
        var html = temp.File("d.html");
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--out", temp.File("d.txt")), temp.File("d.txt"), "--out", "FILE.html");
        Cli.BadInput(Cli.Run("report", "--decomposition", temp.File("nope"), "--out", html), html, "nope");
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--tokens", Cli.Tokens, "--out", html), html, "--tokens", "--model");
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--name", "resid", "--out", html), html, "--name", "--check");
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--check", temp.File("missing.json"), "--out", html), html, "--check", "not found");
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--features", "70", "--out", html), html, "feature 70", "64 features");
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--activations", Cli.Superposition, "--out", html), html, "dimension 32", "d_in is 128");
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--set", "top-examples.top_kk=3", "--activations", Cli.Activations, "--out", html), html, "top_kk");

        var ragged = temp.File("ragged.jsonl");
        File.WriteAllText(ragged, "[1, 2, 113]\n[3, 113]\n");
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--model", Cli.Model, "--tokens", ragged, "--out", html), html, "sequence 2 has 2 tokens", "first has 3");

        var check = temp.File("check.json");
        File.WriteAllText(check, new JsonObject { ["findings"] = new JsonArray(new JsonObject { ["id"] = "MECH1004", ["decomposition"] = "other" }) }.ToJsonString());
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--check", check, "--out", html), html, "no finding names the decomposition 'resid'", "'other'", "--name");
        File.WriteAllText(check, "{ not json");
        Cli.BadInput(Cli.Run("report", "--decomposition", Cli.Sae, "--check", check, "--out", html), html, "not valid JSON");
        Assert.Equal(["check.json", "ragged.jsonl"], temp.Entries());
    }

    [Fact]
    public void Report_with_activations_only_has_examples_without_context_and_says_so()
    {
        using var temp = new TempDir();
        var html = temp.File("d.html");
        var r = Cli.Ok("report", "--decomposition", Cli.Sae, "--activations", Cli.Activations, "--features", "0-7", "--set", "top-examples.top_k=3", "--out", html);
        Assert.Contains("dashboard: 8 feature(s)", r.Out);
        Assert.Contains("not shown: No tokens: examples are activation rows without context", r.Out);
        Assert.Contains("not shown: No model: no output effects", r.Out);
        var page = File.ReadAllText(html);
        Assert.Contains("No tokens: examples are activation rows without context", page);
        Assert.Contains("Content-Security-Policy", page);
        Assert.DoesNotContain("http://", page.Replace("http://www.w3.org/", ""));
        Assert.DoesNotContain("https://", page);
    }

    [Fact]
    public void Check_html_of_an_invalid_config_is_an_input_error_and_writes_nothing()
    {
        using var temp = new TempDir();
        var config = temp.File("mechanist.json");
        File.WriteAllText(config, """{ "decompositions": { "x": { "method": "sae.topkk", "activations": "missing.safetensors" } } }""");
        var html = temp.File("check.html");
        var r = Cli.Run("check", config, "--format", "html", "--out", html);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.False(File.Exists(html));
    }
}
