using CsCheck;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Abstractions.Tests;

/// <summary>
/// Property: any tensor of any supported dtype and shape survives a write and a read bit for bit, through safetensors
/// and through .npy. The NaN rule: values are moved as bytes, never converted, so every bit pattern comes back —
/// NaN payloads and signs, signalling NaNs, negative zero, subnormals and infinities included, in F16 and BF16 as in
/// F32 and F64. A BOOL element is a byte 0 or 1 (other bytes are refused on reading).
/// </summary>
public sealed class TensorFilePropertyTests
{
    /// <summary>A dtype, its element size, and whether it is floating point.</summary>
    public sealed record DType(ScalarType Type, int Size, int ExponentBits);

    static readonly DType[] Safetensors_ =
    [
        new(ScalarType.Float64, 8, 11), new(ScalarType.Float32, 4, 8), new(ScalarType.Float16, 2, 5), new(ScalarType.BFloat16, 2, 8),
        new(ScalarType.Int64, 8, 0), new(ScalarType.Int32, 4, 0), new(ScalarType.Int16, 2, 0), new(ScalarType.Int8, 1, 0),
        new(ScalarType.Byte, 1, 0), new(ScalarType.Bool, 1, 0),
    ];

    /// <summary>NumPy has no bfloat16.</summary>
    static readonly DType[] Npy_ = Safetensors_.Where(d => d.Type != ScalarType.BFloat16).ToArray();

    /// <summary>
    /// A tensor as (dtype, shape, raw little-endian bytes): rank 0 to 4, dimensions 0 to 5; the bytes are random, and
    /// half of the floating-point tensors have their exponents forced to all ones, so that most elements are NaNs
    /// with random payloads and signs (or infinities).
    /// </summary>
    static Gen<(DType Type, long[] Shape, byte[] Bytes)> Tensors(DType[] dtypes) =>
        Gen.Select(Gen.OneOf(dtypes), Gen.Int[0, 5].Array[0, 4], Gen.Bool)
            .SelectMany((dtype, dims, nans) =>
            {
                var shape = dims.Select(d => (long)d).ToArray();
                int count = (int)shape.Aggregate(1L, (a, b) => a * b);
                return Gen.Byte.Array[count * dtype.Size].Select(bytes => (dtype, shape, Shape(dtype, bytes, nans)));
            });

    static byte[] Shape(DType dtype, byte[] bytes, bool nans)
    {
        if (dtype.Type == ScalarType.Bool) return bytes.Select(b => (byte)(b & 1)).ToArray();
        if (!nans || dtype.ExponentBits == 0) return bytes;
        // Little-endian: the exponent sits below the sign bit at the top of the element's last bytes.
        for (int at = 0; at < bytes.Length; at += dtype.Size)
        {
            ulong bits = 0;
            for (int i = 0; i < dtype.Size; i++) bits |= (ulong)bytes[at + i] << (8 * i);
            int width = dtype.Size * 8;
            ulong exponent = ((1UL << dtype.ExponentBits) - 1) << (width - 1 - dtype.ExponentBits);
            bits |= exponent;
            for (int i = 0; i < dtype.Size; i++) bytes[at + i] = (byte)(bits >> (8 * i));
        }
        return bytes;
    }

    [Fact]
    public void Any_tensor_round_trips_through_safetensors_bit_for_bit()
    {
        using var temp = new TempDir();
        var path = temp.File("t.safetensors");
        Gen.Select(Tensors(Safetensors_), Gen.Int[1, 3]).Sample((tensor, extra) =>
        {
            var (dtype, shape, bytes) = tensor;
            using var scope = NewDisposeScope();
            var written = new Dictionary<string, Tensor>
            {
                ["x"] = RawTensorBytes.FromBytes(bytes, dtype.Type, shape),
                // a neighbour so that offsets other than 0 are exercised
                ["y"] = arange(extra, ScalarType.Int16),
            };
            Safetensors.Write(path, written, new Dictionary<string, string> { ["k"] = "v" });
            var header = Safetensors.ReadHeader(path);
            var read = Safetensors.ReadTensor(header, "x");
            return read.dtype == dtype.Type && read.shape.SequenceEqual(shape) && RawTensorBytes.ToBytes(read).AsSpan().SequenceEqual(bytes)
                && TensorAssert.Identical(Safetensors.ReadTensor(header, "y"), written["y"]) && header.Metadata["k"] == "v";
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void Any_tensor_round_trips_through_npy_bit_for_bit()
    {
        using var temp = new TempDir();
        var path = temp.File("t.npy");
        Tensors(Npy_).Sample((dtype, shape, bytes) =>
        {
            using var scope = NewDisposeScope();
            Npy.Write(path, RawTensorBytes.FromBytes(bytes, dtype.Type, shape));
            var read = Npy.Read(path);
            return read.dtype == dtype.Type && read.shape.SequenceEqual(shape) && RawTensorBytes.ToBytes(read).AsSpan().SequenceEqual(bytes)
                && new FileInfo(path).Length - bytes.Length is var header && header % 64 == 0;
        }, iter: 300, threads: 1);
    }

    /// <summary>A Fortran-order file holds the transpose's bytes; it reads as the same tensor as the C-order file.</summary>
    [Fact]
    public void A_fortran_order_npy_reads_as_the_same_tensor_as_its_c_order_twin()
    {
        using var temp = new TempDir();
        Tensors(Npy_).Where(t => t.Shape.Length >= 2).Sample((dtype, shape, bytes) =>
        {
            using var scope = NewDisposeScope();
            var c = RawTensorBytes.FromBytes(bytes, dtype.Type, shape);
            var transposed = c.permute(Enumerable.Range(0, shape.Length).Reverse().Select(i => (long)i).ToArray()).contiguous();
            Npy.Write(temp.File("c.npy"), c);
            var file = File.ReadAllBytes(temp.File("c.npy"));
            int headerLength = file.Length - bytes.Length;
            var header = System.Text.Encoding.Latin1.GetString(file, 0, headerLength).Replace("'fortran_order': False", "'fortran_order': True ");
            File.WriteAllBytes(temp.File("f.npy"), [.. System.Text.Encoding.Latin1.GetBytes(header), .. RawTensorBytes.ToBytes(transposed)]);
            return TensorAssert.Identical(Npy.Read(temp.File("f.npy")), c);
        }, iter: 100, threads: 1);
    }

    [Fact]
    public void Npy_files_have_numpys_header_layout()
    {
        using var temp = new TempDir();
        using var scope = NewDisposeScope();
        Npy.Write(temp.File("a.npy"), tensor(new float[] { 1, 2, 3, 4, 5, 6 }).reshape(2, 3));
        var bytes = File.ReadAllBytes(temp.File("a.npy"));
        Assert.Equal([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0], bytes[..8]);
        int headerLength = BitConverter.ToUInt16(bytes, 8);
        Assert.Equal(0, (10 + headerLength) % 64);
        var header = System.Text.Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.Equal("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", header.TrimEnd('\n', ' '));
        Assert.Equal('\n', header[^1]);
        Assert.Equal(BitConverter.GetBytes(6f), bytes[^4..]);
        Npy.Write(temp.File("s.npy"), tensor(7L));
        Assert.Contains("'shape': ()", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(temp.File("s.npy"))));
        Npy.Write(temp.File("v.npy"), zeros(3, ScalarType.Int8));
        Assert.Contains("'descr': '|i1', 'fortran_order': False, 'shape': (3,)", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(temp.File("v.npy"))));
        Assert.Throws<NotSupportedException>(() => Npy.Write(temp.File("b.npy"), zeros(2, ScalarType.BFloat16)));
    }

    [Fact]
    public void A_bool_byte_other_than_0_or_1_is_refused()
    {
        using var temp = new TempDir();
        var path = temp.File("b.safetensors");
        var json = """{"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}""";
        var header = System.Text.Encoding.UTF8.GetBytes(json);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, 1, 0, 2]);
        var e = Assert.Throws<MechanistInputException>(() => Safetensors.ReadAll(path));
        Assert.Contains($"{path}: tensor 'b': BOOL element holds byte 2", e.Message);
    }
}
