using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Options;

namespace Mechanist.Models.Serialization;

/// <summary>
/// Strict reading of a model's <c>config.json</c>: the <c>model_type</c> must be the expected one, every key the
/// architecture writes must be present, no other key is accepted, and every value is type- and range-checked.
/// Each error names the file and the key (an unknown key suggests the closest valid one).
/// </summary>
public sealed class ConfigReader
{
    public const string ModelTypeKey = "model_type";

    readonly JsonObject _json;
    readonly IReadOnlyList<string> _keys;

    /// <summary>Checks <c>model_type</c> and the key set of <paramref name="json"/>.</summary>
    /// <param name="source">The file the JSON came from, used in messages.</param>
    /// <param name="modelType">The expected <c>model_type</c>.</param>
    /// <param name="keys">Every key besides <c>model_type</c>; all are required, no other is allowed.</param>
    public ConfigReader(JsonObject json, string source, string modelType, IReadOnlyList<string> keys)
    {
        _json = json;
        _keys = keys;
        Source = source;
        var expected = keys.Prepend(ModelTypeKey).ToList();
        if (json.ContainsKey(ModelTypeKey) && String(ModelTypeKey) is var type && type != modelType)
            throw new MechanistInputException($"{source}: '{ModelTypeKey}' is '{type}', expected '{modelType}'.");
        foreach (var (key, _) in json)
        {
            if (expected.Contains(key, StringComparer.Ordinal)) continue;
            var closest = NameSuggester.Closest(key, expected.Where(k => !json.ContainsKey(k)));
            throw new MechanistInputException(
                $"{source}: unknown key '{key}' in a {modelType} config.{(closest is null ? "" : $" Did you mean '{closest}'?")} " +
                $"Expected keys: {string.Join(", ", expected)}.");
        }
        foreach (var key in expected)
        {
            if (!json.ContainsKey(key))
                throw new MechanistInputException(
                    $"{source}: missing key '{key}' (a {modelType} config needs {string.Join(", ", expected)}).");
        }
    }

    public string Source { get; }

    /// <summary>Reads and parses <paramref name="path"/> as a JSON object; errors name the file.</summary>
    public static JsonObject ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new MechanistInputException($"{path}: file not found (a model folder holds config.json and model.safetensors).");
        return Mechanist.IO.JsonFile.ReadObject(path, "model config");
    }

    /// <summary>The <c>model_type</c> of a config object, or an error naming the file.</summary>
    public static string ModelTypeOf(JsonObject json, string source) =>
        json[ModelTypeKey] is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new MechanistInputException($"{source}: missing key '{ModelTypeKey}' (a string naming the architecture).");

    JsonNode? Node(string key)
    {
        if (key != ModelTypeKey && !_keys.Contains(key, StringComparer.Ordinal))
            throw new InvalidOperationException($"key '{key}' was not declared");
        return _json[key];
    }

    public string String(string key, params string[] choices)
    {
        if (Node(key) is not JsonValue v || !v.TryGetValue<string>(out var s))
            throw new MechanistInputException($"{Source}: key '{key}' must be a string{Choices(choices)}, got {Describe(_json[key])}.");
        if (choices.Length > 0 && !choices.Contains(s, StringComparer.Ordinal))
        {
            var closest = NameSuggester.Closest(s, choices);
            throw new MechanistInputException(
                $"{Source}: key '{key}' is '{s}'{Choices(choices)}.{(closest is null ? "" : $" Did you mean '{closest}'?")}");
        }
        return s;
    }

    public int Int(string key, int min, int max = int.MaxValue) => CheckRange(key, Integer(key, Node(key)), min, max);

    /// <summary>An integer key whose value is implied by the others (<c>d_vocab = p + 1</c>): it must equal <paramref name="expected"/>.</summary>
    public void Implied(string key, int expected, string why)
    {
        int value = Integer(key, Node(key));
        if (value != expected)
            throw new MechanistInputException($"{Source}: key '{key}' is {value}, expected {expected} ({why}).");
    }

    public double Double(string key, double min, double max)
    {
        if (Node(key) is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue<double>(out var d) || !double.IsFinite(d))
            throw new MechanistInputException($"{Source}: key '{key}' must be a number, got {Describe(_json[key])}.");
        if (d < min || d > max)
            throw new MechanistInputException($"{Source}: key '{key}' is {d.ToString(CultureInfo.InvariantCulture)}, expected a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}].");
        return d;
    }

    /// <summary>A non-empty array of integers, each at least <paramref name="min"/>.</summary>
    public int[] IntArray(string key, int min, int minLength)
    {
        if (Node(key) is not JsonArray array)
            throw new MechanistInputException($"{Source}: key '{key}' must be an array of integers, got {Describe(_json[key])}.");
        if (array.Count < minLength)
            throw new MechanistInputException($"{Source}: key '{key}' must hold at least {minLength} integers, got {array.Count}.");
        return array.Select((n, i) => CheckRange($"{key}[{i}]", Integer($"{key}[{i}]", n), min, int.MaxValue)).ToArray();
    }

    int Integer(string key, JsonNode? node)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i)) return i;
        if (node is JsonValue w && w.GetValueKind() == JsonValueKind.Number && w.TryGetValue<double>(out var d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue)
            return (int)d;
        throw new MechanistInputException($"{Source}: key '{key}' must be an integer, got {Describe(node)}.");
    }

    int CheckRange(string key, int value, int min, int max)
    {
        if (value < min || value > max)
            throw new MechanistInputException(
                $"{Source}: key '{key}' is {value}, expected an integer {(max == int.MaxValue ? $">= {min}" : $"in [{min}, {max}]")}.");
        return value;
    }

    static string Choices(string[] choices) => choices.Length == 0 ? "" : $" (one of {string.Join(", ", choices)})";

    static string Describe(JsonNode? node) => node is null ? "null" : node.ToJsonString();
}
