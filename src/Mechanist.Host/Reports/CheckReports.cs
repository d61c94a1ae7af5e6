using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Host.Gate;
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
        $"{file}({f.Line},{f.Column}): {Category(f.Severity)} {f.Id}: {f.Finding.Message}{Where(f)}{Baseline(f)}";

    /// <summary>How the finding compares with the baseline, when it is not new: <c> (in the baseline; an error there, not failing: --fail-on new)</c>.</summary>
    static string Baseline(ReportedFinding f) => f.BaselineState switch
    {
        "unchanged" or "updated" when f.DemotedFrom is not null => $" (in the baseline{(f.BaselineState == "updated" ? " with another value" : "")}; an error that does not fail the check under --fail-on new)",
        "unchanged" => " (in the baseline)",
        "updated" => " (in the baseline with another value)",
        _ => "",
    };

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
        if (f.Behaviour is not null) parts.Add($"behaviour '{f.Behaviour}'");
        if (f.Finding.Location.Site is not null) parts.Add($"site {f.Finding.Location.Site}");
        if (f.Finding.Location.Feature is not null) parts.Add($"feature {f.Finding.Location.Feature}");
        if (f.Finding.Location.Method is not null) parts.Add($"method {f.Finding.Location.Method}");
        return parts.Count == 0 ? "" : $" [{string.Join(", ", parts)}]";
    }

    public static string Summary(CheckResult result)
    {
        int errors = result.Count(Severity.Error), warnings = result.Count(Severity.Warning), suggestions = result.Count(Severity.Suggestion);
        var baseline = "";
        if (result.BaselinePath is not null)
        {
            int fresh = result.Findings.Count(f => f.BaselineState == "new");
            int kept = result.Findings.Count(f => f.BaselineState is "unchanged" or "updated");
            baseline = $"; baseline {Path.GetFileName(result.BaselinePath)}{(result.BaselineUpdated ? " written" : "")}: {fresh} new, {kept} known, {result.AbsentFindings.Count} gone" +
                       (result.FailOn == "new" ? ", failing on new errors only" : "");
        }
        return $"mechanist check {result.Config.Path}: {Plural(errors, "error")}, {Plural(warnings, "warning")}, {Plural(suggestions, "suggestion")} " +
               $"({Plural(result.Config.Decompositions.Count, "decomposition")}, {Plural(result.Config.Validations.Count, "validation")}, " +
               $"{Plural(result.Config.Attributions.Count, "attribution")}, {result.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s{baseline})";
    }

    /// <summary>
    /// What the run did besides findings, one line each: harvests (and whether the cache had them), attributions, and
    /// what methods logged (a check that was skipped says why here).
    /// </summary>
    public static string Notes(CheckResult result)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        foreach (var h in result.Harvests)
            sb.Append($"mechanist check: {(h.Reused ? "reused cached" : "harvested")} activations of '{h.Decomposition}' at {h.Site}: {h.Rows} rows in {h.Seconds.ToString("0.###", inv)} s (cache entry {h.Key})\n");
        foreach (var a in result.Attributions)
        {
            var error = a["completeness_error"] is { } e ? $", completeness error {e}" : "";
            var top = a["top"]!.AsArray().Take(3).Select(t => $"{t!["unit"]} {FormatScore(t["mean_score"])}");
            sb.Append($"mechanist check: attribution {a["method"]} of behaviour '{a["behaviour"]}': {a["metric"]}{error}; top: {string.Join(", ", top)}\n");
        }
        foreach (var l in result.Log)
            sb.Append($"mechanist check: {l.Level}: {l.Source}: {l.Message}\n");
        return sb.ToString();
    }

    static string FormatScore(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d) ? d.ToString("0.####", CultureInfo.InvariantCulture) : n?.ToJsonString() ?? "";

    static string Plural(int n, string word) => $"{n} {word}{(n == 1 ? "" : "s")}";

    public static string Text(CheckResult result) => Canonical(result) + Notes(result) + Summary(result) + "\n";

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
        ["baseline"] = result.BaselinePath is null ? null : new JsonObject
        {
            ["path"] = result.BaselinePath, ["updated"] = result.BaselineUpdated, ["fail_on"] = result.FailOn,
        },
        ["findings"] = new JsonArray(result.Findings.Select(f => (JsonNode?)FindingJson(result, f)).ToArray()),
        ["absent_findings"] = new JsonArray(result.AbsentFindings.Select(f => (JsonNode?)FindingJson(result, f)).ToArray()),
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
        ["measurements"] = new JsonArray(result.Measurements.Select(m => (JsonNode?)new JsonObject
        {
            ["check"] = m.Check, ["validation"] = m.Validation, ["decomposition"] = m.Decomposition, ["behaviour"] = m.Behaviour,
            ["site"] = m.Site, ["feature"] = m.Feature, ["value"] = Number(m.Value),
        }).ToArray()),
        ["attributions"] = new JsonArray(result.Attributions.Select(a => (JsonNode?)a.DeepClone()).ToArray()),
        ["harvests"] = new JsonArray(result.Harvests.Select(h => (JsonNode?)new JsonObject
        {
            ["decomposition"] = h.Decomposition, ["site"] = h.Site, ["cache_key"] = h.Key, ["rows"] = h.Rows, ["reused"] = h.Reused,
            ["seconds"] = Math.Round(h.Seconds, 3),
        }).ToArray()),
        ["runs"] = new JsonArray(result.Runs.Select(r => (JsonNode?)new JsonObject
        {
            ["kind"] = r.Kind, ["method"] = r.Method, ["decomposition"] = r.Decomposition, ["behaviour"] = r.Behaviour, ["seconds"] = Math.Round(r.Seconds, 3),
        }).ToArray()),
        ["log"] = new JsonArray(result.Log.Select(l => (JsonNode?)new JsonObject { ["level"] = l.Level, ["source"] = l.Source, ["message"] = l.Message }).ToArray()),
        ["inputs"] = new JsonArray(result.Inputs.Select(i => (JsonNode?)i).ToArray()),
        ["outputs"] = new JsonArray(result.Outputs.Select(i => (JsonNode?)i).ToArray()),
    };

    static JsonObject FindingJson(CheckResult result, ReportedFinding f) => new()
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
            ["behaviour"] = f.Behaviour,
            ["baseline_state"] = f.BaselineState,
            ["demoted_from"] = f.DemotedFrom?.ToString().ToLowerInvariant(),
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
