using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Mechanist.Host.Activations;

/// <summary>
/// Appends rows of every site to an <see cref="ActivationStore"/> being built (see <see cref="ActivationStore.Write"/>).
/// Rows are copied into one preallocated buffer per site; a full buffer becomes a shard file. Memory is one shard's
/// worth of rows whatever the total.
/// </summary>
public sealed class ActivationStoreWriter
{
    readonly string _folder;
    readonly long _shardBytes;
    readonly List<(string File, long Rows)> _shards = [];
    List<(string Name, int Dimension, float[] Buffer)>? _sites;
    long _shardRows;
    long _filled;
    long _total;

    internal ActivationStoreWriter(string folder, long shardBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardBytes, 1);
        _folder = folder;
        _shardBytes = shardBytes;
    }

    /// <summary>Rows written so far.</summary>
    public long Rows => _total;

    /// <summary>
    /// Appends the same number of rows for every site: float32 CPU or device tensors [n, d_site]. The first call fixes
    /// the sites and their widths; later calls must give the same.
    /// </summary>
    public void Append(IReadOnlyDictionary<string, Tensor> rows)
    {
        if (rows.Count == 0) throw new ArgumentException("no sites to append", nameof(rows));
        long n = rows.Values.First().shape[0];
        foreach (var (name, t) in rows)
        {
            if (t.ndim != 2 || t.shape[0] != n)
                throw new ArgumentException($"site '{name}': expected [{n}, d] rows, got [{string.Join(", ", t.shape)}]", nameof(rows));
        }
        if (_sites is null)
        {
            long rowBytes = rows.Values.Sum(t => t.shape[1] * sizeof(float));
            _shardRows = Math.Max(1, _shardBytes / rowBytes);
            _sites = rows.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => (kv.Key, (int)kv.Value.shape[1], new float[checked(_shardRows * kv.Value.shape[1])])).ToList();
        }
        else if (rows.Count != _sites.Count || _sites.Any(s => !rows.TryGetValue(s.Name, out var t) || t.shape[1] != s.Dimension))
        {
            throw new ArgumentException("every append must give the same sites with the same widths", nameof(rows));
        }

        var contiguous = _sites.Select(s => rows[s.Name].to(ScalarType.Float32, CPU).contiguous()).ToList();
        try
        {
            long done = 0;
            while (done < n)
            {
                long take = Math.Min(n - done, _shardRows - _filled);
                for (int i = 0; i < _sites.Count; i++)
                {
                    var (_, d, buffer) = _sites[i];
                    using var part = contiguous[i].narrow(0, done, take);
                    part.data<float>().CopyTo(buffer.AsSpan((int)(_filled * d), (int)(take * d)), 0);
                }
                _filled += take;
                done += take;
                if (_filled == _shardRows) Flush();
            }
            _total += n;
        }
        finally
        {
            for (int i = 0; i < contiguous.Count; i++)
                if (!ReferenceEquals(contiguous[i], rows[_sites[i].Name])) contiguous[i].Dispose();
        }
    }

    void Flush()
    {
        if (_filled == 0 || _sites is null) return;
        var file = $"shard-{_shards.Count:D5}.safetensors";
        WriteShard(Path.Combine(_folder, file), _filled);
        _shards.Add((file, _filled));
        _filled = 0;
    }

    /// <summary>Writes one shard in the safetensors layout (sorted names, header padded to 8 bytes) straight from the buffers.</summary>
    void WriteShard(string path, long rows)
    {
        var header = new JsonObject();
        long offset = 0;
        foreach (var (name, d, _) in _sites!)
        {
            long bytes = rows * d * sizeof(float);
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(rows, d),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        stream.Write(BitConverter.GetBytes((ulong)padded));
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var (_, d, buffer) in _sites)
            stream.Write(MemoryMarshal.AsBytes(buffer.AsSpan(0, (int)(rows * d))));
    }

    internal void Finish(JsonObject metadata)
    {
        if (_sites is null || _total == 0) throw new InvalidOperationException("no activations were written to the store");
        Flush();
        var manifest = new JsonObject
        {
            ["format"] = ActivationStore.FormatName,
            ["version"] = ActivationStore.FormatVersion,
            ["dtype"] = "F32",
            ["rows"] = _total,
            ["row_order"] = "sequence-then-position",
            ["sites"] = new JsonArray(_sites.Select(s => (JsonNode?)new JsonObject { ["name"] = s.Name, ["dimension"] = s.Dimension }).ToArray()),
            ["shards"] = new JsonArray(_shards.Select(s => (JsonNode?)new JsonObject { ["file"] = s.File, ["rows"] = s.Rows }).ToArray()),
            ["metadata"] = metadata.DeepClone(),
        };
        File.WriteAllText(Path.Combine(_folder, ActivationStore.ManifestFile),
            manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
