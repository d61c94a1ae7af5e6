using static TorchSharp.torch;

namespace Mechanist;

/// <summary>
/// A matrix of activations [Count, Dimension], read in row batches so that sources larger than memory can stream.
/// </summary>
public interface IActivationSource
{
    /// <summary>Where the activations came from (a file or folder path), for messages.</summary>
    string Name { get; }

    long Count { get; }

    int Dimension { get; }

    /// <summary>
    /// Row batches of at most <paramref name="batchSize"/> rows, in order, as float32 CPU tensors [b, Dimension].
    /// Each batch belongs to the caller (a dispose scope around the loop body collects it).
    /// </summary>
    IEnumerable<Tensor> ReadBatches(int batchSize);
}
