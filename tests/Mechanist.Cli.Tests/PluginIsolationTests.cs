using System.Diagnostics;
using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

/// <summary>
/// Plugins that misbehave at run time: a method that hangs (MECH0005 within its budget; the check ends cleanly, report
/// written), one that is slow but stops when asked (MECH0005, and the run goes on), and one that prints to standard
/// output (reports on standard output stay valid).
/// </summary>
public sealed class PluginIsolationTests
{
    static string Sample => Path.Combine(Repo.Root, "samples", "model-release");

    static string Config(TempDir temp, string validations, string extra = "") =>
        WriteConfig(temp, $$"""
            {
              "plugins": [ "{{Cli.FaultyPlugin}}" ],
              "device": "cpu",
              "decompositions": { "resid": { "activations": "{{Path.Combine(Sample, "data", "activations.safetensors")}}", "path": "{{Path.Combine(Sample, "release", "resid")}}" } },
              "validations": [ {{validations}} ],
              "checks": { "MECH0002": "none", "MECH1004": "suggestion" }{{extra}}
            }
            """);

    static string WriteConfig(TempDir temp, string json)
    {
        var path = temp.File("mechanist.json");
        File.WriteAllText(path, json);
        return path;
    }

    static JsonNode Result(JsonNode sarif, string ruleId) =>
        sarif["runs"]![0]!["results"]!.AsArray().Single(r => (string)r!["ruleId"]! == ruleId)!;

    [Fact]
    public void A_hanging_method_is_MECH0005_within_its_budget_and_the_check_ends_with_its_report()
    {
        using var temp = new TempDir();
        var config = Config(temp, """
            { "method": "test.hangs", "decompositions": [] },
            { "method": "decomposition.quality" }
            """, """, "timeouts": { "test.hangs": 1 }""");
        var report = temp.File("report.sarif");
        var watch = Stopwatch.StartNew();
        var r = Cli.RunProcess("check", config, "--format", "sarif", "--out", report);
        watch.Stop();
        Assert.True(r.ExitCode == 1, r.ToString());
        // Budget 1 s, then 1 s of grace for it to stop when asked; the rest is the process starting and reading the model.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
        var sarif = JsonNode.Parse(File.ReadAllText(report))!;
        SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, File.ReadAllText(report));
        var hung = (string)Result(sarif, "MECH0005")["message"]!["text"]!;
        Assert.Contains("validator 'test.hangs'", hung);
        Assert.Contains("plugin Mechanist.TestPlugins.Faulty", hung);
        Assert.Contains("within its time budget of 1 s", hung);
        Assert.Contains("did not stop", hung);
        Assert.Equal("error", (string)Result(sarif, "MECH0005")["level"]!);
        Assert.Equal(5, (int)Result(sarif, "MECH0005")["locations"]![0]!["physicalLocation"]!["region"]!["startLine"]!);
        // The validator after it did not run on what the hung one may still hold: that is said, not passed over.
        var skipped = (string)Result(sarif, "MECH0013")["message"]!["text"]!;
        Assert.Contains("validator 'decomposition.quality' could not run", skipped);
        Assert.Contains("'test.hangs' exceeded its time budget", skipped);
        Assert.Contains("error MECH0005", r.Out);
    }

    [Fact]
    public void A_slow_method_that_stops_when_asked_is_MECH0005_and_the_others_run()
    {
        using var temp = new TempDir();
        var config = Config(temp, """
            { "method": "test.slow", "decompositions": [] },
            { "method": "decomposition.quality" }
            """);
        var r = Cli.Run("check", config, "--format", "json", "--timeout", "test.slow=0.5", "--timeout", "120");
        Assert.True(r.ExitCode == 1, r.ToString());
        var findings = JsonNode.Parse(r.Out)!["findings"]!.AsArray();
        var slow = findings.Single(f => (string)f!["id"]! == "MECH0005")!;
        Assert.Contains("'test.slow'", (string)slow["message"]!);
        Assert.Contains("0.5 s", (string)slow["message"]!);
        Assert.Contains("it stopped when asked to, and the run went on", (string)slow["message"]!);
        Assert.Contains(findings, f => (string)f!["id"]! == "MECH1004"); // decomposition.quality ran

        // MECH0005 is configured like any host finding; an unknown method in --timeout is MECH0003 with the closest.
        r = Cli.Run("check", config, "--format", "json", "--timeout", "test.slw=0.5");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("error MECH0003: unknown method 'test.slw' in --timeout; did you mean 'test.slow'?", r.Error);
        Assert.Equal(2, Cli.Run("check", config, "--timeout", "0").ExitCode);
        Assert.Contains("--timeout expects a number of seconds above 0", Cli.Run("check", config, "--timeout", "x=y").Error + Cli.Run("check", config, "--timeout", "-1").Error);
    }

    [Fact]
    public void A_plugin_printing_to_standard_output_does_not_corrupt_json_or_sarif_on_standard_output()
    {
        using var temp = new TempDir();
        var config = Config(temp, """{ "method": "test.chatty", "decompositions": [] }""");
        foreach (var format in new[] { "json", "sarif" })
        {
            var r = Cli.RunProcess("check", config, "--format", format);
            Assert.True(r.ExitCode == 0, r.ToString());
            var report = JsonNode.Parse(r.Out)!; // the whole of standard output is the report
            if (format == "sarif") SchemaValidation.AssertValid(SchemaValidation.SarifSchemaPath, r.Out);
            var said = format == "json"
                ? (string)report["findings"]!.AsArray().Single(f => (string)f!["id"]! == "TEST9004")!["message"]!
                : (string)Result(report, "TEST9004")["message"]!["text"]!;
            Assert.Equal("printed to standard output 3 ways", said);
            // What the plugin printed went to standard error instead.
            Assert.Contains("chatty plugin: Console.WriteLine {", r.Error);
            Assert.Contains("chatty plugin: raw standard output ]", r.Error);
            Assert.Contains("chatty plugin: write(1) \"", r.Error);
        }
    }
}
