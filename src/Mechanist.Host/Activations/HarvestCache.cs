using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Mechanist.Models;
using Mechanist.Models.Text;

namespace Mechanist.Host.Activations;

/// <summary>What to harvest: a model (from its folder), token sequences, one hook site.</summary>
/// <param name="TokensHash">A content hash of the token sequences (<see cref="Gate.ModelInputs.ContentHash"/>).</param>
public sealed record HarvestRequest(ILanguageModel Model, string ModelFolder, TokenSequences Tokens, string TokensHash, string Site, string Dataset);

/// <summary>A complete cache entry (an activation store) and whether this run made it.</summary>
public sealed record HarvestEntry(string Key, string Folder, ActivationStore Store, bool Harvested, TimeSpan Elapsed);

/// <summary>
/// Activations harvested from a model, kept between runs in a folder (the build's intermediate folder under MSBuild)
/// and keyed by a SHA-256 of the model's weight and config files, the token ids and the site: an unchanged rebuild
/// reuses them, and any change to the model, the data or the site harvests again. Each entry is an activation store
/// (bounded memory) built under a temporary name and renamed into place when complete, never replaced: two
/// processes sharing the cache may both harvest, the first rename wins and the other uses it; a process killed
/// mid-harvest leaves only a temporary folder, removed by a later run once its process is gone. Without a folder the
/// cache lives in a temporary folder removed on dispose.
/// </summary>
public sealed class HarvestCache : IDisposable
{
    public const string KeyVersion = "mechanist.harvest-cache.v1";
    static readonly Regex TempName = new(@"^\.?tmp-(?<pid>\d+)-");
    readonly bool _owned;
    readonly Dictionary<string, string> _fileHashes = new(StringComparer.Ordinal);
    readonly List<string> _used = [];

    public HarvestCache(string? folder)
    {
        _owned = folder is null;
        Folder = Path.GetFullPath(folder ?? Path.Combine(Path.GetTempPath(), "mechanist-harvest", Guid.NewGuid().ToString("N")));
        Directory.CreateDirectory(Folder);
        if (!_owned) RemoveAbandoned();
    }

    public string Folder { get; }

    /// <summary>Whether entries outlive this process (a folder was given).</summary>
    public bool Persistent => !_owned;

    /// <summary>Every file of the entries this run used, sorted: inputs (and outputs) of an incremental build.</summary>
    public IReadOnlyList<string> UsedFiles => _used.Order(StringComparer.Ordinal).ToList();

    /// <summary>The entry's key: SHA-256 of the model's config and weight files, the token ids and the site.</summary>
    public string KeyOf(HarvestRequest request)
    {
        var text = new StringBuilder();
        text.Append(KeyVersion).Append('\n');
        text.Append("model_type ").Append(request.Model.ModelType).Append('\n');
        foreach (var file in ModelFolderLayout(request.ModelFolder))
            text.Append("file ").Append(Path.GetFileName(file)).Append(' ').Append(HashFile(file)).Append('\n');
        text.Append("tokens ").Append(request.TokensHash).Append('\n');
        text.Append("site ").Append(request.Site).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..32];
    }

    /// <summary>The files whose content decides what a model computes: <c>config.json</c> and every <c>.safetensors</c> file.</summary>
    public static IReadOnlyList<string> ModelFolderLayout(string folder) =>
        Directory.EnumerateFiles(folder).Where(f => Path.GetFileName(f) == "config.json" || f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();

    string HashFile(string file)
    {
        var full = Path.GetFullPath(file);
        if (_fileHashes.TryGetValue(full, out var known)) return known;
        using var stream = File.OpenRead(full);
        return _fileHashes[full] = Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// The complete entry for <paramref name="request"/>: reused when present (and readable), otherwise harvested
    /// with <paramref name="batchSize"/> sequences per forward pass.
    /// </summary>
    public HarvestEntry GetOrHarvest(HarvestRequest request, int batchSize, Action<string>? log = null, CancellationToken cancellation = default)
    {
        var watch = Stopwatch.StartNew();
        var key = KeyOf(request);
        var final = Path.Combine(Folder, key);
        if (TryOpen(final, log) is { } existing)
        {
            Touch(final);
            Use(final);
            return new HarvestEntry(key, final, existing, false, watch.Elapsed);
        }
        var temp = Path.Combine(Folder, $"tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var metadata = new JsonObject
            {
                ["model"] = Path.GetFullPath(request.ModelFolder),
                ["model_type"] = request.Model.ModelType,
                ["dataset"] = request.Dataset,
                ["tokens_sha256"] = request.TokensHash,
                ["sequences"] = request.Tokens.Sequences.Count,
                ["tokens"] = request.Tokens.TotalTokens,
                ["sites"] = new JsonArray(request.Site),
                ["cache_key"] = key,
                ["created_by"] = "mechanist check",
            };
            Harvester.ToStore(temp, request.Model, request.Tokens, [request.Site], batchSize, metadata, cancellation: cancellation);
            try
            {
                Directory.Move(temp, final);
            }
            catch (IOException) when (Directory.Exists(final))
            {
                // Another process finished the same entry first: use theirs.
                log?.Invoke($"harvest cache: entry {key} was completed by another process; using it");
            }
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
        var store = TryOpen(final, log) ?? throw new IOException($"harvest cache entry {final} is not readable right after it was written.");
        Touch(final);
        Use(final);
        return new HarvestEntry(key, final, store, true, watch.Elapsed);
    }

    ActivationStore? TryOpen(string folder, Action<string>? log)
    {
        if (!Directory.Exists(folder)) return null;
        try
        {
            return ActivationStore.Open(folder);
        }
        catch (MechanistInputException e)
        {
            // Not written by a complete run of this cache (entries only appear complete): set it aside and harvest again.
            log?.Invoke($"harvest cache: entry {folder} is unreadable ({e.Message}); harvesting again");
            var aside = Path.Combine(Folder, $"tmp-0-{Guid.NewGuid():N}");
            try { Directory.Move(folder, aside); Directory.Delete(aside, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            return null;
        }
    }

    void Use(string folder)
    {
        foreach (var f in Directory.EnumerateFiles(folder)) if (!_used.Contains(f)) _used.Add(f);
    }

    /// <summary>
    /// Marks an entry as used now: all its files get one time, newer than the build's other inputs. (The files are both
    /// inputs and outputs of the MSBuild target: a shard older than its manifest would make the target run forever.)
    /// </summary>
    static void Touch(string folder)
    {
        var now = DateTime.UtcNow;
        foreach (var f in Directory.EnumerateFiles(folder))
            try { File.SetLastWriteTimeUtc(f, now); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Removes temporary folders of harvests whose process is gone (killed mid-harvest).</summary>
    void RemoveAbandoned()
    {
        foreach (var dir in Directory.EnumerateDirectories(Folder))
        {
            var m = TempName.Match(Path.GetFileName(dir));
            if (!m.Success || !int.TryParse(m.Groups["pid"].Value, out var pid) || IsAlive(pid)) continue;
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static bool IsAlive(int pid)
    {
        if (pid == 0) return false;
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (_owned)
            try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
