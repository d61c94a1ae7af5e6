using static TorchSharp.torch;

namespace Mechanist;

/// <summary>
/// Several row-aligned sources (hook sites) seen as one: row n is the concatenation of row n of each source along the
/// feature dimension, in order. Streams; owns nothing.
/// </summary>
public sealed class ConcatenatedActivations : IActivationSource
{
    readonly IReadOnlyList<IActivationSource> _sources;

    public ConcatenatedActivations(IReadOnlyList<IActivationSource> sources)
    {
        if (sources.Count == 0) throw new ArgumentException("at least one source is needed", nameof(sources));
        foreach (var s in sources.Skip(1))
            if (s.Count != sources[0].Count)
                throw new MechanistInputException(
                    $"{s.Name} has {s.Count} rows but {sources[0].Name} has {sources[0].Count}; sites must be row-aligned (same number of rows).");
        _sources = sources;
    }

    public IReadOnlyList<IActivationSource> Sources => _sources;

    public string Name => string.Join(",", _sources.Select(s => s.Name));

    public long Count => _sources[0].Count;

    public int Dimension => _sources.Sum(s => s.Dimension);

    public IEnumerable<Tensor> ReadBatches(int batchSize)
    {
        foreach (var parts in AlignedBatches.Read(_sources, batchSize))
        {
            if (parts.Length == 1)
            {
                yield return parts[0];
                continue;
            }
            var joined = cat(parts, 1);
            foreach (var part in parts) part.Dispose();
            yield return joined;
        }
    }
}
