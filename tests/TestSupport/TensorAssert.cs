using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Testing;

/// <summary>Exact tensor comparisons for tests.</summary>
public static class TensorAssert
{
    /// <summary>Same dtype, same shape, same bytes (bit for bit, NaN included).</summary>
    public static bool Identical(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && RawTensorBytes.ToBytes(a).AsSpan().SequenceEqual(RawTensorBytes.ToBytes(b));
}
