using System.Runtime.InteropServices;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Abstractions.Tests;

public sealed class ActivationFilesTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    static byte[] Bytes<T>(params T[] values) where T : struct => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>A [rows, cols] matrix with distinct values exactly representable in F16 and BF16.</summary>
    static float[] Values(int rows, int cols) =>
        Enumerable.Range(0, rows * cols).Select(i => (i % 2 == 0 ? 1 : -1) * (i + 1) * 0.25f).ToArray();

    string WriteSafetensors(string name, Dictionary<string, Tensor> tensors)
    {
        var path = _dir.File(name);
        Safetensors.Write(path, tensors);
        foreach (var t in tensors.Values) t.Dispose();
        return path;
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float64)]
    public void Loads_floating_safetensors(ScalarType type)
    {
        var v = Values(5, 3);
        var path = WriteSafetensors("acts.safetensors",
            new() { ["activations"] = tensor(v).reshape(5, 3).to(type), ["other"] = ones(2) });
        using var m = ActivationFiles.Load(path);
        Assert.Equal(path, m.Name);
        Assert.Equal(5, m.Count);
        Assert.Equal(3, m.Dimension);
        Assert.Equal(ScalarType.Float32, m.Data.dtype);
        Assert.Equal(v, m.Data.flatten().data<float>().ToArray());
    }

    [Fact]
    public void Loads_a_custom_tensor_name()
    {
        var path = WriteSafetensors("named.safetensors", new() { ["resid"] = ones(2, 4) });
        using var m = ActivationFiles.Load(path, "resid");
        Assert.Equal((2L, 4), (m.Count, m.Dimension));
    }

    [Fact]
    public void Loads_npy()
    {
        var v = Values(4, 2);
        var path = _dir.File("acts.npy");
        File.WriteAllBytes(path, NpyTests.Build("<f4", false, [4, 2], Bytes(v)));
        using var m = ActivationFiles.Load(path);
        Assert.Equal((4L, 2), (m.Count, m.Dimension));
        Assert.Equal(v, m.Data.flatten().data<float>().ToArray());

        var half = _dir.File("half.NPY"); // extension matched case-insensitively
        File.WriteAllBytes(half, NpyTests.Build("<f2", false, [4, 2], Bytes(v.Select(f => BitConverter.HalfToUInt16Bits((Half)f)).ToArray())));
        using var h = ActivationFiles.Load(half);
        Assert.Equal(ScalarType.Float32, h.Data.dtype);
        Assert.Equal(v, h.Data.flatten().data<float>().ToArray());
    }

    [Fact]
    public void Missing_activations_key_lists_the_keys_found()
    {
        var path = WriteSafetensors("keys.safetensors", new() { ["acts"] = ones(2, 2), ["labels"] = ones(2) });
        var e = Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'activations'", e.Message);
        Assert.Contains("acts, labels", e.Message);
    }

    [Fact]
    public void One_dimensional_tensor_is_refused()
    {
        var path = WriteSafetensors("vec.safetensors", new() { ["activations"] = ones(6) });
        var e = Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("2-D", e.Message);
        Assert.Contains("[6]", e.Message);

        var npy = _dir.File("vec.npy");
        File.WriteAllBytes(npy, NpyTests.Build("<f4", false, [3], Bytes(1f, 2f, 3f)));
        var n = Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(npy));
        Assert.Contains(npy, n.Message);
        Assert.Contains("2-D", n.Message);
    }

    [Theory]
    [InlineData(ScalarType.Int32, "I32")]
    [InlineData(ScalarType.Int64, "I64")]
    [InlineData(ScalarType.Bool, "BOOL")]
    public void Integer_dtype_is_refused(ScalarType type, string dtype)
    {
        var path = WriteSafetensors("ints.safetensors", new() { ["activations"] = ones(2, 2).to(type) });
        var e = Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(dtype, e.Message);
        Assert.Contains("floating-point", e.Message);
    }

    [Fact]
    public void Integer_npy_is_refused()
    {
        var path = _dir.File("ints.npy");
        File.WriteAllBytes(path, NpyTests.Build("<i4", false, [2, 2], Bytes(1, 2, 3, 4)));
        var e = Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("Int32", e.Message);
        Assert.Contains("floating-point", e.Message);
    }

    [Theory]
    [InlineData(float.NaN, 2, 1, "NaN")]
    [InlineData(float.PositiveInfinity, 1, 2, "infinity")]
    [InlineData(float.NegativeInfinity, 3, 0, "infinity")]
    public void Non_finite_values_are_reported_with_row_and_column(float bad, int row, int column, string kind)
    {
        var v = Values(4, 3);
        v[11] = float.NaN; // a later one: the message must name the first
        v[row * 3 + column] = bad;
        var path = WriteSafetensors("nan.safetensors", new() { ["activations"] = tensor(v).reshape(4, 3) });
        var e = Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(kind, e.Message);
        Assert.Contains($"row {row}, column {column}", e.Message);
    }

    [Fact]
    public void Non_finite_in_half_precision_and_npy()
    {
        var v = Values(3, 4);
        v[6] = float.NaN; // row 1, column 2
        var path = WriteSafetensors("nan16.safetensors", new() { ["activations"] = tensor(v).reshape(3, 4).to(ScalarType.BFloat16) });
        Assert.Contains("row 1, column 2", Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(path)).Message);

        var npy = _dir.File("inf.npy");
        v[6] = 1f;
        v[9] = float.PositiveInfinity; // row 2, column 1
        File.WriteAllBytes(npy, NpyTests.Build("<f4", false, [3, 4], Bytes(v)));
        var e = Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(npy));
        Assert.Contains(npy, e.Message);
        Assert.Contains("row 2, column 1", e.Message);
    }

    [Fact]
    public void Unknown_extension()
    {
        var path = _dir.File("acts.csv");
        File.WriteAllText(path, "1,2\n3,4\n");
        var e = Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'.csv'", e.Message);
    }

    [Fact]
    public void Missing_file()
    {
        var path = _dir.File("missing.safetensors");
        var e = Assert.Throws<MechanistInputException>(() => ActivationFiles.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(12)]
    public void ReadBatches_covers_every_row_once_in_order(int batchSize)
    {
        const int n = 7;
        var v = Values(n, 3);
        using var m = new ActivationMatrix("m", tensor(v).reshape(n, 3));
        Assert.Equal(n, m.Count);
        var rows = new List<float>();
        var sizes = new List<long>();
        foreach (var batch in m.ReadBatches(batchSize))
        {
            using (batch)
            {
                Assert.Equal(3, batch.shape[1]);
                Assert.Equal(ScalarType.Float32, batch.dtype);
                sizes.Add(batch.shape[0]);
                rows.AddRange(batch.contiguous().flatten().data<float>().ToArray());
            }
        }
        Assert.Equal(v, rows);
        Assert.Equal((n + batchSize - 1) / batchSize, sizes.Count);
        Assert.All(sizes.SkipLast(1), s => Assert.Equal(batchSize, s));
        Assert.Equal(n, sizes.Sum());
        // The matrix is intact after the batches were disposed.
        Assert.Equal(v, m.Data.flatten().data<float>().ToArray());
    }

    [Fact]
    public void ReadBatches_rejects_non_positive_sizes_and_matrix_rejects_bad_shapes()
    {
        using var m = new ActivationMatrix("m", ones(2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.ReadBatches(0).ToList());
        using var vec = ones(3);
        Assert.Contains("2-D", Assert.Throws<MechanistInputException>(() => new ActivationMatrix("v", vec)).Message);
        using var empty = zeros(0, 3);
        Assert.Contains("empty", Assert.Throws<MechanistInputException>(() => new ActivationMatrix("e", empty)).Message);
    }
}
