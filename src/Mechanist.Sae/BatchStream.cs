using static TorchSharp.torch;

namespace Mechanist.Sae;

/// <summary>
/// An endless, seeded stream of training batches from one or more row-aligned activation sources (input sites,
/// concatenated along the feature dimension) and an optional row-aligned target source. Rows are read in order,
/// pass after pass, into buffers of several batches; each buffer is shuffled with a generator derived from the seed
/// and the buffer's index, so batch n is a pure function of (data, seed, n): a resumed run skips ahead and sees the
/// same batches as an uninterrupted one. Memory is bounded by one buffer.
/// </summary>
public sealed class BatchStream : IDisposable
{
    readonly RowReader[] _inputs;
    readonly RowReader? _target;
    readonly int _batchSize;
    readonly long _bufferRows;
    readonly int _seed;
    readonly Device _device;
    long _bufferIndex = -1;
    long _offset;
    Tensor? _bufferX, _bufferY;

    public BatchStream(IReadOnlyList<IActivationSource> inputs, IActivationSource? target, int batchSize, int bufferBatches, int seed, Device device)
    {
        if (inputs.Count == 0) throw new ArgumentException("at least one input source is needed", nameof(inputs));
        long count = inputs[0].Count;
        foreach (var s in inputs.Skip(1).Append(target).OfType<IActivationSource>())
            if (s.Count != count)
                throw new MechanistInputException(
                    $"{s.Name} has {s.Count} rows but {inputs[0].Name} has {count}; inputs and targets must be row-aligned (same number of rows).");
        if (count < 1) throw new MechanistInputException($"{inputs[0].Name}: no activations to train on.");
        _inputs = inputs.Select(s => new RowReader(s)).ToArray();
        _target = target is null ? null : new RowReader(target);
        _batchSize = batchSize;
        _bufferRows = (long)batchSize * bufferBatches;
        _seed = seed;
        _device = device;
        InputWidth = inputs.Sum(s => s.Dimension);
    }

    public int InputWidth { get; }

    /// <summary>The next batch: inputs [B, Σ d_site] and targets [B, d_out] (null without a target source), on the device.</summary>
    public (Tensor X, Tensor? Y) Next()
    {
        if (_bufferX is null || _offset >= _bufferRows) LoadBuffer(_bufferIndex + 1, permute: true);
        var x = _bufferX!.narrow(0, _offset, _batchSize).to(_device);
        var y = _bufferY?.narrow(0, _offset, _batchSize).to(_device);
        _offset += _batchSize;
        return (x, y);
    }

    /// <summary>Skips <paramref name="batches"/> batches from the start of a fresh stream (whole buffers are read but not shuffled).</summary>
    public void Skip(long batches)
    {
        if (_bufferIndex >= 0) throw new InvalidOperationException("Skip works only on a fresh stream.");
        long rows = batches * _batchSize;
        long buffers = rows / _bufferRows;
        for (long i = 0; i < buffers; i++)
        {
            using var scope = NewDisposeScope();
            foreach (var r in _inputs) r.Take(_bufferRows);
            _target?.Take(_bufferRows);
        }
        _bufferIndex = buffers - 1;
        LoadBuffer(buffers, permute: true);
        _offset = rows - buffers * _bufferRows;
    }

    void LoadBuffer(long index, bool permute)
    {
        _bufferX?.Dispose();
        _bufferY?.Dispose();
        using var scope = NewDisposeScope();
        var parts = _inputs.Select(r => r.Take(_bufferRows)).ToList();
        var x = parts.Count == 1 ? parts[0] : cat(parts, 1);
        var y = _target?.Take(_bufferRows);
        if (permute)
        {
            using var g = new Generator(unchecked((ulong)_seed * 0x9E3779B97F4A7C15UL + (ulong)index + 1));
            var perm = randperm(_bufferRows, generator: g);
            x = x.index_select(0, perm);
            y = y?.index_select(0, perm);
        }
        _bufferX = x.contiguous().DetachFromDisposeScope();
        _bufferY = y?.contiguous().DetachFromDisposeScope();
        _bufferIndex = index;
        _offset = 0;
    }

    public void Dispose()
    {
        _bufferX?.Dispose();
        _bufferY?.Dispose();
        foreach (var r in _inputs) r.Dispose();
        _target?.Dispose();
    }

    /// <summary>Reads rows of one source in order, wrapping around at the end, checking that they are finite.</summary>
    sealed class RowReader(IActivationSource source) : IDisposable
    {
        const int ReadRows = 8192;
        IEnumerator<Tensor>? _batches;
        Tensor? _pending;
        long _rowInPass;

        public Tensor Take(long rows)
        {
            var pieces = new List<Tensor>();
            long needed = rows;
            while (needed > 0)
            {
                if (_pending is null || _pending.shape[0] == 0) Replace(NextChunk().DetachFromDisposeScope());
                long n = Math.Min(needed, _pending!.shape[0]);
                pieces.Add(_pending.narrow(0, 0, n));
                Replace(_pending.narrow(0, n, _pending.shape[0] - n).DetachFromDisposeScope());
                needed -= n;
            }
            return pieces.Count == 1 ? pieces[0] : cat(pieces, 0);
        }

        Tensor NextChunk()
        {
            for (int attempt = 0; attempt < 2; attempt++)
            {
                _batches ??= source.ReadBatches(ReadRows).GetEnumerator();
                if (_batches.MoveNext())
                {
                    var batch = _batches.Current;
                    if (batch.ndim != 2 || batch.shape[1] != source.Dimension)
                        throw new MechanistInputException(
                            $"{source.Name}: a batch has shape [{string.Join(", ", batch.shape)}]; expected [n, {source.Dimension}].");
                    var floats = batch.to(ScalarType.Float32).clone();
                    if (!isfinite(floats).all().item<bool>())
                    {
                        var bad = isfinite(floats).logical_not().flatten().nonzero()[0, 0].item<long>();
                        throw new MechanistInputException(
                            $"{source.Name}: activations contain a non-finite value (NaN or infinity) at row {_rowInPass + bad / source.Dimension}, column {bad % source.Dimension}; activations must be finite.");
                    }
                    _rowInPass += floats.shape[0];
                    if (floats.shape[0] > 0) return floats;
                    attempt = -1;
                    continue;
                }
                _batches.Dispose();
                _batches = null;
                _rowInPass = 0;
            }
            throw new MechanistInputException($"{source.Name}: no activations to read.");
        }

        /// <summary>The pending rows are held outside any dispose scope (they outlive the scope that read them).</summary>
        void Replace(Tensor pending)
        {
            var old = _pending;
            _pending = pending;
            old?.Dispose();
        }

        public void Dispose()
        {
            _batches?.Dispose();
            _pending?.Dispose();
        }
    }
}
