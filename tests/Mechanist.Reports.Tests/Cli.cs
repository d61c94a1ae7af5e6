using Mechanist.Cli;
using Mechanist.Testing;

namespace Mechanist.Reports.Tests;

public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>The command line, run in process; and the shipped sample's paths.</summary>
static class Cli
{
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    public static CliResult Ok(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r;
    }

    /// <summary>Exit code 2, one line on stderr holding every expected fragment, and nothing written at <paramref name="output"/>.</summary>
    public static void BadInput(CliResult r, string output, params string[] fragments)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        var lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.ToString());
        Assert.StartsWith("mechanist: error: ", lines[0]);
        foreach (var f in fragments) Assert.Contains(f, lines[0]);
        Assert.False(File.Exists(output) || Directory.Exists(output), $"{output} was written");
    }

    public static string Sample => Path.Combine(Repo.Root, "samples", "model-release");
    public static string Model => Path.Combine(Repo.Root, "samples", "models", "modular-addition");
    public static string Sae => Path.Combine(Sample, "release", "resid");
    public static string Tokens => Path.Combine(Sample, "data", "tokens.jsonl");
    public static string Activations => Path.Combine(Sample, "data", "activations.safetensors");
    public static string Superposition => Path.Combine(Repo.Root, "samples", "data", "superposition.safetensors");
}
