using System.Diagnostics;
using Mechanist.Testing;

namespace Mechanist.Cli.Tests;

public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

static class Cli
{
    /// <summary>Runs the command line in process.</summary>
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs the real <c>mechanist</c> program in its own process (exit codes as the shell sees them).</summary>
    public static CliResult RunProcess(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "mechanist.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("mechanist did not finish in 120 s"); }
        return new CliResult(p.ExitCode, output.Result, error.Result);
    }

    public static string FastIcaPlugin => Repo.Plugin("Mechanist.Plugins.FastIca");
    public static string FaultyPlugin => Repo.Plugin("Mechanist.TestPlugins.Faulty");
}
