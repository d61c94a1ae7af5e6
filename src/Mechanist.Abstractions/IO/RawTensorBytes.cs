using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Mechanist.IO;

/// <summary>
/// Converts between little-endian raw bytes and tensors, element type by element type. Half-precision values go
/// through float32, which represents every finite value and infinity exactly, so a read-then-write round trip is
/// bit for bit except for NaN payloads and signs in F16/BF16 (a NaN stays a NaN; TorchSharp offers no raw-bit view
/// to carry the payload through).
/// </summary>
public static class RawTensorBytes
{
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType type, long[] shape)
    {
        Tensor flat = type switch
        {
            ScalarType.Float32 => tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray()),
            ScalarType.Float64 => tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray()),
            ScalarType.Float16 => HalfToFloat(bytes, bf16: false).to(ScalarType.Float16),
            ScalarType.BFloat16 => HalfToFloat(bytes, bf16: true).to(ScalarType.BFloat16),
            ScalarType.Int64 => tensor(MemoryMarshal.Cast<byte, long>(bytes).ToArray()),
            ScalarType.Int32 => tensor(MemoryMarshal.Cast<byte, int>(bytes).ToArray()),
            ScalarType.Int16 => tensor(MemoryMarshal.Cast<byte, short>(bytes).ToArray()),
            ScalarType.Int8 => tensor(MemoryMarshal.Cast<byte, sbyte>(bytes).ToArray()),
            ScalarType.Byte => tensor(bytes.ToArray()),
            ScalarType.Bool => tensor(bytes.ToArray().Select(b => b != 0).ToArray()),
            _ => throw new NotSupportedException($"element type {type}"),
        };
        using (flat) return flat.reshape(shape).clone();
    }

    static Tensor HalfToFloat(ReadOnlySpan<byte> bytes, bool bf16)
    {
        var raw = MemoryMarshal.Cast<byte, ushort>(bytes);
        var values = new float[raw.Length];
        for (int i = 0; i < raw.Length; i++)
            values[i] = bf16 ? BitConverter.Int32BitsToSingle(raw[i] << 16) : (float)BitConverter.UInt16BitsToHalf(raw[i]);
        return tensor(values);
    }

    public static byte[] ToBytes(Tensor t)
    {
        using var scope = NewDisposeScope();
        var c = t.detach().cpu().contiguous().flatten();
        switch (c.dtype)
        {
            case ScalarType.Float32: return MemoryMarshal.AsBytes(c.data<float>().ToArray().AsSpan()).ToArray();
            case ScalarType.Float64: return MemoryMarshal.AsBytes(c.data<double>().ToArray().AsSpan()).ToArray();
            case ScalarType.Int64: return MemoryMarshal.AsBytes(c.data<long>().ToArray().AsSpan()).ToArray();
            case ScalarType.Int32: return MemoryMarshal.AsBytes(c.data<int>().ToArray().AsSpan()).ToArray();
            case ScalarType.Int16: return MemoryMarshal.AsBytes(c.data<short>().ToArray().AsSpan()).ToArray();
            case ScalarType.Int8: return MemoryMarshal.AsBytes(c.data<sbyte>().ToArray().AsSpan()).ToArray();
            case ScalarType.Byte: return c.data<byte>().ToArray();
            case ScalarType.Bool: return c.data<bool>().ToArray().Select(b => b ? (byte)1 : (byte)0).ToArray();
            case ScalarType.Float16:
            case ScalarType.BFloat16:
            {
                bool bf16 = c.dtype == ScalarType.BFloat16;
                var floats = c.to(ScalarType.Float32).data<float>().ToArray();
                var raw = new ushort[floats.Length];
                for (int i = 0; i < floats.Length; i++)
                    raw[i] = bf16 ? (ushort)(BitConverter.SingleToInt32Bits(floats[i]) >> 16) : BitConverter.HalfToUInt16Bits((Half)floats[i]);
                return MemoryMarshal.AsBytes(raw.AsSpan()).ToArray();
            }
            default: throw new NotSupportedException($"element type {c.dtype}");
        }
    }
}
