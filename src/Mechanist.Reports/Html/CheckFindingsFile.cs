using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mechanist.Reports.Html;

/// <summary>Reads the findings of a <c>mechanist check --format json</c> report back, for the cards of a dashboard (<c>report --check</c>).</summary>
public static class CheckFindingsFile
{
    /// <summary>The findings of a <c>mechanist check --format json</c> report about the decomposition called <paramref name="name"/>.</summary>
    public static IReadOnlyList<(FindingView Finding, int? Feature)> Read(string path, string name)
    {
        if (!File.Exists(path)) throw new MechanistInputException($"--check {path}: file not found.");
        JsonObject report;
        try
        {
            report = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new MechanistInputException($"--check {path}: expected the JSON object 'mechanist check --format json' writes.");
        }
        catch (JsonException e)
        {
            throw new MechanistInputException($"--check {path}: not valid JSON ({e.Message}).");
        }
        if (report["findings"] is not JsonArray all)
            throw new MechanistInputException($"--check {path}: no 'findings' list; expected the report of 'mechanist check --format json'.");
        var names = all.OfType<JsonObject>().Select(f => (string?)f["decomposition"]).OfType<string>().Distinct().ToList();
        if (names.Count > 0 && !names.Contains(name))
            throw new MechanistInputException(
                $"--check {path}: no finding names the decomposition '{name}'; its findings name {string.Join(", ", names.Select(n => $"'{n}'"))} (choose with --name).");
        var titles = (report["rules"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(r => r["id"] is not null).GroupBy(r => (string)r["id"]!).ToDictionary(g => g.Key, g => (string?)g.First()["title"]);
        return all.OfType<JsonObject>().Where(f => (string?)f["decomposition"] == name).Select(f =>
        {
            var id = (string?)f["id"] ?? "?";
            var view = new FindingView(id, (string?)f["severity"] ?? "warning", (string?)f["message"] ?? "", titles.GetValueOrDefault(id),
                (string?)f["help"], (string?)f["baseline_state"], Number(f["value"]), Number(f["threshold"]));
            int? feature = f["feature"] is JsonValue v && v.TryGetValue<int>(out var i) ? i : null;
            return (view, feature);
        }).ToList();
    }

    static double? Number(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
}
