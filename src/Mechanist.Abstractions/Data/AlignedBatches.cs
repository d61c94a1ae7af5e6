using static TorchSharp.torch;

namespace Mechanist;

/// <summary>
/// Reads several row-aligned activation sources together, in batches with the same rows from each, whatever batch
/// boundaries each source uses on its own.
/// </summary>
public static class AlignedBatches
{
    /// <summary>
    /// Batches of at most <paramref name="batchSize"/> rows: element i of each yielded array is rows [start, start + b)
    /// of source i. The sources must have the same <see cref="IActivationSource.Count"/>. The yielded tensors belong
    /// to the caller (dispose them, or collect them with a dispose scope around the loop body); what is read ahead is
    /// held outside any dispose scope and released as it is consumed.
    /// </summary>
    public static IEnumerable<Tensor[]> Read(IReadOnlyList<IActivationSource> sources, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (sources.Count == 0) yield break;
        foreach (var s in sources.Skip(1))
            if (s.Count != sources[0].Count)
                throw new MechanistInputException(
                    $"{s.Name} has {s.Count} rows but {sources[0].Name} has {sources[0].Count}; row-aligned sources need the same number of rows.");
        if (sources.Count == 1)
        {
            foreach (var b in sources[0].ReadBatches(batchSize)) yield return [b];
            yield break;
        }
        var readers = sources.Select(s => s.ReadBatches(batchSize).GetEnumerator()).ToArray();
        var pending = new Tensor?[sources.Count];
        try
        {
            while (true)
            {
                for (int i = 0; i < readers.Length; i++)
                {
                    if (pending[i] is { } p && p.shape[0] > 0) continue;
                    if (!readers[i].MoveNext())
                    {
                        if (i == 0 && pending.All(t => t is null || t.shape[0] == 0)) yield break;
                        throw new MechanistInputException($"{sources[i].Name}: ended before {sources[0].Name} (sources must be row-aligned).");
                    }
                    pending[i]?.Dispose();
                    pending[i] = readers[i].Current.DetachFromDisposeScope();
                }
                long rows = pending.Min(t => t!.shape[0]);
                var batch = new Tensor[readers.Length];
                for (int i = 0; i < readers.Length; i++)
                {
                    var current = pending[i]!;
                    batch[i] = current.narrow(0, 0, rows);
                    pending[i] = current.narrow(0, rows, current.shape[0] - rows).DetachFromDisposeScope();
                    current.Dispose();
                }
                yield return batch;
            }
        }
        finally
        {
            foreach (var r in readers) r.Dispose();
            foreach (var t in pending) t?.Dispose();
        }
    }
}
