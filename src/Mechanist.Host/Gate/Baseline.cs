using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Host.Checks;
using Mechanist.Host.Configuration;
using Mechanist.IO;
using Mechanist.Validators;

namespace Mechanist.Host.Gate;

/// <summary>A finding as a baseline records it.</summary>
public sealed record BaselineFinding(string Id, string Severity, string? Validation, string? Decomposition, string? Behaviour, string? Site, int? Feature,
    double? Value, string Message)
{
    public string Key => MeasuredValue.KeyOf(Id, Validation, Decomposition, Behaviour, Site, Feature);
}

/// <summary>
/// <c>mechanist.baseline.json</c>: every value the validators measured on an accepted release and every finding it
/// had, the way <c>PublicAPI.Shipped.txt</c> records an accepted API. Written by <c>mechanist check --update-baseline</c>
/// beside the config, in a stable order, one entry per line, values to six significant digits, so a pull request
/// shows what a release changed. Later runs compare with it: SARIF <c>baselineState</c> and MECH5xxx regressions.
/// </summary>
public sealed record Baseline(string ConfigName, IReadOnlyList<MeasuredValue> Measurements, IReadOnlyList<BaselineFinding> Findings)
{
    public const string FormatName = "mechanist.baseline";
    public const int FormatVersion = 1;

    /// <summary>Rounds to the six significant digits a baseline keeps.</summary>
    public static double Round(double v) =>
        double.IsFinite(v) ? double.Parse(v.ToString("G6", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : v;

    /// <summary>The baseline of a run: its measurements and findings, without input errors or regressions (they are not accepted states).</summary>
    public static Baseline From(CheckResult result) => new(
        Path.GetFileName(result.Config.Path),
        result.Measurements.Select(m => m with { Value = Round(m.Value) })
            .OrderBy(m => (m.Check, m.Validation, m.Decomposition, m.Behaviour, m.Site, m.Feature), MeasuredValue.Order).ToList(),
        result.Findings.Where(f => f.Finding.Descriptor.Category != "Regression")
            .Select(f => new BaselineFinding(f.Id, (f.DemotedFrom ?? f.Severity).ToString().ToLowerInvariant(), f.Validation, f.Decomposition, f.Behaviour,
                f.Finding.Location.Site, f.Finding.Location.Feature, f.Finding.Value is double v ? Round(v) : null, f.Finding.Message))
            .OrderBy(f => (f.Id, f.Validation, f.Decomposition, f.Behaviour, f.Site, f.Feature), MeasuredValue.Order).ThenBy(f => f.Message, StringComparer.Ordinal).ToList());

    /// <summary>The file's text: stable order, one measurement or finding per line.</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        sb.Append("{\n");
        sb.Append($"  \"format\": \"{FormatName}\",\n");
        sb.Append($"  \"version\": {FormatVersion},\n");
        sb.Append($"  \"config\": {Quote(ConfigName)},\n");
        sb.Append("  \"measurements\": [");
        for (int i = 0; i < Measurements.Count; i++)
        {
            var m = Measurements[i];
            var o = new JsonObject { ["check"] = m.Check };
            Names(o, m.Validation, m.Decomposition, m.Behaviour, m.Site, m.Feature);
            o["value"] = Number(m.Value);
            sb.Append(i == 0 ? "\n" : ",\n").Append("    ").Append(o.ToJsonString(Compact));
        }
        sb.Append(Measurements.Count == 0 ? "],\n" : "\n  ],\n");
        sb.Append("  \"findings\": [");
        for (int i = 0; i < Findings.Count; i++)
        {
            var f = Findings[i];
            var o = new JsonObject { ["id"] = f.Id, ["severity"] = f.Severity };
            Names(o, f.Validation, f.Decomposition, f.Behaviour, f.Site, f.Feature);
            if (f.Value is double v) o["value"] = Number(v);
            o["message"] = f.Message;
            sb.Append(i == 0 ? "\n" : ",\n").Append("    ").Append(o.ToJsonString(Compact));
        }
        sb.Append(Findings.Count == 0 ? "]\n" : "\n  ]\n");
        sb.Append("}\n");
        return sb.ToString();
    }

    static readonly JsonSerializerOptions Compact = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static string Quote(string s) => JsonValue.Create(s).ToJsonString(Compact);

    static void Names(JsonObject o, string? validation, string? decomposition, string? behaviour, string? site, int? feature)
    {
        if (validation is not null) o["validation"] = validation;
        if (decomposition is not null) o["decomposition"] = decomposition;
        if (behaviour is not null) o["behaviour"] = behaviour;
        if (site is not null) o["site"] = site;
        if (feature is not null) o["feature"] = feature;
    }

    static JsonNode Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture));

    public void Write(string path) => AtomicFile.WriteText(path, ToText());

    /// <summary>
    /// Reads a baseline written for the config <paramref name="configName"/>. A corrupt file, or one written for
    /// another config, is an input error naming the file (the caller places it at the config's <c>baseline</c>).
    /// </summary>
    public static Baseline Read(string path, string configName)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw Bad(path, "expected a JSON object");
        }
        catch (JsonException e)
        {
            throw Bad(path, $"not valid JSON ({e.Message.Split(" LineNumber:")[0].TrimEnd('.')})");
        }
        if (root["format"]?.GetValueKind() != JsonValueKind.String || (string?)root["format"] != FormatName)
            throw Bad(path, $"'format' is not \"{FormatName}\"");
        if (root["version"]?.GetValueKind() != JsonValueKind.Number || (int)root["version"]! != FormatVersion)
            throw Bad(path, $"'version' must be {FormatVersion}");
        var config = root["config"]?.GetValueKind() == JsonValueKind.String ? (string)root["config"]! : throw Bad(path, "missing 'config'");
        if (config != configName)
            throw new MechanistInputException(
                $"baseline {path} was written for the config '{config}', not '{configName}'; write this config's baseline with 'mechanist check {configName} --update-baseline', or point 'baseline' at the right file.");
        var measurements = new List<MeasuredValue>();
        int i = 0;
        foreach (var node in Array(root, "measurements", path))
        {
            var o = node as JsonObject ?? throw Bad(path, $"measurements[{i}] is not an object");
            measurements.Add(new MeasuredValue(Text(o, "check", path, $"measurements[{i}]")!, Text(o, "validation", path, $"measurements[{i}]", true),
                Text(o, "decomposition", path, $"measurements[{i}]", true), Text(o, "behaviour", path, $"measurements[{i}]", true),
                Text(o, "site", path, $"measurements[{i}]", true), Feature(o, path, $"measurements[{i}]"), Value(o, path, $"measurements[{i}]") ?? throw Bad(path, $"measurements[{i}] has no 'value'")));
            i++;
        }
        var findings = new List<BaselineFinding>();
        i = 0;
        foreach (var node in Array(root, "findings", path))
        {
            var o = node as JsonObject ?? throw Bad(path, $"findings[{i}] is not an object");
            var where = $"findings[{i}]";
            findings.Add(new BaselineFinding(Text(o, "id", path, where)!, Text(o, "severity", path, where)!, Text(o, "validation", path, where, true),
                Text(o, "decomposition", path, where, true), Text(o, "behaviour", path, where, true), Text(o, "site", path, where, true),
                Feature(o, path, where), Value(o, path, where), Text(o, "message", path, where)!));
            i++;
        }
        return new Baseline(config, measurements, findings);
    }

    static MechanistInputException Bad(string path, string why) =>
        new($"baseline {path} is corrupt: {why}; expected a file written by 'mechanist check --update-baseline'.");

    static JsonArray Array(JsonObject o, string key, string path) => o[key] as JsonArray ?? throw Bad(path, $"missing list '{key}'");

    static string? Text(JsonObject o, string key, string path, string where, bool optional = false)
    {
        if (o[key] is null) return optional ? null : throw Bad(path, $"{where} has no '{key}'");
        return o[key]!.GetValueKind() == JsonValueKind.String ? (string)o[key]! : throw Bad(path, $"{where}.{key} is not a string");
    }

    static int? Feature(JsonObject o, string path, string where)
    {
        if (o["feature"] is null) return null;
        return o["feature"] is JsonValue v && v.TryGetValue<int>(out var f) && f >= 0 ? f : throw Bad(path, $"{where}.feature is not a feature index");
    }

    static double? Value(JsonObject o, string path, string where)
    {
        if (o["value"] is not JsonValue v) return null;
        if (v.TryGetValue<double>(out var d)) return d;
        if (v.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && !double.IsFinite(parsed)) return parsed;
        throw Bad(path, $"{where}.value is not a number");
    }
}
