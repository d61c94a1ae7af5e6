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
/// (<see cref="Gate.CheckPlan"/>).
/// </summary>
public static class CheckConfigReader
{
    /// <summary>The keys each object of the config may have, by the name of its definition in the JSON schema.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Keys { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        ["root"] = ["$schema", "model", "dataset", "plugins", "device", "seed", "decompositions", "behaviours", "attributions", "validations", "checks", "baseline", "timeouts"],
        ["dataset"] = ["path", "tensor", "text", "task", "options", "context", "limit"],
        ["decomposition"] = ["site", "activations", "tensor", "method", "options", "seed", "path"],
        ["behaviour"] = ["inputs", "corrupted", "metric", "target", "contrast", "position"],
        ["corruptionRule"] = ["rule", "position", "seed"],
        ["attribution"] = ["method", "options", "site", "sites", "behaviour", "decomposition", "top"],
        ["validation"] = ["method", "options", "decompositions", "behaviour", "site", "labels"],
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
            var behaviours = new List<BehaviourConfig>();
            Located<string>? baseline = null;
            var attributions = new List<AttributionConfig>();
            var validations = new List<ValidationConfig>();
            var checks = new List<CheckRule>();
            var timeouts = new List<TimeoutRule>();
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
                        if (device is not null && !Running.Devices.IsValid(device))
                            problems.Invalid(at, $"'device' must be {Running.Devices.Expected}, not '{device}'.");
                        break;
                    case "seed": seed = Int(p.Value, at) ?? 0; break;
                    case "decompositions":
                        if (Object(p.Value, at, null))
                            foreach (var d in p.Value.EnumerateObject())
                                if (Decomposition(d.Name, d.Value, at + "/" + JsonPositions.Escape(d.Name)) is { } dc) decompositions.Add(dc);
                        break;
                    case "behaviours":
                        if (Object(p.Value, at, null))
                            foreach (var b in p.Value.EnumerateObject())
                                if (Behaviour(b.Name, b.Value, at + "/" + JsonPositions.Escape(b.Name)) is { } bc) behaviours.Add(bc);
                        break;
                    case "baseline":
                        if (PathValue(p.Value, at) is { } baselinePath) baseline = new Located<string>(baselinePath, at);
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
                    case "timeouts":
                        if (Object(p.Value, at, null))
                            foreach (var t in p.Value.EnumerateObject())
                                if (Timeout(t.Name, t.Value, at + "/" + JsonPositions.Escape(t.Name)) is { } rule) timeouts.Add(rule);
                        break;
                }
            }
            return new CheckConfig
            {
                Path = fullPath, Positions = positions, Model = model, Dataset = dataset, Plugins = plugins, Device = device,
                Seed = seed, Decompositions = decompositions, Behaviours = behaviours, Attributions = attributions, Validations = validations,
                Checks = checks, Baseline = baseline, Timeouts = timeouts,
            };
        }

        DatasetConfig? Dataset(JsonElement e, string at, string what = "'dataset'")
        {
            if (!Object(e, at, "dataset")) return null;
            string? path = null, text = null, task = null;
            string tensor = "tokens";
            int? context = null, limit = null;
            IReadOnlyDictionary<string, string> options = new Dictionary<string, string>();
            bool hasOptions = false, hasTensor = false;
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                switch (p.Name)
                {
                    case "path": path = PathValue(p.Value, pAt); break;
                    case "tensor": tensor = String(p.Value, pAt) ?? tensor; hasTensor = true; break;
                    case "text": text = PathValue(p.Value, pAt); break;
                    case "task": task = String(p.Value, pAt); break;
                    case "options": options = MethodOptions(p.Value, pAt); hasOptions = true; break;
                    case "context": context = Int(p.Value, pAt, min: 1); break;
                    case "limit": limit = Int(p.Value, pAt, min: 1); break;
                }
            }
            int given = (e.TryGetProperty("path", out _) ? 1 : 0) + (e.TryGetProperty("text", out _) ? 1 : 0) + (e.TryGetProperty("task", out _) ? 1 : 0);
            if (given != 1)
                problems.Invalid(at, $"{what} needs exactly one of 'path' (a token file: .jsonl, .safetensors or .npy), 'text' (a UTF-8 text file, tokenised with GPT-2's BPE) or 'task' (a generated task such as modular-addition).");
            else if (hasOptions && task is null)
                problems.Invalid(at + "/options", $"'options' of {what} configure a 'task'; a file takes none.");
            else if (hasTensor && (path is null || !path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)))
                problems.Invalid(at + "/tensor", $"'tensor' of {what} names the tensor in a .safetensors 'path'.");
            return new DatasetConfig(at, path, tensor, text, task, options, context, limit);
        }

        /// <summary>A dataset object, or a string as a shorthand for <c>{ "path": … }</c>.</summary>
        DatasetConfig? DatasetOrPath(JsonElement e, string at, string what)
        {
            if (e.ValueKind == JsonValueKind.String)
                return PathValue(e, at) is { } path ? new DatasetConfig(at, path, "tokens", null, null, new Dictionary<string, string>(), null, null) : null;
            return Dataset(e, at, what);
        }

        DecompositionConfig? Decomposition(string name, JsonElement e, string at)
        {
            if (!Object(e, at, "decomposition")) return null;
            string? site = null, activations = null, method = null, folder = null, tensor = null;
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
                    case "tensor": tensor = String(p.Value, pAt); break;
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
            if (tensor is not null && activations is null)
                problems.Invalid(at + "/tensor", $"decomposition '{name}': 'tensor' names the tensor in its 'activations' file, and it has none (its activations are harvested from the model).");
            return new DecompositionConfig(name, at, site, activations, tensor, method, options, seed, folder);
        }

        BehaviourConfig? Behaviour(string name, JsonElement e, string at)
        {
            if (!Object(e, at, "behaviour")) return null;
            DatasetConfig? inputs = null;
            CorruptionConfig? corrupted = null;
            string? metric = null;
            Located<BehaviourTarget>? target = null, contrast = null;
            int position = -1;
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                switch (p.Name)
                {
                    case "inputs": inputs = DatasetOrPath(p.Value, pAt, $"the inputs of behaviour '{name}'"); break;
                    case "corrupted": corrupted = Corruption(name, p.Value, pAt); break;
                    case "metric":
                        metric = String(p.Value, pAt);
                        if (metric is not null && !BehaviourConfig.Metrics.Contains(metric))
                        {
                            var closest = NameSuggester.Closest(metric, BehaviourConfig.Metrics);
                            problems.Invalid(pAt, $"metric '{metric}' of behaviour '{name}' is not one of {string.Join("|", BehaviourConfig.Metrics)}.{(closest is null ? "" : $" Did you mean '{closest}'?")}");
                            metric = null;
                        }
                        break;
                    case "target": target = Target(p.Value, pAt, contrast: false); break;
                    case "contrast": contrast = Target(p.Value, pAt, contrast: true); break;
                    case "position":
                        if (Integer(p.Value, int.MinValue) is long pos) position = (int)pos;
                        else problems.Invalid(pAt, $"'{Describe(pAt)}' must be an integer (a sequence position; negative counts from the end), not {Show(p.Value)}.");
                        break;
                }
            }
            if (!e.TryGetProperty("metric", out _)) { Require(e, at, "metric", $"behaviour '{name}'"); return null; }
            if (metric is null) return null;
            if (!e.TryGetProperty("target", out _)) problems.Invalid(at, $"behaviour '{name}' ('{Describe(at)}') needs 'target': a token id, a token string, or \"label\" (the task's answer).");
            if (metric == "logit-diff" && !e.TryGetProperty("contrast", out _))
                problems.Invalid(at, $"behaviour '{name}' with metric logit-diff needs 'contrast': the token (id, string, \"label\" or \"corrupted-label\") whose logit is subtracted.");
            if (metric != "logit-diff" && contrast is not null)
                problems.Invalid(contrast.Pointer, $"'contrast' of behaviour '{name}' is used only with metric logit-diff.");
            return new BehaviourConfig(name, at, inputs, corrupted, metric, target, contrast, position);
        }

        Located<BehaviourTarget>? Target(JsonElement e, string at, bool contrast)
        {
            if (e.ValueKind == JsonValueKind.Number)
            {
                if (Integer(e, 0) is long id) return new Located<BehaviourTarget>(new BehaviourTarget(id, null, false, false), at);
                problems.Invalid(at, $"'{Describe(at)}' must be a non-negative token id, not {e.GetRawText()}.");
                return null;
            }
            if (e.ValueKind == JsonValueKind.String && e.GetString() is { Length: > 0 } text)
            {
                if (text == "label") return new Located<BehaviourTarget>(new BehaviourTarget(null, null, true, false), at);
                if (text == "corrupted-label")
                {
                    if (contrast) return new Located<BehaviourTarget>(new BehaviourTarget(null, null, false, true), at);
                    problems.Invalid(at, "\"corrupted-label\" can only be a 'contrast'; a target is a token id, a token string or \"label\".");
                    return null;
                }
                return new Located<BehaviourTarget>(new BehaviourTarget(null, text, false, false), at);
            }
            problems.Invalid(at, $"'{Describe(at)}' must be a token id, a token string or \"label\", not {Show(e)}.");
            return null;
        }

        CorruptionConfig? Corruption(string behaviour, JsonElement e, string at)
        {
            if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("rule", out _))
            {
                if (!Object(e, at, "corruptionRule")) return null;
                string? rule = null;
                int? position = null, seed = null;
                foreach (var p in e.EnumerateObject())
                {
                    var pAt = at + "/" + JsonPositions.Escape(p.Name);
                    switch (p.Name)
                    {
                        case "rule":
                            rule = String(p.Value, pAt);
                            if (rule is not null && rule != "resample")
                            {
                                problems.Invalid(pAt, $"corruption rule '{rule}' of behaviour '{behaviour}' is not known; the rule is 'resample' (the token at 'position' taken from another input).");
                                rule = null;
                            }
                            break;
                        case "position":
                            if (Integer(p.Value, int.MinValue) is long pos) position = (int)pos;
                            else problems.Invalid(pAt, $"'{Describe(pAt)}' must be an integer (a sequence position; negative counts from the end), not {Show(p.Value)}.");
                            break;
                        case "seed": seed = Int(p.Value, pAt); break;
                    }
                }
                if (rule is not null && position is null && !e.TryGetProperty("position", out _))
                    problems.Invalid(at, $"corruption rule 'resample' of behaviour '{behaviour}' needs 'position': the position whose token is resampled.");
                return rule is null ? null : new CorruptionConfig(at, null, rule, position, seed);
            }
            return DatasetOrPath(e, at, $"the corrupted inputs of behaviour '{behaviour}'") is { } inputs ? new CorruptionConfig(at, inputs, null, null, null) : null;
        }

        AttributionConfig? Attribution(JsonElement e, string at)
        {
            if (!Object(e, at, "attribution")) return null;
            string? method = null;
            var sites = new List<string>();
            Located<string>? behaviour = null, decomposition = null;
            int top = 10;
            IReadOnlyDictionary<string, string> options = new Dictionary<string, string>();
            foreach (var p in e.EnumerateObject())
            {
                var pAt = at + "/" + JsonPositions.Escape(p.Name);
                switch (p.Name)
                {
                    case "method": method = String(p.Value, pAt); break;
                    case "options": options = MethodOptions(p.Value, pAt); break;
                    case "site": if (String(p.Value, pAt) is { } site) sites.Add(site); break;
                    case "sites":
                        foreach (var (item, itemAt) in Array(p.Value, pAt))
                            if (String(item, itemAt) is { } n) sites.Add(n);
                        break;
                    case "behaviour": behaviour = String(p.Value, pAt) is { } b ? new Located<string>(b, pAt) : null; break;
                    case "decomposition": decomposition = String(p.Value, pAt) is { } d ? new Located<string>(d, pAt) : null; break;
                    case "top": top = Int(p.Value, pAt) ?? top; break;
                }
            }
            if (e.TryGetProperty("site", out _) && e.TryGetProperty("sites", out _))
                problems.Invalid(at, $"an attribution ('{Describe(at)}') takes 'site' or 'sites', not both.");
            if (method is null) { Require(e, at, "method", "an attribution"); return null; }
            if (!e.TryGetProperty("behaviour", out _)) problems.Invalid(at, $"an attribution ('{Describe(at)}') needs 'behaviour': the name of the behaviour whose metric it explains.");
            return new AttributionConfig(at, method, options, sites, behaviour, decomposition, top);
        }

        ValidationConfig? Validation(JsonElement e, string at)
        {
            if (!Object(e, at, "validation")) return null;
            string? method = null, site = null;
            Located<string>? behaviour = null, labels = null;
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
                    case "behaviour": behaviour = String(p.Value, pAt) is { } b ? new Located<string>(b, pAt) : null; break;
                    case "site": site = String(p.Value, pAt); break;
                    case "labels": labels = PathValue(p.Value, pAt) is { } l ? new Located<string>(l, pAt) : null; break;
                }
            }
            if (method is null) { Require(e, at, "method", "a validation"); return null; }
            return new ValidationConfig(at, method, options, names, behaviour, site, labels);
        }

        CheckRule? Rule(string id, JsonElement e, string at)
        {
            if (!CheckDescriptor.IsValidId(id))
            {
                problems.Invalid(at, $"'{id}' in 'checks' is not a check ID; expected a prefix of letters and then digits, as MECH1001 or a plugin's ACME0001.");
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

        /// <summary>A time budget: <c>"default"</c> or a method ID, and a positive number of seconds.</summary>
        TimeoutRule? Timeout(string method, JsonElement e, string at)
        {
            if (method != TimeoutRule.Default && !Mechanist.Discovery.MethodDescriptor.IsValidId(method))
            {
                problems.Invalid(at, $"'{method}' in 'timeouts' is neither \"{TimeoutRule.Default}\" nor a method ID (lower-case, dotted, as 'causal.ablation').");
                return null;
            }
            if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var seconds) && double.IsFinite(seconds) && seconds > 0 && seconds <= TimeoutRule.MaxSeconds)
                return new TimeoutRule(method, at, seconds);
            problems.Invalid(at, $"'{Describe(at)}' must be a number of seconds above 0 and at most {TimeoutRule.MaxSeconds:0}, not {Show(e)}.");
            return null;
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

        int? Int(JsonElement e, string at, int min = 0)
        {
            if (Integer(e, min) is long v) return (int)v;
            problems.Invalid(at, $"'{Describe(at)}' must be {(min == 0 ? "a non-negative integer" : $"an integer of at least {min}")}, not {Show(e)}.");
            return null;
        }

        // JSON Schema's integers include 1.0 and 1e2: any number with no fraction, here within [min, 2^31 - 1].
        static long? Integer(JsonElement e, int min) =>
            e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var d) && d == Math.Floor(d) && d >= min && d <= int.MaxValue ? (long)d : null;

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
