using System.Globalization;
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
    /// The mechanist program: an executable, or a <c>.dll</c> run with the dotnet host. Empty: <c>mechanist</c> on the
    /// PATH, then <c>~/.dotnet/tools/mechanist</c>, then <c>dotnet mechanist</c> (a local tool).
    /// </summary>
    public string? Tool { get; set; }

    /// <summary>The report file written by the check (<c>--out</c>).</summary>
    public string? ReportFile { get; set; }

    /// <summary>text|json|sarif|msbuild: the format of <see cref="ReportFile"/>.</summary>
    public string ReportFormat { get; set; } = "sarif";

    /// <summary>The list of files the check read (<c>--dependencies</c>): the target's inputs next time.</summary>
    public string? DependencyFile { get; set; }

    /// <summary>Touched when the check passes; a failed check leaves it alone so the next build runs it again.</summary>
    public string? StampFile { get; set; }

    public ITaskItem[] Plugins { get; set; } = [];

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
        (string, string?) result;
        if (!string.IsNullOrEmpty(Tool))
        {
            var full = Path.GetFullPath(Tool);
            result = full.EndsWith(".dll", System.StringComparison.OrdinalIgnoreCase) ? (DotnetHost(), full) : (full, null);
        }
        else result = FindOnPath() is { } found ? (found, null) : (DotnetHost(), "mechanist"); // dotnet mechanist: a local tool
        _resolved = result;
        return result;
    }

    static string? FindOnPath()
    {
        foreach (var name in new[] { "mechanist", "mechanist.exe" })
        {
            foreach (var dir in (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            {
                if (dir.Length == 0) continue;
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
            var home = System.Environment.GetEnvironmentVariable("HOME") ?? System.Environment.GetEnvironmentVariable("USERPROFILE");
            if (home is not null && File.Exists(Path.Combine(home, ".dotnet", "tools", name))) return Path.Combine(home, ".dotnet", "tools", name);
        }
        return null;
    }

    static string DotnetHost()
    {
        var host = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host! : "dotnet";
    }

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
        foreach (var p in Plugins) b.AppendSwitchIfNotNull("--plugins ", p.GetMetadata("FullPath"));
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
        foreach (var file in new[] { ReportFile, DependencyFile, StampFile })
            if (!string.IsNullOrEmpty(file)) Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        bool ok = base.Execute();
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
