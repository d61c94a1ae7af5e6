using System.Text.Json.Nodes;

namespace Mechanist.Host.Tests;

/// <summary>
/// The family of <c>mechanist.json</c> documents the schema↔reader property runs over, generated from the JSON schema
/// itself: every object, property, array, enum and pattern the schema declares is generated (a new section added to
/// the schema is covered without touching this file), each value mostly of the declared kind and sometimes a wrong
/// one, each object sometimes with an unknown key, required keys sometimes missing, and <c>oneOf</c> alternatives
/// chosen the way the schema spells them (<c>required</c> keys in, <c>not</c>-required keys out). The value pools and
/// the strings tried for each pattern are below; a new pattern or value that the generic pools miss gets a line
/// here.
/// </summary>
public sealed class ConfigDocuments(JsonObject schema)
{
    /// <summary>A pool of values: ordinary ones, and edges (near misses, limits) tried more often in noisier documents.</summary>
    sealed record Pool(string[] Ordinary, string[] Edges);

    /// <summary>
    /// Strings to try for a <c>pattern</c>. (The schema ends patterns with <c>(?![\s\S])</c>, not <c>$</c>: .NET's
    /// <c>$</c>, which JsonSchema.Net uses, also matches before a final newline.)
    /// </summary>
    static readonly Dictionary<string, Pool> StringsByPattern = new()
    {
        ["^(auto|cpu|cuda|cuda:[0-9]{1,9})(?![\\s\\S])"] = new(["auto", "cpu", "cuda", "cuda:0", "cuda:12"],
            ["cuda:007", "cuda:999999999", "cuda:99999999999", "cuda:", "cuda:-1", "cuda: 1", "cuda:+1", "cuda:1 ", "CPU", "gpu", "cpu\n", "cuda:1\n"]),
        // Check IDs: Mechanist's own, and a plugin's with a prefix of its own.
        ["^(MECH[0-9]{4}|(?![Mm][Ee][Cc][Hh][0-9])[A-Za-z]{2,12}[0-9]{1,8})(?![\\s\\S])"] = new(["MECH1001", "MECH0005", "MECH9999", "ACME0001", "SA1302", "xUnit1004"],
            ["MECH123", "MECH12345", "mech1001", "Mech1001", "MECHabcd", "MECH１２３４", " MECH1001", "MECH1001\n", "A1", "ACME", "ACMEACMEACMEA1", "ACME123456789", "ACME0001\n", "AC-1"]),
        // Time budgets: "default" or a method ID.
        ["^(default|[a-z][a-z0-9._-]*)(?![\\s\\S])"] = new(["default", "pca", "causal.ablation", "acme.slow-probe"], ["Default", "", "1pca", "pca\n", "a b", "PCA"]),
    };

    /// <summary>Strings for any other string value (enum values are added where the schema has an enum).</summary>
    static readonly Pool Strings = new(["a", "pca", "decomposition.quality", "blocks.0.hook_resid_post", "../data/acts.safetensors", "/abs/path", "ü é"],
        ["", " ", "none", "error", "MECH1001", "cpu", "\t"]);

    /// <summary>Integer texts: in range, at the edges of 32 bits, negative, integral decimals, fractions.</summary>
    static readonly Pool Integers = new(["0", "1", "3", "42"], ["2147483647", "-1", "2147483648", "-2147483649", "1.0", "1e2", "-0", "1.5", "9223372036854775808"]);

    /// <summary>Number texts, including one past double's range (which a JSON number may be).</summary>
    static readonly Pool Numbers = new(["0", "0.9", "-1", "12"], ["1e308", "1E-5", "-0.0", "1e400", "-1e400"]);

    /// <summary>Values of the wrong kind for any position.</summary>
    static readonly string[] WrongValues = ["null", "true", "false", "0", "-1", "1.5", "\"\"", "\"x\"", "[]", "{}", "[1]", "{\"a\": 1}"];

    /// <summary>Keys that are in no schema (near misses of real keys, and odd ones).</summary>
    static readonly string[] UnknownKeys = ["modle", "Seed", "extra", "", "$schemas", "decomposition", "checks "];

    /// <summary>Names for the entries of a map (<c>additionalProperties</c> with a schema).</summary>
    static readonly Pool MapKeys = new(["resid", "loaded", "a b", "ü"], ["", "x/y", "~0"]);

    /// <summary>
    /// Chance, at each place of the document, of a value of the wrong kind, of an unknown key, of a required key
    /// dropped; four times that, of an edge value from a pool. Each document draws one level: a third of them none.
    /// </summary>
    static readonly double[] NoiseLevels = [0, 0.01, 0.04];

    double _noise;

    /// <summary>One document.</summary>
    public JsonNode? Document(Random rng)
    {
        _noise = NoiseLevels[rng.Next(NoiseLevels.Length)];
        return Value(schema, rng, depth: 0);
    }

    string Pick(Random rng, Pool pool) => rng.NextDouble() < 4 * _noise ? Pick(rng, pool.Edges) : Pick(rng, pool.Ordinary);

    JsonObject Resolve(JsonObject s)
    {
        while (s["$ref"] is JsonValue r && r.GetValue<string>() is var reference && reference.StartsWith("#/definitions/", StringComparison.Ordinal))
            s = (JsonObject)schema["definitions"]![reference["#/definitions/".Length..]]!;
        return s;
    }

    JsonNode? Value(JsonObject s, Random rng, int depth)
    {
        s = Resolve(s);
        if (rng.NextDouble() < _noise) return Raw(Pick(rng, WrongValues));
        if (s["oneOf"] is JsonArray oneOf)
        {
            // An alternative that only refers to definitions (checks' severity | checkRule) is generated as that one.
            var alternative = (JsonObject)oneOf[rng.Next(oneOf.Count)]!;
            if (s["type"] is null && s["properties"] is null) return Value(alternative, rng, depth);
            return Object(s, rng, depth, alternative);
        }
        var types = s["type"] switch
        {
            JsonValue v => [v.GetValue<string>()],
            JsonArray a => a.Select(t => t!.GetValue<string>()).ToArray(),
            _ => s["properties"] is not null || s["additionalProperties"] is not null ? ["object"] : s["items"] is not null ? ["array"] : ["string"],
        };
        return Pick(rng, types) switch
        {
            "object" => Object(s, rng, depth, null),
            "array" => Array(s, rng, depth),
            "string" => String(s, rng),
            "integer" => Raw(Pick(rng, Integers)),
            "number" => Raw(Pick(rng, Numbers)),
            "boolean" => JsonValue.Create(rng.Next(2) == 0),
            var other => throw new NotSupportedException($"schema type '{other}': teach ConfigDocuments to generate it"),
        };
    }

    JsonObject Object(JsonObject s, Random rng, int depth, JsonObject? alternative)
    {
        var result = new JsonObject();
        var required = (s["required"] as JsonArray)?.Select(n => n!.GetValue<string>()).ToHashSet() ?? [];
        var excluded = new HashSet<string>();
        if (alternative is not null)
        {
            foreach (var r in (alternative["required"] as JsonArray ?? [])) required.Add(r!.GetValue<string>());
            var not = alternative["not"] as JsonObject;
            foreach (var r in (not?["required"] as JsonArray ?? [])) excluded.Add(r!.GetValue<string>());
            foreach (var any in (not?["anyOf"] as JsonArray ?? []))
                foreach (var r in ((JsonObject)any!)["required"] as JsonArray ?? []) excluded.Add(r!.GetValue<string>());
        }
        if (s["properties"] is JsonObject properties)
        {
            foreach (var (key, property) in properties)
            {
                bool include = required.Contains(key) ? rng.NextDouble() >= _noise
                    : excluded.Contains(key) ? rng.NextDouble() < _noise
                    : rng.NextDouble() < 0.5;
                if (include && depth < 6) result[key] = Value((JsonObject)property!, rng, depth + 1);
            }
        }
        switch (s["additionalProperties"])
        {
            case JsonObject map:
                var names = (s["propertyNames"] as JsonObject)?["pattern"] is JsonValue p && StringsByPattern.TryGetValue(p.GetValue<string>(), out var keys) ? keys : MapKeys;
                int count = rng.Next(4);
                for (int i = 0; i < count && depth < 6; i++) result[Pick(rng, names)] = Value(map, rng, depth + 1);
                break;
            case JsonValue v when !v.GetValue<bool>() && rng.NextDouble() < _noise:
                result[Pick(rng, UnknownKeys)] = Raw(Pick(rng, WrongValues));
                break;
        }
        return result;
    }

    JsonArray Array(JsonObject s, Random rng, int depth)
    {
        var result = new JsonArray();
        int count = rng.Next(4);
        for (int i = 0; i < count && depth < 6; i++) result.Add(Value((JsonObject)s["items"]!, rng, depth + 1));
        return result;
    }

    JsonNode String(JsonObject s, Random rng)
    {
        if (s["enum"] is JsonArray values && rng.NextDouble() >= 4 * _noise) return values[rng.Next(values.Count)]!.DeepClone();
        if (s["pattern"] is JsonValue p)
        {
            var pattern = p.GetValue<string>();
            if (!StringsByPattern.TryGetValue(pattern, out var candidates))
                throw new NotSupportedException($"pattern {pattern}: add the strings to try for it to ConfigDocuments.StringsByPattern");
            return JsonValue.Create(Pick(rng, candidates));
        }
        return JsonValue.Create(Pick(rng, Strings));
    }

    static JsonNode? Raw(string json) => JsonNode.Parse(json);

    static T Pick<T>(Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];
}
