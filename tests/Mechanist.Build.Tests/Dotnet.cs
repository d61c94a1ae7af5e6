using System.Diagnostics;
using Mechanist.Testing;

namespace Mechanist.Build.Tests;

public sealed record ProcessResult(int ExitCode, string Output, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:0.0} s\n{Output}";
}

/// <summary>Runs the dotnet CLI (and other programs) the way a developer would, isolated from the test host's MSBuild.</summary>
static class Dotnet
{
    /// <summary>The configuration the tests were built in (Debug or Release): the CLI and the task come from the same.</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    public static string CliDll => Path.Combine(Repo.Root, "src", "Mechanist.Cli", "bin", Configuration, "net10.0", "mechanist.dll");

    public static ProcessResult Run(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        Start("dotnet", workingDirectory, environment, args);

    public static ProcessResult Start(string program, string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // The test host runs under the dotnet CLI: its MSBuild variables would point a nested build at the wrong SDK pieces.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(key);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        if (environment is not null) foreach (var (k, v) in environment) info.Environment[k] = v;
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in 5 minutes:\n{output}");
        }
        p.WaitForExit();
        return new ProcessResult(p.ExitCode, output.ToString(), watch.Elapsed);
    }
}
