using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Testing;

internal static class Tensors
{
    /// <summary>Same dtype, same shape, same bytes (bit for bit).</summary>
    public static bool Identical(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && RawTensorBytes.ToBytes(a).AsSpan().SequenceEqual(RawTensorBytes.ToBytes(b));

    public static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    /// <summary>The largest absolute difference, for a message.</summary>
    public static double MaxDifference(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.shape.SequenceEqual(b.shape) ? (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>() : double.NaN;
    }
}
