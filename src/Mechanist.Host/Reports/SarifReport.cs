using System.Text;
using System.Text.Json.Nodes;
using Mechanist.Host.Gate;
using Mechanist.Validators;

namespace Mechanist.Host.Reports;

/// <summary>
/// SARIF 2.1.0 (OASIS) for code-scanning tools: one run whose driver lists a rule for every check that ran (ID,
/// name, title, help URI, default level, category, metric definition), the configured severity overrides, and one
/// result per finding. A result's location is the config file at the line of the decomposition or validation it
/// came from (relative to the base ID <c>CONFIGROOT</c>); the model folder is a related location; site, feature,
/// value, threshold and the metric's definition are in its properties.
/// </summary>
public static class SarifReport
{
    public const string SchemaUri = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
    const string ConfigRoot = "CONFIGROOT";

    public static JsonObject Create(CheckResult result, string toolVersion, int exitCode)
    {
        var configDir = Path.GetDirectoryName(result.Config.Path)!;
        var rules = result.Rules.ToList();
        var ruleIndex = rules.Select((r, i) => (r.Id, i)).ToDictionary(x => x.Id, x => x.i);

        var artifacts = new JsonArray
        {
            new JsonObject { ["location"] = Location(result.Config.Path, configDir), ["roles"] = new JsonArray("userSpecifiedConfiguration") },
        };
        if (result.Model is not null)
            artifacts.Add(new JsonObject { ["location"] = Location(result.Model, configDir), ["roles"] = new JsonArray("analysisTarget", "directory") });

        var overrides = new JsonArray();
        foreach (var rule in result.Config.Checks.Where(c => c.Severity is not null && ruleIndex.ContainsKey(c.Id)))
            overrides.Add(new JsonObject
            {
                ["descriptor"] = new JsonObject { ["id"] = rule.Id, ["index"] = ruleIndex[rule.Id] },
                ["configuration"] = new JsonObject { ["level"] = Level(rule.Severity!.Value), ["enabled"] = rule.Severity != Severity.None },
            });
        var invocation = new JsonObject
        {
            ["executionSuccessful"] = true,
            ["exitCode"] = exitCode,
            ["workingDirectory"] = new JsonObject { ["uri"] = DirectoryUri(Environment.CurrentDirectory) },
        };
        if (overrides.Count > 0) invocation["ruleConfigurationOverrides"] = overrides;
        // What methods logged while they ran (a check that was skipped says why here).
        if (result.Log.Count > 0)
            invocation["toolExecutionNotifications"] = new JsonArray(result.Log.Select(l => (JsonNode?)new JsonObject
            {
                ["level"] = l.Level == "info" ? "note" : l.Level,
                ["message"] = new JsonObject { ["text"] = $"{l.Source}: {l.Message}" },
            }).ToArray());

        var results = result.Findings.Select(f => (JsonNode?)Result(f, result, ruleIndex[f.Id], configDir)).ToList();
        foreach (var f in result.AbsentFindings)
        {
            // A finding of the baseline this run no longer has: no longer a problem (kind pass, level none).
            var node = Result(f, result, ruleIndex[f.Id], configDir);
            node["kind"] = "pass";
            node["level"] = "none";
            results.Add(node);
        }
        var runProperties = new JsonObject();
        if (result.Attributions.Count > 0) runProperties["attributions"] = new JsonArray(result.Attributions.Select(a => (JsonNode?)a.DeepClone()).ToArray());
        if (result.Harvests.Count > 0)
            runProperties["harvests"] = new JsonArray(result.Harvests.Select(h => (JsonNode?)new JsonObject
            {
                ["decomposition"] = h.Decomposition, ["site"] = h.Site, ["cacheKey"] = h.Key, ["rows"] = h.Rows, ["reused"] = h.Reused,
            }).ToArray());
        if (result.BaselinePath is not null)
            runProperties["baseline"] = new JsonObject
            {
                ["uri"] = new Uri(result.BaselinePath).AbsoluteUri, ["updated"] = result.BaselineUpdated, ["failOn"] = result.FailOn,
            };

        var run = new JsonObject
        {
            ["tool"] = new JsonObject
            {
                ["driver"] = new JsonObject
                {
                    ["name"] = "mechanist",
                    ["version"] = toolVersion,
                    ["semanticVersion"] = toolVersion,
                    ["informationUri"] = result.ToolInformationUri,
                    ["rules"] = new JsonArray(rules.Select(r => (JsonNode?)Rule(r, result.HelpUris[r.Id])).ToArray()),
                },
            },
            ["invocations"] = new JsonArray(invocation),
            ["originalUriBaseIds"] = new JsonObject { [ConfigRoot] = new JsonObject { ["uri"] = DirectoryUri(configDir) } },
            ["artifacts"] = artifacts,
            ["columnKind"] = "utf16CodeUnits",
            ["results"] = new JsonArray(results.ToArray()),
        };
        if (runProperties.Count > 0) run["properties"] = runProperties;
        return new JsonObject
        {
            ["$schema"] = SchemaUri,
            ["version"] = "2.1.0",
            ["runs"] = new JsonArray(run),
        };
    }

    static JsonObject Rule(CheckDescriptor r, string helpUri)
    {
        var properties = new JsonObject { ["category"] = r.Category };
        if (r.DefaultThreshold is not null) properties["defaultThreshold"] = CheckReports.Number(r.DefaultThreshold);
        if (r.MetricDefinition.Length > 0) properties["metricDefinition"] = r.MetricDefinition;
        return new JsonObject
        {
            ["id"] = r.Id,
            ["name"] = PascalName(r.Title),
            ["shortDescription"] = new JsonObject { ["text"] = r.Title },
            ["fullDescription"] = new JsonObject { ["text"] = r.MetricDefinition.Length > 0 ? $"{r.Title}. Metric: {r.MetricDefinition}." : r.Title + "." },
            ["helpUri"] = helpUri,
            ["help"] = new JsonObject { ["text"] = $"See {helpUri}" },
            ["defaultConfiguration"] = new JsonObject { ["level"] = Level(r.DefaultSeverity), ["enabled"] = r.DefaultSeverity != Severity.None },
            ["properties"] = properties,
        };
    }

    static JsonObject Result(ReportedFinding f, CheckResult result, int ruleIndex, string configDir)
    {
        var location = new JsonObject
        {
            ["physicalLocation"] = new JsonObject
            {
                ["artifactLocation"] = Location(result.Config.Path, configDir, artifactIndex: 0),
                ["region"] = new JsonObject { ["startLine"] = f.Line, ["startColumn"] = f.Column },
            },
        };
        var logical = new JsonArray();
        if (f.Decomposition is not null) logical.Add(new JsonObject { ["name"] = f.Decomposition, ["kind"] = "decomposition" });
        if (f.Finding.Location.Site is not null) logical.Add(new JsonObject { ["name"] = f.Finding.Location.Site, ["kind"] = "hookSite" });
        if (logical.Count > 0) location["logicalLocations"] = logical;

        var properties = new JsonObject();
        void Put(string key, JsonNode? value) { if (value is not null) properties[key] = value; }
        Put("site", f.Finding.Location.Site);
        Put("feature", f.Finding.Location.Feature);
        Put("decomposition", f.Decomposition);
        Put("validation", f.Validation);
        Put("behaviour", f.Behaviour);
        Put("demotedFrom", f.DemotedFrom is { } demoted ? Level(demoted) : null);
        Put("method", f.Finding.Location.Method);
        Put("value", CheckReports.Number(f.Finding.Value));
        Put("threshold", CheckReports.Number(f.Finding.Threshold));
        Put("metricDefinition", CheckReports.NullIfEmpty(f.Finding.Descriptor.MetricDefinition));
        Put("model", result.Model);

        var node = new JsonObject
        {
            ["ruleId"] = f.Id,
            ["ruleIndex"] = ruleIndex,
            ["level"] = Level(f.Severity),
            ["message"] = new JsonObject { ["text"] = f.Finding.Message },
            ["locations"] = new JsonArray(location),
        };
        if (f.BaselineState is { } state) node["baselineState"] = state;
        var related = new JsonArray();
        if (result.Model is not null)
            related.Add(new JsonObject
            {
                ["id"] = 1,
                ["physicalLocation"] = new JsonObject { ["artifactLocation"] = Location(result.Model, configDir, artifactIndex: 1) },
                ["message"] = new JsonObject { ["text"] = "model" },
            });
        if (f.Decomposition is not null && result.DecompositionFolders.TryGetValue(f.Decomposition, out var folder))
            related.Add(new JsonObject
            {
                ["id"] = related.Count + 1,
                ["physicalLocation"] = new JsonObject { ["artifactLocation"] = Location(folder, configDir) },
                ["message"] = new JsonObject { ["text"] = $"decomposition '{f.Decomposition}'" },
            });
        if (related.Count > 0) node["relatedLocations"] = related;
        if (properties.Count > 0) node["properties"] = properties;
        return node;
    }

    /// <summary>error → error, warning → warning, suggestion → note, none → none.</summary>
    public static string Level(Severity severity) => severity switch
    {
        Severity.Error => "error",
        Severity.Warning => "warning",
        Severity.Suggestion => "note",
        _ => "none",
    };

    /// <summary>A path under the config's folder relative to <c>CONFIGROOT</c>; anything else as an absolute file URI.</summary>
    static JsonObject Location(string path, string configDir, int? artifactIndex = null)
    {
        var relative = Path.GetRelativePath(configDir, path);
        var o = relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative)
            ? new JsonObject { ["uri"] = new Uri(path).AbsoluteUri }
            : new JsonObject
            {
                ["uri"] = string.Join('/', relative.Split(Path.DirectorySeparatorChar).Select(Uri.EscapeDataString)),
                ["uriBaseId"] = ConfigRoot,
            };
        if (artifactIndex is not null) o["index"] = artifactIndex;
        return o;
    }

    static string DirectoryUri(string directory)
    {
        var uri = new Uri(Path.GetFullPath(directory)).AbsoluteUri;
        return uri.EndsWith('/') ? uri : uri + "/";
    }

    /// <summary>"Explained variance below threshold" → "ExplainedVarianceBelowThreshold".</summary>
    static string PascalName(string title)
    {
        var sb = new StringBuilder();
        foreach (var word in title.Split(' ', '-', '_', '/', '(', ')', ',', '.', ':').Where(w => w.Length > 0))
            sb.Append(char.ToUpperInvariant(word[0])).Append(word[1..]);
        return sb.ToString();
    }
}
