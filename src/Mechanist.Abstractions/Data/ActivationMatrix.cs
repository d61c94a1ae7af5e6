using static TorchSharp.torch;

namespace Mechanist;

/// <summary>An activation source held in memory as one float32 CPU tensor [N, d]. Owns the tensor.</summary>
public sealed class ActivationMatrix : IActivationSource, IDisposable
{
    readonly Tensor _data;

    public ActivationMatrix(string name, Tensor data)
    {
        if (data.ndim != 2)
            throw new MechanistInputException($"{name}: activations must be a 2-D matrix [N, d], got shape [{string.Join(", ", data.shape)}].");
        if (data.shape[0] == 0 || data.shape[1] == 0)
            throw new MechanistInputException($"{name}: activations matrix is empty (shape [{string.Join(", ", data.shape)}]).");
        Name = name;
        using (no_grad())
            _data = data.to(ScalarType.Float32, CPU).contiguous().clone().DetachFromDisposeScope();
    }

    public string Name { get; }
    public long Count => _data.shape[0];
    public int Dimension => (int)_data.shape[1];

    /// <summary>The whole matrix (owned by this object: do not dispose).</summary>
    public Tensor Data => _data;

    public IEnumerable<Tensor> ReadBatches(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        for (long start = 0; start < Count; start += batchSize)
        {
            long length = Math.Min(batchSize, Count - start);
            yield return _data.narrow(0, start, length);
        }
    }

    public void Dispose() => _data.Dispose();
}
