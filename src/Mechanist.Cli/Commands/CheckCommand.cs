using Mechanist.Cli.CommandLine;
using Mechanist.Host.Gate;
using Mechanist.Host.Configuration;
using Mechanist.Host.Reports;
using Mechanist.IO;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist check CONFIG</c>: runs everything a <c>mechanist.json</c> asks and reports the findings. Exit code 1
/// when any finding has error severity, 0 otherwise, 2 when the configuration or an input is invalid (each problem
/// printed as an MSBuild canonical error line with its check ID and the config line, nothing written).
/// </summary>
public sealed class CheckCommand : ICommand
{
    public string Name => "check";
    public string Summary => "run what a mechanist.json asks (decompositions, validations) and gate on the findings";
    public string Usage => "CONFIG [--format text|json|sarif|msbuild|html] [--out FILE] [--model DIR] [--plugins DIR]... [--device D] [--cache DIR] [--update-baseline] [--fail-on new|all] [--help-uri-base URI] [--dependencies FILE] [--outputs FILE] [--timeout SECONDS|ID=SECONDS]...";
    public int MaxPositionals => 1;

    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("format", "report format: text|json|sarif|msbuild|html (default text; html: one offline page linking findings to docs and feature cards)", ValueName: "FORMAT",
            Choices: [.. CheckReports.Formats, "html"]),
        new("out", "write the report to FILE (atomically); the findings are still printed as text", ValueName: "FILE"),
        new("model", "the model folder, replacing the config's 'model'", ValueName: "DIR"),
        CommonOptions.Plugins, CommonOptions.Device,
        new("help-uri-base", "absolute URI that relative help links (docs/checks/ID.md) resolve against in reports", ValueName: "URI"),
        new("cache", "keep activations harvested from the model in DIR between runs (keyed by a hash of the model's files, the inputs and the site); default: a temporary folder", ValueName: "DIR"),
        new("update-baseline", "accept this run: write the baseline (every measured value and finding) beside the config, then compare with it", TakesValue: false),
        new("fail-on", "all (default): every error fails; new: only errors the baseline does not have (MECH5xxx regressions are always new)", ValueName: "new|all", Choices: ["new", "all"]),
        new("dependencies", "write the list of every file the check read, one per line (for incremental builds)", ValueName: "FILE"),
        new("outputs", "write the list of every file the check keeps for later runs (harvest cache entries), one per line", ValueName: "FILE"),
        new("timeout", "time budget of each method run in seconds (default 600, or the config's 'timeouts'), or ID=SECONDS for one method (repeatable); a run over budget is MECH0005", Repeatable: true, ValueName: "SECONDS|ID=SECONDS"),
        CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        if (args.Positionals.Count == 0)
            throw new UsageException("'check' needs a configuration file: mechanist check CONFIG. See 'mechanist check --help'.");
        var configPath = args.Positionals[0];
        var format = args.GetChoice("format", "text", [.. CheckReports.Formats, "html"]);
        var outPath = args.Get("out");
        var helpBase = args.Get("help-uri-base");
        if (helpBase is not null && !Uri.TryCreate(helpBase, UriKind.Absolute, out _))
            throw new UsageException($"--help-uri-base expects an absolute URI, got '{helpBase}'.");
        var failOn = args.GetChoice("fail-on", "all", "all", "new");
        if (args.Get("device") is { } device && !Mechanist.Host.Running.Devices.IsValid(device))
            throw new UsageException($"--device expects {Mechanist.Host.Running.Devices.Expected}, got '{device}'.");

        CheckResult result;
        try
        {
            result = CheckRunner.Run(configPath, new CheckRunOptions
            {
                ExtraPlugins = args.GetAll("plugins"), Model = args.Get("model"), Device = args.Get("device"), HelpUriBase = helpBase,
                CacheFolder = args.Get("cache"), UpdateBaseline = args.Has("update-baseline"), FailOn = failOn, Timeouts = Timeouts(args),
                Log = env.Verbose ? new SyncProgress(line => env.Error.WriteLine($"mechanist check: {line}")) : null,
            });
        }
        catch (CheckInputException e)
        {
            env.Error.Write(CheckReports.Canonical(e));
            if (env.Verbose) env.Error.WriteLine(e);
            return ExitCodes.BadInput;
        }

        int exitCode = result.HasErrors ? ExitCodes.ErrorFinding : ExitCodes.Ok;
        var report = format == "html" ? CheckHtml.Render(result, args, exitCode) : CheckReports.Render(result, format, CliApp.Version, exitCode);
        if (args.Get("dependencies") is { } dependencies)
            AtomicFile.WriteText(dependencies, string.Concat(result.Inputs.Select(i => i + "\n")));
        if (args.Get("outputs") is { } outputs)
            AtomicFile.WriteText(outputs, string.Concat(result.Outputs.Select(o => o + "\n")));
        if (outPath is not null)
        {
            AtomicFile.WriteText(outPath, report);
            env.Out.Write(CheckReports.Text(result));
        }
        else env.Out.Write(report);
        return exitCode;
    }

    /// <summary><c>--timeout SECONDS</c> (every method) and <c>--timeout ID=SECONDS</c> (one method).</summary>
    static List<(string? Method, TimeSpan Budget)> Timeouts(ParsedArguments args)
    {
        var result = new List<(string?, TimeSpan)>();
        foreach (var item in args.GetAll("timeout"))
        {
            int eq = item.IndexOf('=');
            var method = eq < 0 ? null : item[..eq];
            var text = eq < 0 ? item : item[(eq + 1)..];
            if (method is not null && !Mechanist.Discovery.MethodDescriptor.IsValidId(method))
                throw new UsageException($"--timeout expects SECONDS or ID=SECONDS, and '{method}' is not a method ID.");
            if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                || !double.IsFinite(seconds) || seconds <= 0 || seconds > TimeoutRule.MaxSeconds)
                throw new UsageException($"--timeout expects a number of seconds above 0 and at most {TimeoutRule.MaxSeconds:0}{(method is null ? "" : $" for '{method}'")}, got '{text}'.");
            result.Add((method, TimeSpan.FromSeconds(seconds)));
        }
        return result;
    }

    /// <summary>Reports progress on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    sealed class SyncProgress(Action<string> write) : IProgress<string>
    {
        public void Report(string value) => write(value);
    }
}
