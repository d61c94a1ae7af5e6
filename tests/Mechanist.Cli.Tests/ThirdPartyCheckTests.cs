using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

/// <summary>
/// A plugin's own check IDs (the sample plugin's MODA4001 and MODA4002) are configured exactly like Mechanist's: severity
/// and threshold in 'checks', canonical MSBuild lines with the ID, SARIF rules with the plugin's help page; an ID no
/// loaded validator declares is MECH0003 with the closest; two declarations of one ID are MECH0004; a plugin may not
/// borrow the MECH prefix (MECH0002).
/// </summary>
public sealed class ThirdPartyCheckTests
{
    static string Sample => Path.Combine(Repo.Root, "samples", "model-release");
    static string FourierPlugin => Repo.Plugin("Mechanist.Plugins.ModularArithmetic");

    static string Config(TempDir temp, string checks) => WriteConfig(temp, $$"""
        {
          "model": "{{Path.Combine(Sample, "..", "models", "modular-addition")}}",
          "plugins": [ "{{FourierPlugin}}", "{{Cli.FaultyPlugin}}" ],
          "device": "cpu",
          "validations": [
            { "method": "modular-addition.fourier", "decompositions": [] },
            { "method": "test.borrowed-prefix", "decompositions": [] }
          ],
          "checks": {{checks}}
        }
        """);

    static string WriteConfig(TempDir temp, string json)
    {
        var path = temp.File("mechanist.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void A_plugin_check_is_configured_reported_and_described_like_a_built_in_one()
    {
        using var temp = new TempDir();
        var config = Config(temp, """{ "MODA4001": { "severity": "error", "threshold": 0.999 }, "MODA4002": "none" }""");

        var msbuild = Cli.Run("check", config, "--format", "msbuild");
        Assert.True(msbuild.ExitCode == 1, msbuild.ToString());
        var lines = msbuild.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // The grokked model holds 99.4% of its embedding's power on 6 frequencies: below a 99.9% bar.
        Assert.Contains(lines, l => l.StartsWith($"{config}(6,5): error MODA4001: the 6 strongest of 56 frequencies hold 99.4%", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("MODA4002"));
        // Two plugins declare MODA4001 (the faulty fixture too): a warning naming both; the first declaration is kept.
        Assert.Contains(lines, l => l.Contains("(3,") && l.Contains("warning MECH0004: check ID 'MODA4001' from validator 'test.duplicate-check'") && l.Contains("'modular-addition.fourier'"));
        // A plugin that declares a MECH ID is not used, and the entry that names it says it could not run.
        Assert.Contains(lines, l => l.Contains("warning MECH0002") && l.Contains("declares check MECH4999, but the prefix MECH is Mechanist's own"));
        Assert.Contains(lines, l => l.StartsWith($"{config}(7,5): error MECH0013: validator 'test.borrowed-prefix' could not run: it is not used", StringComparison.Ordinal));

        var sarif = Cli.Run("check", config, "--format", "sarif");
        SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, sarif.Out);
        var run = JsonNode.Parse(sarif.Out)!["runs"]![0]!;
        var rule = run["tool"]!["driver"]!["rules"]!.AsArray().Single(r => (string)r!["id"]! == "MODA4001")!;
        var help = new Uri((string)rule["helpUri"]!);
        Assert.True(help.IsFile && help.LocalPath == Path.Combine(FourierPlugin, "docs", "checks", "MODA4001.md") && File.Exists(help.LocalPath), help.ToString());
        Assert.Equal("Interpretation", (string)rule["properties"]!["category"]!);
        var overrides = run["invocations"]![0]!["ruleConfigurationOverrides"]!.AsArray();
        Assert.Contains(overrides, o => (string)o!["descriptor"]!["id"]! == "MODA4001" && (string)o["configuration"]!["level"]! == "error");
        var result = run["results"]!.AsArray().Single(r => (string)r!["ruleId"]! == "MODA4001")!;
        Assert.Equal(("error", 0.999), ((string)result["level"]!, (double)result["properties"]!["threshold"]!));
    }

    [Fact]
    public void An_id_no_loaded_validator_declares_is_MECH0003_with_the_closest()
    {
        using var temp = new TempDir();
        var r = Cli.Run("check", Config(temp, """{ "MODA4003": "error", "ACME0001": "none" }"""));
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("(9,15): error MECH0003: unknown check 'MODA4003'; did you mean 'MODA4001' (Embedding not sparse in the Fourier basis)? No loaded validator declares it.", r.Error);
        Assert.Contains("error MECH0003: unknown check 'ACME0001'", r.Error);
        // Malformed IDs are configuration errors (MECH0010), not unknown checks.
        r = Cli.Run("check", Config(temp, """{ "MODA-4001": "error", "MECH10001": "error" }"""));
        Assert.Contains("error MECH0010: 'MODA-4001' in 'checks' is not a check ID", r.Error);
        Assert.Contains("error MECH0010: 'MECH10001' in 'checks' is not a check ID", r.Error);
    }
}
