using System.Globalization;
using System.Text.Json;
using Mechanist.Options;
using Mechanist.Validators;

namespace Mechanist.Host.Configuration;

/// <summary>
/// Reads <c>mechanist.json</c> strictly: an unknown key, a value of the wrong type or a malformed severity is an
/// error (MECH0010) that names the key, its line and, for a mistyped key, the closest valid one. Every problem in
/// the file is reported at once. Paths resolve against the config file's folder. Comments and trailing commas are
/// allowed. What the names refer to (methods, check IDs, files) is checked later, against the host
/// (<see cref="Checking.CheckPlan"/>).
/// </summary>
public static class CheckConfigReader
{
    /// <summary>The keys each object of the config may have, by the name of its definition in the JSON schema.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Keys { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        ["root"] = ["$schema", "model", "dataset", "plugins", "device", "seed", "decompositions", "attributions", "validations", "checks"],
        ["dataset"] = ["path", "tensor", "task", "options"],
        ["decomposition"] = ["site", "activations", "tensor", "method", "options", "seed", "path"],
        ["attribution"] = ["method", "options", "site"],
        ["validation"] = ["method", "options", "decompositions"],
        ["checkRule"] = ["severity", "threshold"],
    };

    public static readonly string[] SeverityNames = ["none", "suggestion", "warning", "error"];

    public static CheckConfig Load(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            var inside = System.IO.Path.Combine(full, "mechanist.json");
            if (!File.Exists(inside))
                throw new CheckInputException([new ConfigProblem(Checks.ConfigurationChecks.InputInvalid.Id, full, 1, 1,
                    $"{path} is a folder without a mechanist.json; expected a check configuration file.")]);
            full = inside;
        }
        if (!File.Exists(full))
            throw new CheckInputException([new ConfigProblem(Checks.ConfigurationChecks.InputInvalid.Id, full, 1, 1,
                $"check configuration {path} not found.")]);
        return Parse(File.ReadAllBytes(full), full);
    }

    public static CheckConfig Parse(byte[] utf8, string fullPath)
    {
        if (Mechanist.IO.JsonFile.FirstInvalidUtf8(utf8) is var bad and >= 0)
        {
            int line = 1 + System.MemoryExtensions.Count(utf8.AsSpan(0, bad), (byte)'\n');
            int column = bad - utf8.AsSpan(0, bad).LastIndexOf((byte)'\n');
            throw new CheckInputException([new ConfigProblem(Checks.ConfigurationChecks.InvalidConfiguration.Id, fullPath, line, column, $"not valid UTF-8 (byte {bad}).")]);
        }
        var positions = JsonPositions.Index(utf8);
        var problems = new ProblemList(fullPath, positions);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            var line = (int)(e.LineNumber ?? 0) + 1;
            var column = (int)(e.BytePositionInLine ?? 0) + 1;
            throw new CheckInputException([new ConfigProblem(Checks.ConfigurationChecks.InvalidConfiguration.Id, fullPath, line, column,
                $"not valid JSON: {FirstSentence(e.Message)}")]);
        }
        using (document)
        {
            var reader = new Reader(problems, System.IO.Path.GetDirectoryName(fullPath)!);
            var config = reader.Root(document.RootElement, fullPath, positions);
            problems.ThrowIfAny();
            return config!;
        }
    }

    static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    /// <summary>Human form of a JSON Pointer: <c>validations[0].method</c>.</summary>
    public static string Describe(string pointer)
    {
        if (pointer.Length == 0) return "the top level";
        var parts = pointer[1..].Split('/').Select(p => p.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
        var sb = new System.Text.StringBuilder();
        foreach (var part in parts)
        {
            if (part.All(char.IsAsciiDigit) && sb.Length > 0) sb.Append('[').Append(part).Append(']');
            else sb.Append(sb.Length > 0 ? "." : "").Append(part);
        }
        return sb.ToString();
    }

    sealed class Reader(ProblemList problems, string baseDirectory)
    {
        public CheckConfig? Root(JsonElement root, string fullPath, JsonPositions positions)
        {
            if (!Object(root, "", "root")) return null;
            string? model = null;
            DatasetConfig? dataset = null;
            var plugins = new List<Located<string>>();
            string? device = null;
            int seed = 0;
            var decompositions = new List<DecompositionConfig>();
            var attributions = new List<AttributionConfig>();
            var validations = new List<ValidationConfig>();
            var checks = new List<CheckRule>();
            foreach (var p in root.EnumerateObject())
            {
                var at = "/" + JsonPositions.Escape(p.Name);
                switch (p.Name)
                {
                    case "$schema": String(p.Value, at); break;
                    case "model": model = PathValue(p.Value, at); break;
                    case "dataset": dataset = Dataset(p.Value, at); break;
                    case "plugins":
                        foreach (var (item, itemAt) in Array(p.Value, at))
                            if (PathValue(item, itemAt) is { } plugin) plugins.Add(new Located<string>(plugin, itemAt));
                        break;
                    case "device":
                        device = String(p.Value, at);
                        if (device is not null && !(device is "auto" or "cpu" or "cuda" || (device.StartsWith("cuda:", StringComparison.Ordinal) && device[5..] is { Length: >= 1 and <= 9 } index && index.All(char.IsAsciiDigit))))
                            problems.Invalid(at, $"'device' must be auto, cpu, cuda or cuda:N, not '{device}'.");
                        break;
                    case "seed": seed = Int(p.Value, at) ?? 0; break;
                    case "decompositions":
                        if (Object(p.Value, at, null))
                            foreach (var d in p.Value.EnumerateObject())
                                if (Decomposition(d.Name, d.Value, at + "/" + JsonPositions.Escape(d.Name)) is { } dc) decompositions.Add(dc);
                        break;
                    case "attributions":
                        foreach (var (item, itemAt) in Array(p.Value, at))
                            if (Attribution(item, itemAt) is { } a) attributions.Add(a);
                        break;
                    case "validations":
                        foreach (var (item, itemAt) in Array(p.Value, at))
                            if (Validation(item, itemAt) is { } v) validations.Add(v);
                        break;
                    case "checks":
                        if (Object(p.Value, at, null))
                            foreach (var c in p.Value.EnumerateObject())
                                if (Rule(c.Name, c.Value, at + "/" + JsonPositions.Escape(c.Name)) is { } r) checks.Add(r);
                        break;
                }
            }
            return new CheckConfig
            {
                Path = fullPath, Positions = positions, Model = model, Dataset = dataset, Plugins = plugins, Device = device,
                Seed = seed, Decompositions = decompositions, Attributions = attributions, Validations = validations, Checks = checks,
            };
        }

        DatasetConfig? Dataset(JsonElement e, string at)
        {
            if (!Object(e, at, "dataset")) return null;
            string? path = null, task = null;
            string tensor = "tokens";
            IReadOnlyDictionary<string, string> options = new Dictionary<string, string>();
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                switch (p.Name)
                {
                    case "path": path = PathValue(p.Value, pAt); break;
                    case "tensor": tensor = String(p.Value, pAt) ?? tensor; break;
                    case "task": task = String(p.Value, pAt); break;
                    case "options": options = MethodOptions(p.Value, pAt); break;
                }
            }
            if ((path is null) == (task is null))
                problems.Invalid(at, "'dataset' needs exactly one of 'path' (a file of model inputs) or 'task' (a generated task).");
            return new DatasetConfig(at, path, tensor, task, options);
        }

        DecompositionConfig? Decomposition(string name, JsonElement e, string at)
        {
            if (!Object(e, at, "decomposition")) return null;
            string? site = null, activations = null, method = null, folder = null;
            string tensor = Mechanist.IO.ActivationFiles.TensorName;
            int? seed = null;
            IReadOnlyDictionary<string, string> options = new Dictionary<string, string>();
            bool hasOptions = false;
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                switch (p.Name)
                {
                    case "site": site = String(p.Value, pAt); break;
                    case "activations": activations = PathValue(p.Value, pAt); break;
                    case "tensor": tensor = String(p.Value, pAt) ?? tensor; break;
                    case "method": method = String(p.Value, pAt); break;
                    case "options": options = MethodOptions(p.Value, pAt); hasOptions = true; break;
                    case "seed": seed = Int(p.Value, pAt); break;
                    case "path": folder = PathValue(p.Value, pAt); break;
                }
            }
            bool hasMethod = e.TryGetProperty("method", out _), hasPath = e.TryGetProperty("path", out _);
            if (hasMethod == hasPath)
                problems.Invalid(at, $"decomposition '{name}' needs exactly one of 'method' (a decomposer to train) or 'path' (a SAELens-layout folder to load).");
            else if (hasPath && (hasOptions || seed is not null))
                problems.Invalid(at + (hasOptions ? "/options" : "/seed"), $"decomposition '{name}' is loaded from 'path'; '{(hasOptions ? "options" : "seed")}' applies only to one trained with 'method'.");
            return new DecompositionConfig(name, at, site, activations, tensor, method, options, seed, folder);
        }

        AttributionConfig? Attribution(JsonElement e, string at)
        {
            if (!Object(e, at, "attribution")) return null;
            string? method = null, site = null;
            IReadOnlyDictionary<string, string> options = new Dictionary<string, string>();
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                switch (p.Name)
                {
                    case "method": method = String(p.Value, pAt); break;
                    case "options": options = MethodOptions(p.Value, pAt); break;
                    case "site": site = String(p.Value, pAt); break;
                }
            }
            if (method is null) { Require(e, at, "method", "an attribution"); return null; }
            return new AttributionConfig(at, method, options, site);
        }

        ValidationConfig? Validation(JsonElement e, string at)
        {
            if (!Object(e, at, "validation")) return null;
            string? method = null;
            IReadOnlyDictionary<string, string> options = new Dictionary<string, string>();
            List<Located<string>>? names = null;
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                switch (p.Name)
                {
                    case "method": method = String(p.Value, pAt); break;
                    case "options": options = MethodOptions(p.Value, pAt); break;
                    case "decompositions":
                        names = [];
                        foreach (var (item, itemAt) in Array(p.Value, pAt))
                            if (String(item, itemAt) is { } n) names.Add(new Located<string>(n, itemAt));
                        break;
                }
            }
            if (method is null) { Require(e, at, "method", "a validation"); return null; }
            return new ValidationConfig(at, method, options, names);
        }

        CheckRule? Rule(string id, JsonElement e, string at)
        {
            if (!CheckDescriptor.IsValidId(id))
            {
                problems.Invalid(at, $"'{id}' in 'checks' is not a check ID; expected MECH and four digits (e.g. MECH1001).");
                return null;
            }
            if (e.ValueKind == JsonValueKind.String)
                return Severity(e, at) is { } s ? new CheckRule(id, at, s, null) : null;
            if (!Object(e, at, "checkRule")) return null;
            Severity? severity = null;
            double? threshold = null;
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                switch (p.Name)
                {
                    case "severity": severity = Severity(p.Value, pAt); break;
                    case "threshold":
                        if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetDouble(out var t) && double.IsFinite(t)) threshold = t;
                        else problems.Invalid(pAt, $"'{Describe(pAt)}' must be a number, not {Show(p.Value)}.");
                        break;
                }
            }
            return new CheckRule(id, at, severity, threshold);
        }

        Severity? Severity(JsonElement e, string at)
        {
            var text = String(e, at);
            if (text is null) return null;
            int index = System.Array.IndexOf(SeverityNames, text);
            if (index >= 0) return (Severity)index;
            var closest = NameSuggester.Closest(text, SeverityNames);
            problems.Invalid(at, $"severity '{text}' of {Describe(at)} is not one of none|suggestion|warning|error.{(closest is null ? "" : $" Did you mean '{closest}'?")}");
            return null;
        }

        /// <summary>Method options: an object of scalars, each turned into the text the option binder parses.</summary>
        IReadOnlyDictionary<string, string> MethodOptions(JsonElement e, string at)
        {
            var result = new Dictionary<string, string>();
            if (!Object(e, at, null)) return result;
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                string? text = p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString(),
                    JsonValueKind.Number => p.Value.GetRawText(),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => null,
                };
                if (text is null) problems.Invalid(pAt, $"option '{Describe(pAt)}' must be a string, number or boolean, not {Show(p.Value)}.");
                else result[p.Name] = text;
            }
            return result;
        }

        /// <summary>Checks that <paramref name="e"/> is an object and, when its keys are known, that it has no other.</summary>
        bool Object(JsonElement e, string at, string? definition)
        {
            if (e.ValueKind != JsonValueKind.Object)
            {
                problems.Invalid(at, $"{(at.Length == 0 ? "the configuration" : $"'{Describe(at)}'")} must be an object, not {Show(e)}.");
                return false;
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                if (!seen.Add(p.Name)) problems.Invalid(pAt, $"key '{Describe(pAt)}' appears more than once.");
                if (definition is null) continue;
                var keys = Keys[definition];
                if (keys.Contains(p.Name)) continue;
                var closest = NameSuggester.Closest(p.Name, keys);
                problems.Invalid(pAt, $"unknown key '{p.Name}' in {(at.Length == 0 ? "the configuration" : $"'{Describe(at)}'")}.{(closest is null ? "" : $" Did you mean '{closest}'?")} Valid keys: {string.Join(", ", keys.Where(k => k != "$schema"))}.");
            }
            return true;
        }

        IEnumerable<(JsonElement Item, string At)> Array(JsonElement e, string at)
        {
            if (e.ValueKind != JsonValueKind.Array)
            {
                problems.Invalid(at, $"'{Describe(at)}' must be an array, not {Show(e)}.");
                yield break;
            }
            int i = 0;
            foreach (var item in e.EnumerateArray()) yield return (item, $"{at}/{i++}");
        }

        string? String(JsonElement e, string at)
        {
            if (e.ValueKind == JsonValueKind.String && e.GetString() is { Length: > 0 } s) return s;
            problems.Invalid(at, $"'{Describe(at)}' must be a non-empty string, not {Show(e)}.");
            return null;
        }

        string? PathValue(JsonElement e, string at)
        {
            if (String(e, at) is not { } s) return null;
            if (s.Contains('\0'))
            {
                problems.Invalid(at, $"'{Describe(at)}' is not a path: it holds a NUL character.");
                return null;
            }
            return System.IO.Path.GetFullPath(System.IO.Path.Combine(baseDirectory, s));
        }

        int? Int(JsonElement e, string at)
        {
            // JSON Schema's integers include 1.0 and 1e2: any number with no fraction, here within [0, 2^31 - 1].
            if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var d) && d == Math.Floor(d) && d is >= 0 and <= int.MaxValue) return (int)d;
            problems.Invalid(at, $"'{Describe(at)}' must be a non-negative integer, not {Show(e)}.");
            return null;
        }

        void Require(JsonElement e, string at, string key, string what) =>
            problems.Invalid(at, $"{what} ('{Describe(at)}') needs '{key}'.");

        static string Show(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => $"\"{e.GetString()}\"",
            JsonValueKind.Null => "null",
            _ => e.GetRawText(),
        };
    }

    internal static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
