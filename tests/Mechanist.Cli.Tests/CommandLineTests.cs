using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

/// <summary>The command line itself: generated help, response files, completion, usage errors, shared option types.</summary>
public class CommandLineTests
{
    static string SampleModel => Path.Combine(Repo.Root, "samples", "models", "modular-addition");
    static string SampleTokens => Path.Combine(Repo.Root, "samples", "model-release", "data", "tokens.jsonl");
    static string SampleSae => Path.Combine(Repo.Root, "samples", "model-release", "release", "resid");

    static void AssertUsageError(CliResult r, params string[] expected)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Out);
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("mechanist: error: ", line);
        foreach (var text in expected) Assert.Contains(text, line);
    }

    [Fact]
    public void Help_is_generated_for_every_verb_with_its_usage_line_and_option_value_names()
    {
        foreach (var verb in CliApp.Commands)
        {
            var r = Cli.Run([.. verb.Name.Split(' '), "--help"]);
            Assert.True(r.ExitCode == 0, $"{verb.Name}: {r}");
            Assert.Contains($"  mechanist {verb.Name} {verb.Usage}", r.Out);
            Assert.Contains(verb.Summary, string.Join(' ', r.Out.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries)));
            foreach (var option in verb.Options.Where(o => o.Name != "help"))
                Assert.Contains(option.TakesValue ? $"--{option.Name} <{option.ValueName ?? "VALUE"}>" : $"--{option.Name}", r.Out);
        }
        var group = Cli.Run("bench", "-h");
        Assert.True(group.ExitCode == 0, group.ToString());
        foreach (var name in new[] { "harvest", "ig", "modular-addition", "sae", "sweep" }) Assert.Contains(name, group.Out);
        var root = Cli.Run("help");
        Assert.Equal(0, root.ExitCode);
        Assert.Contains("@FILE", root.Out);
        Assert.Contains("dotnet-suggest", root.Out);
        // Help wins over anything else on the line, as System.CommandLine's users expect.
        Assert.Equal(0, Cli.Run("decompose", "--sead", "3", "--help").ExitCode);
    }

    [Fact]
    public void Response_files_hold_arguments_one_or_more_per_line_with_comments()
    {
        using var temp = new TempDir();
        var rsp = temp.File("args.rsp");
        var output = temp.File("with space.safetensors");
        File.WriteAllText(rsp, $"# a small synthetic set\n--features 8 --dim 4\n\n--samples 32\n--out \"{output}\"\n");
        var r = Cli.Run("generate", "superposition", "@" + rsp, "--seed", "3");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(output));
        Assert.Contains("32 x 4", r.Out);

        AssertUsageError(Cli.Run("generate", "superposition", "@" + temp.File("missing.rsp")), "response file", "missing.rsp", "not found");
    }

    [Fact]
    public void The_suggest_directive_completes_verbs_options_choices_and_method_ids()
    {
        static string[] Suggest(string line) =>
            Cli.Run($"[suggest:{line.Length}]", line).Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        Assert.Contains("decompose", Suggest("decomp"));
        Assert.Contains("--method", Suggest("decompose --me"));
        Assert.Contains("pca", Suggest("decompose --method p"));
        Assert.Contains("sae.topk", Suggest("compare --methods sae."));
        Assert.Equal(["json"], Suggest("evaluate --format j"));
        Assert.Contains("sarif", Suggest("check --format s"));
        Assert.Contains("cpu", Suggest("attribute --device c"));
        Assert.Contains("pareto", Suggest("plot p"));
    }

    [Fact]
    public void Usage_errors_are_one_line_with_exit_code_2()
    {
        AssertUsageError(Cli.Run("decompose", "--out", "a", "--out", "b"), "option '--out' of 'decompose' is given more than once");
        AssertUsageError(Cli.Run("decompose", "--method"), "option '--method' of 'decompose' needs a value (ID)");
        AssertUsageError(Cli.Run("decompose", "stray"), "unexpected argument 'stray' for 'decompose'");
        AssertUsageError(Cli.Run("plot", "pareto", "results.json", "--colour", "red", "--out", "x.png"), "unknown option '--colour' for 'plot pareto'");
        AssertUsageError(Cli.Run("check", "--fail-of", "new", "mechanist.json"), "unknown option '--fail-of'", "Did you mean '--fail-on'?");
        AssertUsageError(Cli.Run("bench"), "'bench' needs a command", "bench ig", "bench sae");
        AssertUsageError(Cli.Run("plot", "parteo"), "unknown command 'plot parteo'", "Did you mean 'plot pareto'?");
        AssertUsageError(Cli.Run("--bogus"), "unknown command '--bogus'");
    }

    [Fact]
    public void Interpret_and_attribute_read_a_jsonl_token_file_as_harvest_and_evaluate_do()
    {
        using var temp = new TempDir();
        var interpret = Cli.Run("interpret", "--model", SampleModel, "--decomposition", SampleSae, "--method", "top-examples",
            "--tokens", SampleTokens, "--features", "0-1", "--set", "top_k=3", "--out", temp.File("top.jsonl"));
        Assert.True(interpret.ExitCode == 0, interpret.ToString());
        var records = File.ReadAllLines(temp.File("top.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(2, records.Count);
        // 512 sequences of 3 tokens, one activation row per token.
        Assert.Equal(512 * 3, (long)records[0]["details"]!["rows"]!);

        var attribute = Cli.Run("attribute", "--model", SampleModel, "--method", "saliency", "--tokens", SampleTokens,
            "--site", "hook_embed", "--target", "5", "--format", "json");
        Assert.True(attribute.ExitCode == 0, attribute.ToString());
        var report = JsonNode.Parse(attribute.Out)!;
        Assert.Equal([512, 3], report["input_shape"]!.AsArray().Select(n => (long)n!));
        Assert.Equal(512, report["input_tokens"]!.AsArray().Count);

        // The same file as inline ids and as a token tensor gives the same scores.
        var firstTwo = string.Join(";", File.ReadLines(SampleTokens).Take(2).Select(l => l.Trim('[', ']').Replace(" ", "")));
        var inline = Cli.Run("attribute", "--model", SampleModel, "--method", "saliency", "--tokens", firstTwo,
            "--site", "hook_embed", "--target", "5", "--format", "json");
        Assert.True(inline.ExitCode == 0, inline.ToString());
        var twoLines = temp.File("two.jsonl");
        File.WriteAllLines(twoLines, File.ReadLines(SampleTokens).Take(2));
        var fromFile = Cli.Run("attribute", "--model", SampleModel, "--method", "saliency", "--tokens", twoLines,
            "--site", "hook_embed", "--target", "5", "--format", "json");
        Assert.Equal(JsonNode.Parse(inline.Out)!["scores"]!.ToJsonString(), JsonNode.Parse(fromFile.Out)!["scores"]!.ToJsonString());

        var ragged = temp.File("ragged.jsonl");
        File.WriteAllText(ragged, "[1, 2, 113]\n[4, 113]\n");
        AssertUsageError(Cli.Run("attribute", "--model", SampleModel, "--method", "saliency", "--tokens", ragged, "--site", "hook_embed", "--target", "5"),
            ragged, "sequence 2 has 2 tokens but the first has 3");
        var outside = temp.File("outside.jsonl");
        File.WriteAllText(outside, "[1, 2, 114]\n");
        AssertUsageError(Cli.Run("interpret", "--model", SampleModel, "--decomposition", SampleSae, "--method", "top-examples", "--tokens", outside),
            outside, "token id 114");
    }

    [Fact]
    public void Harvest_reads_token_ids_in_every_form_the_other_commands_take()
    {
        using var temp = new TempDir();
        var r = Cli.Run("harvest", "--model", SampleModel, "--tokens", "1,2,113;4,5,113", "--sites", "blocks.0.hook_resid_post",
            "--out", temp.File("a.safetensors"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("harvested 6 tokens (2 sequences)", r.Out);
        AssertUsageError(Cli.Run("harvest", "--model", SampleModel, "--tokens", "1,2,200", "--sites", "blocks.0.hook_resid_post", "--out", temp.File("b.safetensors")),
            "token id 200", "[0, 114)");
        Assert.False(File.Exists(temp.File("b.safetensors")));
    }

    [Fact]
    public void Feature_synthesis_on_token_ids_chooses_soft_tokens()
    {
        var r = Cli.Run("interpret", "--model", SampleModel, "--decomposition", SampleSae, "--method", "feature-synthesis",
            "--tokens", "3,5,113", "--features", "0", "--set", "steps=5", "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var details = JsonNode.Parse(r.Out)!["details"]!;
        Assert.Equal("soft_tokens", (string?)details["mode"]);
        Assert.Equal(3, details["nearest_tokens"]!.AsArray().Count);

        // Asked for explicitly, the continuous mode still refuses token ids with the reason.
        var input = Cli.Run("interpret", "--model", SampleModel, "--decomposition", SampleSae, "--method", "feature-synthesis",
            "--tokens", "3,5,113", "--features", "0", "--set", "mode=input", "--set", "steps=5");
        AssertUsageError(input, "mode=input optimises a continuous input");
    }
}
