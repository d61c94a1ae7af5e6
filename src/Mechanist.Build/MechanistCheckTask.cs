using System.Globalization;
using System.Linq;
using System.IO;
using System.Text.RegularExpressions;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Mechanist.Build;

/// <summary>
/// Runs <c>mechanist check CONFIG</c> out of process, like the Csc task runs the compiler: the task only builds the
/// command line and reads the results. Every finding arrives as an MSBuild canonical line
/// (<c>FILE(LINE,COL): error MECH1001: …</c>) and is logged as an error or warning with its code and the config path,
/// so NoWarn and WarningsAsErrors apply to it (MSBuild's logging does that) and TreatWarningsAsErrors (the task does that,
/// like Csc). Suggestions (<c>info</c> lines) and the summary are
/// logged as messages. On success the stamp file is touched: it is the output the target's incremental check compares.
/// </summary>
public sealed class MechanistCheckTask : ToolTask
{
    /// <summary>Code logged when the tool fails without reporting a finding (not found, crashed, bad usage).</summary>
    public const string ToolFailedCode = "MECH0012";

    /// <summary>The check configuration (mechanist.json).</summary>
    [Required]
    public string Config { get; set; } = "";

    /// <summary>The model folder the item names, passed as <c>--model</c>; empty when the item is the config itself.</summary>
    public string? Model { get; set; }

    /// <summary>
    /// The mechanist program: an executable, or a <c>.dll</c> run with the dotnet host. Empty: found by
    /// <see cref="ToolResolver"/> (a local tool manifest's version first, then PATH, then <c>~/.dotnet/tools</c>).
    /// </summary>
    public string? Tool { get; set; }

    /// <summary>The project's folder: where a local tool manifest is looked for, and the tool's working directory.</summary>
    public string? ProjectDirectory { get; set; }

    /// <summary>Where harvested activations are kept between builds (<c>--cache</c>).</summary>
    public string? CacheFolder { get; set; }

    /// <summary>The list of files the check keeps for later runs (<c>--outputs</c>): the target's outputs next time.</summary>
    public string? OutputsFile { get; set; }

    /// <summary><c>all</c> or <c>new</c> (<c>--fail-on</c>): with new, only errors the baseline does not have fail the build.</summary>
    public string? FailOn { get; set; }

    /// <summary>The report file written by the check (<c>--out</c>).</summary>
    public string? ReportFile { get; set; }

    /// <summary>text|json|sarif|msbuild: the format of <see cref="ReportFile"/>.</summary>
    public string ReportFormat { get; set; } = "sarif";

    /// <summary>The list of files the check read (<c>--dependencies</c>): the target's inputs next time.</summary>
    public string? DependencyFile { get; set; }

    /// <summary>Touched when the check passes; a failed check leaves it alone so the next build runs it again.</summary>
    public string? StampFile { get; set; }

    public ITaskItem[] Plugins { get; set; } = [];

    /// <summary>Time budgets (<c>--timeout</c>): <c>SECONDS</c> for every method run, <c>ID=SECONDS</c> for one method.</summary>
    public string[] Timeouts { get; set; } = [];

    public string? Device { get; set; }

    public string? HelpUriBase { get; set; }

    /// <summary>
    /// The project's TreatWarningsAsErrors: MSBuild does not apply it to warnings logged by tasks, so the task does,
    /// as the Csc task does for the compiler (codes in <see cref="WarningsNotAsErrors"/> and <see cref="NoWarn"/> excepted).
    /// </summary>
    public bool TreatWarningsAsErrors { get; set; }

    public string? WarningsNotAsErrors { get; set; }

    /// <summary>Codes left as warnings for MSBuild to suppress (it turns NoWarn codes into messages).</summary>
    public string? NoWarn { get; set; }

    /// <summary>Extra arguments appended to the command line verbatim.</summary>
    public string? ExtraArguments { get; set; }

    (string Program, string? FirstArgument)? _resolved;

    protected override string ToolName => "mechanist";

    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.High;

    protected override MessageImportance StandardErrorLoggingImportance => MessageImportance.High;

    protected override string GenerateFullPathToTool() => Resolve().Program;

    /// <summary>The program to start and, for a .dll or a local tool, the argument the dotnet host takes first.</summary>
    (string Program, string? FirstArgument) Resolve()
    {
        if (_resolved is { } done) return done;
        var tool = ToolResolver.Resolve(Tool, string.IsNullOrEmpty(ProjectDirectory) ? Directory.GetCurrentDirectory() : ProjectDirectory!);
        Log.LogMessage(MessageImportance.Low, "mechanist: running {0}", tool.Source);
        _resolved = (tool.Program, tool.FirstArgument);
        return _resolved.Value;
    }

    /// <summary>The project's folder, so that <c>dotnet mechanist</c> finds the project's local tool manifest.</summary>
    protected override string? GetWorkingDirectory() =>
        string.IsNullOrEmpty(ProjectDirectory) ? base.GetWorkingDirectory() : ProjectDirectory;

    protected override string GenerateCommandLineCommands()
    {
        var b = new CommandLineBuilder();
        if (Resolve().FirstArgument is { } first) b.AppendFileNameIfNotNull(first);
        b.AppendSwitch("check");
        b.AppendFileNameIfNotNull(Config);
        if (!string.IsNullOrEmpty(Model)) b.AppendSwitchIfNotNull("--model ", Model);
        if (!string.IsNullOrEmpty(ReportFile))
        {
            b.AppendSwitchIfNotNull("--format ", ReportFormat);
            b.AppendSwitchIfNotNull("--out ", ReportFile);
        }
        else b.AppendSwitch("--format msbuild");
        if (!string.IsNullOrEmpty(DependencyFile)) b.AppendSwitchIfNotNull("--dependencies ", DependencyFile);
        if (!string.IsNullOrEmpty(OutputsFile)) b.AppendSwitchIfNotNull("--outputs ", OutputsFile);
        if (!string.IsNullOrEmpty(CacheFolder)) b.AppendSwitchIfNotNull("--cache ", CacheFolder);
        if (!string.IsNullOrEmpty(FailOn)) b.AppendSwitchIfNotNull("--fail-on ", FailOn);
        foreach (var p in Plugins) b.AppendSwitchIfNotNull("--plugins ", p.GetMetadata("FullPath"));
        foreach (var t in Timeouts.Where(t => !string.IsNullOrWhiteSpace(t))) b.AppendSwitchIfNotNull("--timeout ", t.Trim());
        if (!string.IsNullOrEmpty(Device)) b.AppendSwitchIfNotNull("--device ", Device);
        if (!string.IsNullOrEmpty(HelpUriBase)) b.AppendSwitchIfNotNull("--help-uri-base ", HelpUriBase);
        if (!string.IsNullOrEmpty(ExtraArguments)) b.AppendTextUnquoted(" " + ExtraArguments);
        return b.ToString();
    }

    bool _sawTextOutput;
    string? _lastOutput;

    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        if (string.IsNullOrWhiteSpace(singleLine)) return;
        _sawTextOutput = true;
        _lastOutput = singleLine;
        var m = Canonical.Match(singleLine);
        if (!m.Success)
        {
            Log.LogMessageFromText(singleLine, messageImportance);
            return;
        }
        string file = m.Groups["file"].Value, code = m.Groups["code"].Value, text = m.Groups["text"].Value, category = m.Groups["category"].Value;
        int line = int.Parse(m.Groups["line"].Value, CultureInfo.InvariantCulture), column = int.Parse(m.Groups["column"].Value, CultureInfo.InvariantCulture);
        if (category == "error" || (category == "warning" && TreatWarningsAsErrors && !Listed(WarningsNotAsErrors, code) && !Listed(NoWarn, code)))
            Log.LogError(null, code, null, file, line, column, 0, 0, "{0}", text);
        else if (category == "warning")
            Log.LogWarning(null, code, null, file, line, column, 0, 0, "{0}", text);
        else
            Log.LogMessage(MessageImportance.High, "{0}", singleLine); // a suggestion ("info")
    }

    /// <summary>The CLI's findings: <c>FILE(LINE,COL): error|warning|info CODE: text</c>.</summary>
    static readonly Regex Canonical = new(@"^(?<file>.+)\((?<line>\d+),(?<column>\d+)\): (?<category>error|warning|info) (?<code>[A-Za-z]+\d+): (?<text>.*)$");

    static bool Listed(string? codes, string code) =>
        codes is not null && codes.Split(';', ',', ' ').Any(c => string.Equals(c.Trim(), code, System.StringComparison.OrdinalIgnoreCase));

    public override bool Execute()
    {
        // What the tool must write this run: a stale report or dependency list from an earlier run must not count.
        var expected = new[] { ReportFile, DependencyFile, OutputsFile }.Where(f => !string.IsNullOrEmpty(f)).Select(f => Path.GetFullPath(f!)).ToList();
        foreach (var file in expected.Concat(new[] { StampFile }.Where(f => !string.IsNullOrEmpty(f)).Select(f => Path.GetFullPath(f!))))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            if (file != StampFile && File.Exists(file)) File.Delete(file);
        }
        bool ok = base.Execute();
        if (ok && ExitCode == 0 && !Log.HasLoggedErrors)
        {
            // A tool that exits 0 without its report or dependency list did not check anything this build can trust.
            var missing = expected.Where(f => !File.Exists(f)).ToList();
            if (missing.Count > 0)
                Log.LogError(null, ToolFailedCode, null, Config, 1, 1, 0, 0,
                    "mechanist check exited with code 0 but did not write {0}; the check cannot be trusted (is the tool a mechanist that knows --out, --dependencies and --outputs?)",
                    string.Join(" and ", missing));
        }
        if (ok && ExitCode == 0 && !Log.HasLoggedErrors && !string.IsNullOrEmpty(StampFile))
            File.WriteAllText(StampFile, Config + "\n");
        return ok && !Log.HasLoggedErrors;
    }

    /// <summary>A non-zero exit without a logged error gets one error with a code (never MSB6006 without context).</summary>
    protected override bool HandleTaskExecutionErrors()
    {
        if (!Log.HasLoggedErrors)
            Log.LogError(null, ToolFailedCode, null, Config, 1, 1, 0, 0,
                "mechanist check exited with code {0} without reporting a finding{1}. Is the mechanist tool installed (dotnet tool install Mechanist.Cli), or MechanistToolPath set to it?",
                ExitCode, _sawTextOutput ? $" (last output: {_lastOutput})" : "");
        return false;
    }
}
