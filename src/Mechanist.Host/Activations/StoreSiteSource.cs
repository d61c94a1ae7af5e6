using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Mechanist.Host.Activations;

/// <summary>
/// One site of an <see cref="ActivationStore"/> as an <see cref="IActivationSource"/>: batches are read from the shard
/// files with positioned reads into one reused buffer, so memory is one batch (batchSize × d floats) plus the
/// batch tensor, whatever the store's size. Each batch is checked for NaN and infinities (the error names the shard
/// and the store row).
/// </summary>
public sealed class StoreSiteSource : IActivationSource
{
    readonly ActivationStore _store;
    readonly StoreSite _site;

    internal StoreSiteSource(ActivationStore store, StoreSite site)
    {
        _store = store;
        _site = site;
    }

    public string Name => $"{_store.Folder} (site {_site.Name})";

    /// <summary>The hook site these activations came from.</summary>
    public string Site => _site.Name;

    public long Count => _store.Rows;

    public int Dimension => _site.Dimension;

    public IEnumerable<Tensor> ReadBatches(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        int d = _site.Dimension;
        long maxRows = Math.Min(batchSize, Count);
        var buffer = new float[checked(maxRows * d)];
        int filled = 0; // rows in buffer
        foreach (var shard in _store.Shards)
        {
            var entry = shard.Header.Entries[_site.Name];
            using var stream = new FileStream(Path.Combine(_store.Folder, shard.File), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            long row = 0;
            while (row < shard.Rows)
            {
                int take = (int)Math.Min(maxRows - filled, shard.Rows - row);
                stream.Seek(shard.Header.DataStart + entry.Begin + row * d * sizeof(float), SeekOrigin.Begin);
                var segment = buffer.AsSpan(filled * d, take * d);
                stream.ReadExactly(MemoryMarshal.AsBytes(segment));
                EnsureFinite(segment, d, shard, row);
                filled += take;
                row += take;
                if (filled == maxRows)
                {
                    yield return ToTensor(buffer, filled, d);
                    filled = 0;
                }
            }
        }
        if (filled > 0) yield return ToTensor(buffer, filled, d);
    }

    void EnsureFinite(ReadOnlySpan<float> values, int d, StoreShard shard, long shardRow)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                throw new MechanistInputException(
                    $"{Path.Combine(_store.Folder, shard.File)}: site '{_site.Name}' contains {(float.IsNaN(values[i]) ? "NaN" : "an infinity")} at store row {shard.FirstRow + shardRow + i / d}, column {i % d}; activations must be finite.");
        }
    }

    static Tensor ToTensor(float[] buffer, int rows, int d)
    {
        var t = empty(rows, d, ScalarType.Float32);
        t.data<float>().CopyFrom(buffer.AsSpan(0, rows * d), 0);
        return t;
    }
}
