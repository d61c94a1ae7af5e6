using static TorchSharp.torch;

namespace Mechanist.IO;

/// <summary>
/// Moves little-endian raw bytes into and out of tensor storage unchanged, element type by element type: every
/// round trip is bit for bit, NaN payloads and signs included, in every dtype (F16 and BF16 too). Large tensors move
/// in chunks, straight between the stream and the tensor's memory, so reading a tensor costs its own size and no more.
/// A BOOL element is one byte, 0 or 1; any other byte is refused.
/// </summary>
public static class RawTensorBytes
{
    const long ChunkBytes = 16L << 20;

    /// <summary>A CPU tensor of <paramref name="type"/> and <paramref name="shape"/> holding exactly <paramref name="bytes"/>.</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType type, long[] shape)
    {
        var t = empty(shape, type);
        try
        {
            if (t.NumberOfElements * t.ElementSize != bytes.Length)
                throw new ArgumentException($"{bytes.Length} bytes for a {type} tensor of shape [{string.Join(", ", shape)}]");
            if (bytes.Length > 0) bytes.CopyTo(t.bytes);
            if (type == ScalarType.Bool) CheckBools(t.bytes, "the data");
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a tensor of <paramref name="type"/> and <paramref name="shape"/> from <paramref name="stream"/>'s current
    /// position, chunk by chunk into the tensor's memory. <paramref name="where"/> names the source in errors.
    /// </summary>
    public static Tensor Read(Stream stream, ScalarType type, long[] shape, string where)
    {
        var t = empty(shape, type);
        try
        {
            using var flat = t.view(-1);
            long count = flat.NumberOfElements, size = flat.ElementSize;
            long perChunk = Math.Max(1, ChunkBytes / size);
            for (long start = 0; start < count; start += perChunk)
            {
                using var chunk = flat.narrow(0, start, Math.Min(perChunk, count - start));
                var span = chunk.bytes;
                try { stream.ReadExactly(span); }
                catch (EndOfStreamException) { throw new MechanistInputException($"{where}: the file ends inside the tensor's data (truncated or changed while reading)."); }
                if (type == ScalarType.Bool) CheckBools(span, where);
            }
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    static void CheckBools(ReadOnlySpan<byte> bytes, string where)
    {
        int bad = bytes.IndexOfAnyExcept((byte)0, (byte)1);
        if (bad >= 0) throw new MechanistInputException($"{where}: BOOL element holds byte {bytes[bad]}; expected 0 or 1.");
    }

    /// <summary>The tensor's elements as little-endian bytes (CPU, contiguous), exactly as stored.</summary>
    public static byte[] ToBytes(Tensor t)
    {
        using var scope = NewDisposeScope();
        var c = t.detach().cpu().contiguous();
        return c.NumberOfElements == 0 ? [] : c.bytes.ToArray();
    }

    /// <summary>Writes the tensor's elements to <paramref name="stream"/> chunk by chunk (no copy of the whole tensor).</summary>
    public static void Write(Stream stream, Tensor t)
    {
        using var scope = NewDisposeScope();
        var flat = t.detach().cpu().contiguous().view(-1);
        long count = flat.NumberOfElements, perChunk = Math.Max(1, ChunkBytes / flat.ElementSize);
        for (long start = 0; start < count; start += perChunk)
            stream.Write(flat.narrow(0, start, Math.Min(perChunk, count - start)).bytes);
    }

    /// <summary>Bytes of <paramref name="t"/>'s elements.</summary>
    public static long ByteCount(Tensor t) => t.NumberOfElements * t.ElementSize;
}
