using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Options;

namespace Mechanist.Host.Activations;

/// <summary>
/// An activation store: a folder with <c>manifest.json</c> and shards <c>shard-NNNNN.safetensors</c>. Each shard holds,
/// for a contiguous range of rows (tokens, in sequence-then-position order), one F32 tensor [rows, d_site] per
/// hook site, named by the site. Written atomically (the folder appears complete or not at all); read back one site
/// at a time, streaming row batches straight from the shard files, so memory stays at one batch whatever the size.
/// </summary>
public sealed class ActivationStore
{
    public const string ManifestFile = "manifest.json";
    public const string FormatName = "mechanist.activation-store";
    public const int FormatVersion = 1;

    /// <summary>
    /// Largest manifest read: about 300,000 shards, hundreds of terabytes of activations. A manifest declaring a
    /// million shards is refused before it is parsed.
    /// </summary>
    public const long MaxManifestBytes = 16L << 20;

    ActivationStore(string folder, long rows, IReadOnlyList<StoreSite> sites, IReadOnlyList<StoreShard> shards, JsonObject metadata)
    {
        Folder = folder; Rows = rows; Sites = sites; Shards = shards; Metadata = metadata;
    }

    public string Folder { get; }

    /// <summary>Rows (tokens) per site.</summary>
    public long Rows { get; }

    public IReadOnlyList<StoreSite> Sites { get; }

    public IReadOnlyList<StoreShard> Shards { get; }

    /// <summary>Where the activations came from (model, token file, context, …), as written by the harvester.</summary>
    public JsonObject Metadata { get; }

    /// <summary>Whether <paramref name="path"/> is a folder with a <c>manifest.json</c>.</summary>
    public static bool IsStore(string path) => Directory.Exists(path) && File.Exists(Path.Combine(path, ManifestFile));

    /// <summary>
    /// Opens a store and checks it completely before any data is read: the manifest's keys and values, every shard's
    /// safetensors header, and that each shard holds every site as F32 [rows, d]. Errors name the file and key.
    /// </summary>
    public static ActivationStore Open(string folder)
    {
        if (!Directory.Exists(folder))
            throw new MechanistInputException($"{folder}: activation store folder not found.");
        var manifestPath = Path.Combine(folder, ManifestFile);
        if (!File.Exists(manifestPath))
            throw new MechanistInputException($"{folder}: no {ManifestFile}; expected an activation store folder written by 'mechanist harvest'.");
        var manifest = JsonFile.ReadObject(manifestPath, "store manifest", MaxManifestBytes);
        string format = Text(manifest, "format", manifestPath);
        if (format != FormatName)
            throw new MechanistInputException($"{manifestPath}: 'format' is '{format}'; expected '{FormatName}'.");
        long version = Integer(manifest, "version", manifestPath);
        if (version != FormatVersion)
            throw new MechanistInputException($"{manifestPath}: store format version {version} is not supported (this version reads {FormatVersion}).");
        string dtype = Text(manifest, "dtype", manifestPath);
        if (dtype != "F32")
            throw new MechanistInputException($"{manifestPath}: 'dtype' is '{dtype}'; expected 'F32'.");
        long rows = Integer(manifest, "rows", manifestPath);

        var sites = new List<StoreSite>();
        var siteNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in Array(manifest, "sites", manifestPath))
        {
            var o = node as JsonObject ?? throw new MechanistInputException($"{manifestPath}: each entry of 'sites' must be an object with 'name' and 'dimension'.");
            var site = new StoreSite(Text(o, "name", manifestPath), (int)Integer(o, "dimension", manifestPath, max: int.MaxValue));
            if (site.Dimension < 1) throw new MechanistInputException($"{manifestPath}: site '{site.Name}' has dimension {site.Dimension}; expected at least 1.");
            if (!siteNames.Add(site.Name)) throw new MechanistInputException($"{manifestPath}: site '{site.Name}' is listed twice.");
            sites.Add(site);
        }
        if (sites.Count == 0) throw new MechanistInputException($"{manifestPath}: 'sites' is empty.");

        // Every shard is a file of its own in the folder, listed once: on a manifest that lists more shards than the
        // folder holds files, the work stops at the first one missing (a million listed shards cost only the manifest).
        var shards = new List<StoreShard>();
        var shardFiles = new HashSet<string>(StringComparer.Ordinal);
        long first = 0;
        foreach (var node in Array(manifest, "shards", manifestPath))
        {
            var o = node as JsonObject ?? throw new MechanistInputException($"{manifestPath}: each entry of 'shards' must be an object with 'file' and 'rows'.");
            var file = Text(o, "file", manifestPath);
            if (file != Path.GetFileName(file) || file is "." or ".." || !file.EndsWith(".safetensors", StringComparison.Ordinal))
                throw new MechanistInputException($"{manifestPath}: shard file '{file}' must be a .safetensors file name inside the store folder.");
            if (!shardFiles.Add(file))
                throw new MechanistInputException($"{manifestPath}: shard file '{file}' is listed twice.");
            long shardRows = Integer(o, "rows", manifestPath);
            if (shardRows < 1) throw new MechanistInputException($"{manifestPath}: shard '{file}' has {shardRows} rows; expected at least 1.");
            var header = Safetensors.ReadHeader(Path.Combine(folder, file));
            foreach (var site in sites)
            {
                var entry = header.Require(site.Name);
                if (entry.DType != "F32" || entry.Shape.Length != 2 || entry.Shape[0] != shardRows || entry.Shape[1] != site.Dimension)
                    throw new MechanistInputException(
                        $"{header.Path}: tensor '{site.Name}' is {entry.DType} [{string.Join(", ", entry.Shape)}]; the manifest expects F32 [{shardRows}, {site.Dimension}].");
            }
            shards.Add(new StoreShard(file, first, shardRows, header));
            first += shardRows;
        }
        if (first != rows)
            throw new MechanistInputException($"{manifestPath}: the shards hold {first} rows but 'rows' is {rows}.");
        if (rows == 0) throw new MechanistInputException($"{manifestPath}: the store holds no rows.");
        var metadata = manifest["metadata"] as JsonObject ?? new JsonObject();
        return new ActivationStore(Path.GetFullPath(folder), rows, sites, shards, (JsonObject)metadata.DeepClone());
    }

    /// <summary>
    /// The activations of one site as a streaming source. <paramref name="site"/> may be null when the store holds a
    /// single site; an unknown site is an input error suggesting the closest.
    /// </summary>
    public IActivationSource Site(string? site)
    {
        if (site is null)
        {
            if (Sites.Count == 1) return new StoreSiteSource(this, Sites[0]);
            throw new MechanistInputException(
                $"{Folder}: the store holds {Sites.Count} sites ({string.Join(", ", Sites.Select(s => s.Name))}); choose one with --site.");
        }
        var match = Sites.FirstOrDefault(s => s.Name == site);
        if (match is not null) return new StoreSiteSource(this, match);
        var closest = NameSuggester.Closest(site, Sites.Select(s => s.Name));
        throw new MechanistInputException(
            $"{Folder}: the store has no site '{site}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} Sites: {string.Join(", ", Sites.Select(s => s.Name))}.");
    }

    /// <summary>
    /// Writes a store at <paramref name="folder"/> through <paramref name="fill"/>, atomically: it is built in a
    /// temporary sibling folder and renamed into place once the manifest is written; if anything throws, nothing is
    /// left (an existing store at that path stays as it was). Shards hold about <paramref name="shardBytes"/> bytes.
    /// </summary>
    public static void Write(string folder, long shardBytes, JsonObject metadata, Action<ActivationStoreWriter> fill)
    {
        AtomicFile.WriteDirectory(folder, temp =>
        {
            var writer = new ActivationStoreWriter(temp, shardBytes);
            fill(writer);
            writer.Finish(metadata);
        });
    }

    internal static string Text(JsonObject o, string key, string path) =>
        o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new MechanistInputException($"{path}: missing or non-string '{key}'.");

    internal static long Integer(JsonObject o, string key, string path, long max = long.MaxValue)
    {
        if (o[key] is JsonValue v && v.TryGetValue<long>(out var n) && n >= 0 && n <= max) return n;
        throw new MechanistInputException($"{path}: '{key}' must be a non-negative integer, got {o[key]?.ToJsonString() ?? "nothing"}.");
    }

    static JsonArray Array(JsonObject o, string key, string path) =>
        o[key] as JsonArray ?? throw new MechanistInputException($"{path}: missing list '{key}'.");

    internal static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A site in a store and the width of its rows.</summary>
public sealed record StoreSite(string Name, int Dimension);

/// <summary>One shard file: rows [FirstRow, FirstRow + Rows) of every site.</summary>
public sealed record StoreShard(string File, long FirstRow, long Rows, Safetensors.Header Header);
