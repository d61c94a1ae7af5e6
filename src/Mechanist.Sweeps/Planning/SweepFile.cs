using System.Globalization;
using System.Text.Json;
using Mechanist.Options;

namespace Mechanist.Sweeps.Planning;

/// <summary>
/// Reads a sweep file (format and schema: <c>docs/sweeps.md</c>, <c>sweep.schema.json</c>). Every mistake is one
/// <see cref="MechanistInputException"/> naming the file and the key path, before anything runs.
/// </summary>
public static class SweepFile
{
    public const int DefaultCheckpointEvery = 500;

    static readonly string[] TopLevel =
    [
        "$schema", "name", "activations", "harvest", "sites", "targets", "ground_truth", "methods", "options", "seeds", "jobs",
        "device", "checkpoint_every", "plugins", "out", "cluster",
    ];

    static readonly string[] HarvestKeys = ["model", "text", "tokens", "sites", "batch_size", "context"];
    static readonly string[] JobKeys = ["method", "options", "site", "seed"];

    public static SweepDefinition Read(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new MechanistInputException($"{path}: sweep file not found.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(full), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new MechanistInputException($"{path}: not valid JSON ({e.Message}).", e);
        }
        using (doc) return Parse(doc.RootElement, full, path);
    }

    static SweepDefinition Parse(JsonElement root, string full, string shown)
    {
        var dir = Path.GetDirectoryName(full)!;
        var r = new Reader(shown, dir);
        if (root.ValueKind != JsonValueKind.Object) throw r.Error("", "expected a JSON object");
        r.CheckKeys(root, "", TopLevel);

        var activations = r.OptionalPath(root, "activations");
        var harvest = root.TryGetProperty("harvest", out var h) ? ReadHarvest(r, h) : null;
        if ((activations is null) == (harvest is null))
            throw r.Error("", "needs exactly one of 'activations' (a file or store folder) or 'harvest' (a model and its data)");

        IReadOnlyList<string?> sites = root.TryGetProperty("sites", out var s)
            ? r.Strings(s, "sites", nonEmpty: true).Cast<string?>().ToList()
            : harvest is not null ? harvest.Sites.Cast<string?>().ToList() : [null];
        if (sites.Distinct().Count() != sites.Count) throw r.Error("sites", "lists a site more than once");

        var methods = new List<MethodGrid>();
        if (root.TryGetProperty("methods", out var m))
        {
            if (m.ValueKind != JsonValueKind.Object) throw r.Error("methods", "expected an object: method ID -> its option grid");
            foreach (var method in m.EnumerateObject())
            {
                var key = $"methods.{method.Name}";
                if (method.Value.ValueKind != JsonValueKind.Object) throw r.Error(key, "expected an object of options (a value, or a list of values to sweep)");
                methods.Add(new MethodGrid(method.Name, r.Grid(method.Value, key)));
            }
        }
        var common = root.TryGetProperty("options", out var o)
            ? o.ValueKind == JsonValueKind.Object ? r.Grid(o, "options") : throw r.Error("options", "expected an object of options")
            : [];

        var jobs = new List<ExplicitJob>();
        if (root.TryGetProperty("jobs", out var j))
        {
            if (j.ValueKind != JsonValueKind.Array) throw r.Error("jobs", "expected a list of jobs");
            int i = 0;
            foreach (var job in j.EnumerateArray())
            {
                var key = $"jobs[{i++}]";
                if (job.ValueKind != JsonValueKind.Object) throw r.Error(key, "expected an object with 'method'");
                r.CheckKeys(job, key, JobKeys);
                var method = r.RequiredString(job, "method", key);
                var options = new Dictionary<string, string>();
                if (job.TryGetProperty("options", out var jo))
                {
                    if (jo.ValueKind != JsonValueKind.Object) throw r.Error($"{key}.options", "expected an object of option values");
                    foreach (var p in jo.EnumerateObject()) options[p.Name] = r.Scalar(p.Value, $"{key}.options.{p.Name}");
                }
                var site = job.TryGetProperty("site", out var js) ? r.String(js, $"{key}.site") : sites.Count == 1 ? sites[0] : null;
                if (!job.TryGetProperty("site", out _) && sites.Count > 1)
                    throw r.Error($"{key}.site", $"is required when the sweep has several sites ({string.Join(", ", sites)})");
                int seed = job.TryGetProperty("seed", out var jseed) ? r.Int(jseed, $"{key}.seed", min: 0) : 0;
                jobs.Add(new ExplicitJob(method, options, site, seed));
            }
        }
        if (methods.Count == 0 && jobs.Count == 0) throw r.Error("", "names no job: give 'methods' (a grid) or 'jobs' (a list), or both");

        var seeds = root.TryGetProperty("seeds", out var sd)
            ? sd.ValueKind == JsonValueKind.Array && sd.GetArrayLength() > 0
                ? sd.EnumerateArray().Select((e, i) => r.Int(e, $"seeds[{i}]", min: 0)).ToList()
                : throw r.Error("seeds", "expected a non-empty list of integers")
            : [0];
        if (seeds.Distinct().Count() != seeds.Count) throw r.Error("seeds", "lists a seed more than once");

        var device = root.TryGetProperty("device", out var dv) ? r.String(dv, "device") : "auto";
        if (device is not ("auto" or "cpu" or "cuda") && !(device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device[5..], out var n) && n >= 0))
            throw r.Error("device", $"expected auto, cpu, cuda or cuda:N, got '{device}'");
        int checkpointEvery = root.TryGetProperty("checkpoint_every", out var ce) ? r.Int(ce, "checkpoint_every", min: 0) : DefaultCheckpointEvery;
        var plugins = root.TryGetProperty("plugins", out var pl) ? r.Strings(pl, "plugins", nonEmpty: false).Select(p => Path.GetFullPath(Path.Combine(dir, p))).ToList() : [];
        var cluster = root.TryGetProperty("cluster", out var cl) ? r.String(cl, "cluster") : null;
        if (cluster is not null) ClusterAddress.Parse(cluster, $"{shown}: 'cluster'");

        return new SweepDefinition
        {
            SourcePath = full,
            Name = root.TryGetProperty("name", out var nm) ? r.String(nm, "name") : null,
            Activations = activations,
            Harvest = harvest,
            Sites = sites,
            Targets = r.OptionalPath(root, "targets"),
            GroundTruth = r.OptionalPath(root, "ground_truth"),
            Methods = methods,
            CommonOptions = common,
            Seeds = seeds,
            Jobs = jobs,
            Device = device,
            CheckpointEvery = checkpointEvery,
            Plugins = plugins,
            Out = r.OptionalPath(root, "out"),
            Cluster = cluster,
        };
    }

    static HarvestSpec ReadHarvest(Reader r, JsonElement h)
    {
        if (h.ValueKind != JsonValueKind.Object) throw r.Error("harvest", "expected an object with 'model', 'text' or 'tokens', and 'sites'");
        r.CheckKeys(h, "harvest", HarvestKeys);
        var model = r.OptionalPath(h, "model", "harvest.") ?? throw r.Error("harvest.model", "is required (a model folder)");
        var text = r.OptionalPath(h, "text", "harvest.");
        var tokens = r.OptionalPath(h, "tokens", "harvest.");
        if ((text is null) == (tokens is null)) throw r.Error("harvest", "needs exactly one of 'text' (a text file) or 'tokens' (JSONL token ids)");
        if (!h.TryGetProperty("sites", out var s)) throw r.Error("harvest.sites", "is required (the hook sites to harvest)");
        var sites = r.Strings(s, "harvest.sites", nonEmpty: true);
        int batch = h.TryGetProperty("batch_size", out var b) ? r.Int(b, "harvest.batch_size", min: 1) : 8;
        int? context = h.TryGetProperty("context", out var c) ? r.Int(c, "harvest.context", min: 1) : null;
        return new HarvestSpec(model, text, tokens, sites, batch, context);
    }

    sealed class Reader(string file, string dir)
    {
        public MechanistInputException Error(string key, string what) =>
            new(key.Length == 0 ? $"{file}: {what}." : $"{file}: '{key}' {what}.");

        public void CheckKeys(JsonElement obj, string at, string[] allowed)
        {
            foreach (var p in obj.EnumerateObject())
                if (!allowed.Contains(p.Name))
                {
                    var closest = NameSuggester.Closest(p.Name, allowed);
                    var key = at.Length == 0 ? p.Name : $"{at}.{p.Name}";
                    throw Error(key, $"is not a sweep key{(closest is null ? "" : $"; did you mean '{closest}'?")} Expected one of: {string.Join(", ", allowed.Where(a => a != "$schema"))}");
                }
        }

        public string String(JsonElement e, string key) =>
            e.ValueKind == JsonValueKind.String && e.GetString() is { Length: > 0 } s ? s : throw Error(key, "expected a non-empty string");

        public string RequiredString(JsonElement obj, string name, string at) =>
            obj.TryGetProperty(name, out var v) ? String(v, $"{at}.{name}") : throw Error($"{at}.{name}", "is required");

        public string? OptionalPath(JsonElement obj, string name, string prefix = "") =>
            obj.TryGetProperty(name, out var v) ? Path.GetFullPath(Path.Combine(dir, String(v, prefix + name))) : null;

        public int Int(JsonElement e, string key, int min) =>
            e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v) && v >= min ? v
                : throw Error(key, $"expected an integer of at least {min}, got {e.GetRawText()}");

        public List<string> Strings(JsonElement e, string key, bool nonEmpty)
        {
            if (e.ValueKind == JsonValueKind.String) return [String(e, key)];
            if (e.ValueKind != JsonValueKind.Array || (nonEmpty && e.GetArrayLength() == 0))
                throw Error(key, nonEmpty ? "expected a non-empty list of strings" : "expected a list of strings");
            return e.EnumerateArray().Select((x, i) => String(x, $"{key}[{i}]")).ToList();
        }

        /// <summary>A scalar option value as <c>--set</c> would give it.</summary>
        public string Scalar(JsonElement e, string key) => e.ValueKind switch
        {
            JsonValueKind.String => e.GetString()!,
            JsonValueKind.Number => e.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => throw Error(key, $"expected a string, number or boolean, got {e.ValueKind.ToString().ToLowerInvariant()}"),
        };

        public List<KeyValuePair<string, IReadOnlyList<string>>> Grid(JsonElement obj, string at)
        {
            var axes = new List<KeyValuePair<string, IReadOnlyList<string>>>();
            foreach (var p in obj.EnumerateObject())
            {
                var key = $"{at}.{p.Name}";
                IReadOnlyList<string> values = p.Value.ValueKind == JsonValueKind.Array
                    ? p.Value.GetArrayLength() > 0
                        ? p.Value.EnumerateArray().Select((x, i) => Scalar(x, $"{key}[{i}]")).ToList()
                        : throw Error(key, "is an empty list; give at least one value")
                    : [Scalar(p.Value, key)];
                if (values.Distinct().Count() != values.Count) throw Error(key, "lists a value more than once");
                axes.Add(KeyValuePair.Create(p.Name, values));
            }
            return axes;
        }
    }

    internal static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
