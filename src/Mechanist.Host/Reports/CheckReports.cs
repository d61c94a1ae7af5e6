using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Host.Checking;
using Mechanist.Host.Configuration;
using Mechanist.Validators;

namespace Mechanist.Host.Reports;

/// <summary>
/// The reports of a check run: MSBuild canonical lines (<c>FILE(LINE,COL): error MECH1001: …</c>), text (the same
/// lines and a summary), JSON, and SARIF 2.1.0 (<see cref="SarifReport"/>).
/// </summary>
public static class CheckReports
{
    public static readonly string[] Formats = ["text", "json", "sarif", "msbuild"];

    public static string Render(CheckResult result, string format, string toolVersion, int exitCode) => format switch
    {
        "text" => Text(result),
        "msbuild" => Canonical(result),
        "json" => Json(result, toolVersion, exitCode).ToJsonString(Indented) + "\n",
        "sarif" => SarifReport.Create(result, toolVersion, exitCode).ToJsonString(Indented) + "\n",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown report format"),
    };

    /// <summary>Indented, and without escaping quotes and non-ASCII text that JSON allows as they are.</summary>
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// One MSBuild canonical line per finding. MSBuild knows the categories error and warning; a suggestion is
    /// written as <c>info</c>, which MSBuild shows as a message.
    /// </summary>
    public static string Canonical(CheckResult result)
    {
        var sb = new StringBuilder();
        foreach (var f in result.Findings) sb.Append(CanonicalLine(result.Config.Path, f)).Append('\n');
        return sb.ToString();
    }

    public static string CanonicalLine(string file, ReportedFinding f) =>
        $"{file}({f.Line},{f.Column}): {Category(f.Severity)} {f.Id}: {f.Finding.Message}{Where(f)}";

    public static string Category(Severity severity) => severity switch
    {
        Severity.Error => "error",
        Severity.Warning => "warning",
        _ => "info",
    };

    /// <summary>The names that place a finding: <c> [decomposition 'resid', site blocks.0.hook_resid_post, feature 3]</c>.</summary>
    static string Where(ReportedFinding f)
    {
        var parts = new List<string>();
        if (f.Decomposition is not null) parts.Add($"decomposition '{f.Decomposition}'");
        if (f.Finding.Location.Site is not null) parts.Add($"site {f.Finding.Location.Site}");
        if (f.Finding.Location.Feature is not null) parts.Add($"feature {f.Finding.Location.Feature}");
        if (f.Finding.Location.Method is not null) parts.Add($"method {f.Finding.Location.Method}");
        return parts.Count == 0 ? "" : $" [{string.Join(", ", parts)}]";
    }

    public static string Summary(CheckResult result)
    {
        int errors = result.Count(Severity.Error), warnings = result.Count(Severity.Warning), suggestions = result.Count(Severity.Suggestion);
        return $"mechanist check {result.Config.Path}: {Plural(errors, "error")}, {Plural(warnings, "warning")}, {Plural(suggestions, "suggestion")} " +
               $"({Plural(result.Config.Decompositions.Count, "decomposition")}, {Plural(result.Config.Validations.Count, "validation")}, " +
               $"{result.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s)";
    }

    static string Plural(int n, string word) => $"{n} {word}{(n == 1 ? "" : "s")}";

    public static string Text(CheckResult result) => Canonical(result) + Summary(result) + "\n";

    /// <summary>The problems of an invalid configuration, one canonical line each.</summary>
    public static string Canonical(CheckInputException e) => string.Concat(e.Problems.Select(p => p.ToCanonical() + "\n"));

    public static JsonObject Json(CheckResult result, string toolVersion, int exitCode) => new()
    {
        ["tool"] = "mechanist",
        ["version"] = toolVersion,
        ["config"] = result.Config.Path,
        ["model"] = result.Model,
        ["exit_code"] = exitCode,
        ["elapsed_seconds"] = Math.Round(result.Elapsed.TotalSeconds, 3),
        ["summary"] = new JsonObject
        {
            ["errors"] = result.Count(Severity.Error),
            ["warnings"] = result.Count(Severity.Warning),
            ["suggestions"] = result.Count(Severity.Suggestion),
        },
        ["findings"] = new JsonArray(result.Findings.Select(f => (JsonNode?)new JsonObject
        {
            ["id"] = f.Id,
            ["severity"] = f.Severity.ToString().ToLowerInvariant(),
            ["message"] = f.Finding.Message,
            ["file"] = result.Config.Path,
            ["line"] = f.Line,
            ["column"] = f.Column,
            ["decomposition"] = f.Decomposition,
            ["validation"] = f.Validation,
            ["site"] = f.Finding.Location.Site,
            ["feature"] = f.Finding.Location.Feature,
            ["method"] = f.Finding.Location.Method,
            ["value"] = Number(f.Finding.Value),
            ["threshold"] = Number(f.Finding.Threshold),
            ["metric_definition"] = NullIfEmpty(f.Finding.Descriptor.MetricDefinition),
            ["help"] = result.HelpUris.GetValueOrDefault(f.Id),
        }).ToArray()),
        ["rules"] = new JsonArray(result.Rules.Select(r => (JsonNode?)new JsonObject
        {
            ["id"] = r.Id,
            ["title"] = r.Title,
            ["category"] = r.Category,
            ["default_severity"] = r.DefaultSeverity.ToString().ToLowerInvariant(),
            ["default_threshold"] = Number(r.DefaultThreshold),
            ["metric_definition"] = NullIfEmpty(r.MetricDefinition),
            ["help"] = result.HelpUris[r.Id],
        }).ToArray()),
        ["inputs"] = new JsonArray(result.Inputs.Select(i => (JsonNode?)i).ToArray()),
    };

    /// <summary>JSON has no NaN or infinity: such values are written as strings ("NaN", "Infinity", "-Infinity").</summary>
    internal static JsonNode? Number(double? value) => value switch
    {
        null => null,
        double v when double.IsFinite(v) => JsonValue.Create(v),
        double v => JsonValue.Create(v.ToString(CultureInfo.InvariantCulture)),
    };

    internal static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
}
