using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Abstractions.Tests;

public sealed class NpyTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Builds .npy bytes by hand as numpy does: magic \x93NUMPY, version, header length, a dict literal padded with
    /// spaces and ending in '\n' so that magic + length + header is a multiple of 64, then the data.
    /// </summary>
    internal static byte[] Build(string descr, bool fortranOrder, long[] shape, byte[] data, byte major = 1)
    {
        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        string dict = $"{{'descr': '{descr}', 'fortran_order': {(fortranOrder ? "True" : "False")}, 'shape': {shapeText}, }}";
        int prefix = major == 1 ? 10 : 12;
        int unpadded = prefix + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        var header = Encoding.ASCII.GetBytes(dict + new string(' ', total - unpadded) + "\n");
        var bytes = new byte[total + data.Length];
        bytes[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY").CopyTo(bytes, 1);
        bytes[6] = major;
        bytes[7] = 0;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)header.Length);
        header.CopyTo(bytes, prefix);
        data.CopyTo(bytes, total);
        Assert.Equal(0, total % 64);
        Assert.Equal((byte)'\n', bytes[total - 1]);
        return bytes;
    }

    /// <summary>.npy v1.0 bytes around a header dict given verbatim.</summary>
    static byte[] BuildRaw(string dict, byte[] data)
    {
        int unpadded = 10 + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        var header = Encoding.ASCII.GetBytes(dict + new string(' ', total - unpadded) + "\n");
        var prefix = new byte[10];
        prefix[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY").CopyTo(prefix, 1);
        prefix[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(prefix.AsSpan(8), (ushort)header.Length);
        return [.. prefix, .. header, .. data];
    }

    static byte[] Bytes<T>(params T[] values) where T : struct => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    string Write(string name, byte[] bytes)
    {
        var path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Float32_c_order_2d()
    {
        float[] v = [1f, 2f, 3f, 4f, 5f, -6.5f];
        using var t = Npy.Read(Write("a.npy", Build("<f4", false, [2, 3], Bytes(v))));
        Assert.Equal(ScalarType.Float32, t.dtype);
        Assert.Equal(new long[] { 2, 3 }, t.shape);
        for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            Assert.Equal(v[i * 3 + j], t[i, j].item<float>());
    }

    [Fact]
    public void Float64()
    {
        double[] v = [Math.PI, -0.0, double.MaxValue, 1e-300];
        using var t = Npy.Read(Write("b.npy", Build("<f8", false, [4], Bytes(v))));
        Assert.Equal(ScalarType.Float64, t.dtype);
        Assert.Equal(new long[] { 4 }, t.shape);
        Assert.Equal(v.Select(BitConverter.DoubleToInt64Bits), t.data<double>().ToArray().Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Float16()
    {
        float[] v = [1f, -2.5f, 65504f, MathF.Pow(2, -24)];
        var bits = v.Select(f => BitConverter.HalfToUInt16Bits((Half)f)).ToArray();
        using var t = Npy.Read(Write("c.npy", Build("<f2", false, [2, 2], Bytes(bits))));
        Assert.Equal(ScalarType.Float16, t.dtype);
        Assert.Equal(new long[] { 2, 2 }, t.shape);
        using var f = t.to(ScalarType.Float32);
        Assert.Equal(v, f.flatten().data<float>().ToArray());
    }

    [Fact]
    public void Integers_and_format_version_2()
    {
        long[] v = [1, -2, 3];
        using var t = Npy.Read(Write("i.npy", Build("<i8", false, [3], Bytes(v), major: 2)));
        Assert.Equal(ScalarType.Int64, t.dtype);
        Assert.Equal(v, t.data<long>().ToArray());
    }

    [Fact]
    public void Fortran_order_2d_is_transposed_correctly()
    {
        // A[i, j] = 10 i + j, stored column by column.
        var column = new List<float>();
        for (int j = 0; j < 3; j++)
        for (int i = 0; i < 2; i++)
            column.Add(10 * i + j);
        using var t = Npy.Read(Write("f.npy", Build("<f4", true, [2, 3], Bytes(column.ToArray()))));
        Assert.Equal(new long[] { 2, 3 }, t.shape);
        for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            Assert.Equal(10f * i + j, t[i, j].item<float>());
        Assert.True(t.is_contiguous());
    }

    [Fact]
    public void Fortran_order_3d_is_transposed_correctly()
    {
        // A[i, j, k] = 100 i + 10 j + k at flat position i + 2 (j + 3 k).
        var data = new double[2 * 3 * 4];
        for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
            data[i + 2 * (j + 3 * k)] = 100 * i + 10 * j + k;
        using var t = Npy.Read(Write("f3.npy", Build("<f8", true, [2, 3, 4], Bytes(data))));
        Assert.Equal(new long[] { 2, 3, 4 }, t.shape);
        for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
            Assert.Equal(100.0 * i + 10 * j + k, t[i, j, k].item<double>());
    }

    [Fact]
    public void Bad_magic()
    {
        var bytes = Build("<f4", false, [1], Bytes(1f));
        bytes[1] = (byte)'X';
        var path = Write("magic.npy", bytes);
        var e = Assert.Throws<MechanistInputException>(() => Npy.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("magic", e.Message);

        var tiny = Write("tiny.npy", [0x93, (byte)'N']);
        Assert.Contains(tiny, Assert.Throws<MechanistInputException>(() => Npy.Read(tiny)).Message);
    }

    [Theory]
    [InlineData("|O")]
    [InlineData(">f4")]
    [InlineData(">f8")]
    [InlineData("<c8")]
    public void Unsupported_descr(string descr)
    {
        var path = Write("descr.npy", Build(descr, false, [2], new byte[8]));
        var e = Assert.Throws<MechanistInputException>(() => Npy.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"'{descr}'", e.Message);
        Assert.Contains("unsupported", e.Message);
    }

    [Fact]
    public void Truncated_data()
    {
        var bytes = Build("<f4", false, [2, 3], Bytes(1f, 2f, 3f, 4f, 5f, 6f));
        var path = Write("trunc.npy", bytes[..^4]);
        var e = Assert.Throws<MechanistInputException>(() => Npy.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("needs 24 data bytes", e.Message);
        Assert.Contains("20", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Truncated_header()
    {
        var bytes = Build("<f4", false, [2], Bytes(1f, 2f));
        var path = Write("trunchead.npy", bytes[..40]);
        var e = Assert.Throws<MechanistInputException>(() => Npy.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("runs past the end", e.Message);
    }

    [Fact]
    public void Scalar_and_hand_written_header_variants()
    {
        // numpy writes a 0-d array with shape (); headers may use other key orders and no trailing comma.
        using var scalar = Npy.Read(Write("s.npy", BuildRaw("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", Bytes(2.5f))));
        Assert.Empty(scalar.shape);
        Assert.Equal(2.5f, scalar.item<float>());

        using var reordered = Npy.Read(Write("r.npy", BuildRaw("{'shape': (1, 2), 'fortran_order': False, 'descr': '<f4'}", Bytes(1f, 2f))));
        Assert.Equal(new long[] { 1, 2 }, reordered.shape);
    }

    [Fact]
    public void Malformed_shape_is_refused()
    {
        var path = Write("bad-shape.npy", BuildRaw("{'descr': '<f4', 'fortran_order': False, 'shape': (two, 3), }", new byte[24]));
        var e = Assert.Throws<MechanistInputException>(() => Npy.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not a tuple of integers", e.Message);

        var negative = Write("neg.npy", BuildRaw("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 0), }", []));
        Assert.Contains(negative, Assert.Throws<MechanistInputException>(() => Npy.Read(negative)).Message);

        var noDescr = Write("nodescr.npy", BuildRaw("{'fortran_order': False, 'shape': (1,), }", new byte[4]));
        Assert.Contains("no 'descr'", Assert.Throws<MechanistInputException>(() => Npy.Read(noDescr)).Message);
    }

    [Fact]
    public void Dimension_too_large_for_a_long_is_refused()
    {
        var path = Write("ovf.npy", BuildRaw("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", new byte[4]));
        var e = Assert.Throws<MechanistInputException>(() => Npy.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Shape_whose_element_count_overflows_is_refused()
    {
        var path = Write("wrap.npy", Build("<f4", false, [4611686018427387904, 4], []));
        var e = Assert.Throws<MechanistInputException>(() => Npy.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Unsupported_version_and_missing_file()
    {
        var bytes = Build("<f4", false, [1], Bytes(1f));
        bytes[6] = 9;
        var path = Write("v9.npy", bytes);
        Assert.Contains("version 9", Assert.Throws<MechanistInputException>(() => Npy.Read(path)).Message);

        var missing = _dir.File("missing.npy");
        var e = Assert.Throws<MechanistInputException>(() => Npy.Read(missing));
        Assert.Contains(missing, e.Message);
        Assert.Contains("not found", e.Message);
    }
}
