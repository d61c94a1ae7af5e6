using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Abstractions.Tests;

public sealed class SafetensorsTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // ---- helpers, independent of the code under test ----

    /// <summary>Builds a safetensors file by hand: 8-byte little-endian header length, the JSON, the raw data.</summary>
    internal static byte[] BuildFile(string json, byte[] data)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    static byte[] Bytes<T>(params T[] values) where T : struct => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>Same dtype, same shape, every element equal (torch.equal: TorchSharp's equal is element-wise).</summary>
    static bool Same(Tensor a, Tensor b)
    {
        using var eq = a.eq(b);
        using var all = eq.all();
        return a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && all.item<bool>();
    }

    static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>Parses a file's header with System.Text.Json alone: (header length, JSON root, data section).</summary>
    static (ulong Length, JsonElement Root, byte[] Data) ParseIndependently(string path)
    {
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var json = JsonDocument.Parse(bytes.AsMemory(8, (int)n)).RootElement.Clone();
        return (n, json, bytes[(8 + (int)n)..]);
    }

    static byte[] Section(JsonElement root, byte[] data, string key)
    {
        var offsets = root.GetProperty(key).GetProperty("data_offsets");
        long begin = offsets[0].GetInt64(), end = offsets[1].GetInt64();
        return data[(int)begin..(int)end];
    }

    static MechanistInputException ReadBad(string path) =>
        Assert.Throws<MechanistInputException>(() => Safetensors.ReadHeader(path));

    string WriteBytes(string name, byte[] bytes)
    {
        var path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // ---- round trips ----

    /// <summary>A tensor of each dtype with its expected little-endian bytes, computed without RawTensorBytes.</summary>
    public static TheoryData<string> DTypeNames => new() { "F32", "F64", "F16", "BF16", "I64", "I32", "U8", "BOOL" };

    static (Tensor Tensor, byte[] Expected, ScalarType Type) Sample(string dtype)
    {
        switch (dtype)
        {
            case "F32":
            {
                float[] v = [1.5f, -0f, float.Epsilon, float.MaxValue, float.PositiveInfinity, float.NegativeInfinity, 3.14159f, -2e-38f];
                return (tensor(v).reshape(2, 4), Bytes(v), ScalarType.Float32);
            }
            case "F64":
            {
                double[] v = [1.5, -0.0, double.Epsilon, double.MaxValue, double.NegativeInfinity, Math.PI];
                return (tensor(v).reshape(3, 2), Bytes(v), ScalarType.Float64);
            }
            case "F16":
            {
                // Values exactly representable in half: max, min normal 2^-14, min subnormal 2^-24, -0, infinities.
                float[] v = [1f, -0f, 65504f, MathF.Pow(2, -14), MathF.Pow(2, -24), float.PositiveInfinity, float.NegativeInfinity, 0.333251953125f, -1234.5f];
                var bits = v.Select(f => BitConverter.HalfToUInt16Bits((Half)f)).ToArray();
                return (tensor(v).to(ScalarType.Float16).reshape(3, 3), Bytes(bits), ScalarType.Float16);
            }
            case "BF16":
            {
                // Values exactly representable in bfloat16 (upper 16 bits of a float32).
                float[] v = [1f, -0f, 3.0e38f, 1e-38f, float.PositiveInfinity, float.NegativeInfinity, 0.333984375f, -1234f];
                var bits = v.Select(f => (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16)).ToArray();
                var exact = bits.Select(b => BitConverter.UInt32BitsToSingle((uint)b << 16)).ToArray();
                return (tensor(exact).to(ScalarType.BFloat16).reshape(2, 4), Bytes(bits), ScalarType.BFloat16);
            }
            case "I64":
            {
                long[] v = [long.MinValue, -1, 0, 1, long.MaxValue, 1L << 40];
                return (tensor(v).reshape(2, 3), Bytes(v), ScalarType.Int64);
            }
            case "I32":
            {
                int[] v = [int.MinValue, -1, 0, 1, int.MaxValue, 123456];
                return (tensor(v).reshape(6), Bytes(v), ScalarType.Int32);
            }
            case "U8":
            {
                byte[] v = [0, 1, 127, 128, 200, 255];
                return (tensor(v).reshape(1, 2, 3), v, ScalarType.Byte);
            }
            case "BOOL":
            {
                bool[] v = [true, false, false, true, true];
                return (tensor(v), v.Select(b => b ? (byte)1 : (byte)0).ToArray(), ScalarType.Bool);
            }
            default: throw new ArgumentException(dtype);
        }
    }

    [Theory]
    [MemberData(nameof(DTypeNames))]
    public void Write_then_read_is_bit_for_bit(string dtype)
    {
        var (t, expected, type) = Sample(dtype);
        using var _ = t;
        using var other = tensor(new float[] { 7f, 8f });
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode ✓" };
        var path = _dir.File("a.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["x"] = t, ["other"] = other }, metadata);

        // The bytes on disk, read without the code under test.
        var (_, root, data) = ParseIndependently(path);
        Assert.Equal(dtype, root.GetProperty("x").GetProperty("dtype").GetString());
        Assert.Equal(t.shape, root.GetProperty("x").GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        Assert.Equal(expected, Section(root, data, "x"));
        Assert.Equal(Bytes(7f, 8f), Section(root, data, "other"));
        Assert.Equal("pt", root.GetProperty("__metadata__").GetProperty("format").GetString());

        // Read back through the code under test.
        var header = Safetensors.ReadHeader(path);
        Assert.Equal(metadata, header.Metadata);
        Assert.Equal(dtype, header.Entries["x"].DType);
        var all = Safetensors.ReadAll(path);
        try
        {
            Assert.Equal(["other", "x"], all.Keys.Order());
            var x = all["x"];
            Assert.Equal(type, x.dtype);
            Assert.Equal(t.shape, x.shape);
            Assert.True(Same(t, x), $"{dtype} values differ after the round trip");

            // Writing what was read gives the identical file, bit for bit (covers -0 and other values torch.equal ignores).
            var again = _dir.File("b.safetensors");
            Safetensors.Write(again, all, metadata);
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));
        }
        finally
        {
            foreach (var v in all.Values) v.Dispose();
        }
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Every_non_NaN_half_bit_pattern_survives_read_then_write(string dtype)
    {
        bool bf16 = dtype == "BF16";
        static bool IsNaN(ushort b, bool bf16) => bf16
            ? (b & 0x7F80) == 0x7F80 && (b & 0x007F) != 0
            : (b & 0x7C00) == 0x7C00 && (b & 0x03FF) != 0;
        var bits = Enumerable.Range(0, 65536).Select(i => (ushort)i).Where(b => !IsNaN(b, bf16)).ToArray();
        var data = Bytes(bits);
        var json = $"{{\"h\":{{\"dtype\":\"{dtype}\",\"shape\":[{bits.Length}],\"data_offsets\":[0,{data.Length}]}}}}";
        var path = WriteBytes("h.safetensors", BuildFile(json, data));

        var all = Safetensors.ReadAll(path);
        using var h = all["h"];
        Assert.Equal(bf16 ? ScalarType.BFloat16 : ScalarType.Float16, h.dtype);
        var copy = _dir.File("copy.safetensors");
        Safetensors.Write(copy, all);
        var (_, root, written) = ParseIndependently(copy);
        Assert.Equal(data, Section(root, written, "h"));
    }

    [Fact]
    public void Reads_a_file_built_by_hand_to_the_spec()
    {
        float[] a = [1f, 2f, 3f, -4f, 5.5f, 6f];
        long[] b = [10, -20];
        var data = Concat(Bytes(a), Bytes(b), [1, 0, 1]);
        // Unsorted keys, spaces in the JSON, trailing space padding, metadata first: all allowed by the spec.
        var json = "{\"__metadata__\": {\"source\": \"hand\"}, \"b\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [24, 40]}, "
                 + "\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, "
                 + "\"c\": {\"dtype\": \"BOOL\", \"shape\": [3], \"data_offsets\": [40, 43]}}   ";
        var path = WriteBytes("hand.safetensors", BuildFile(json, data));

        var header = Safetensors.ReadHeader(path);
        Assert.Equal(8 + Encoding.UTF8.GetByteCount(json), header.DataStart);
        Assert.Equal("hand", header.Metadata["source"]);
        Assert.Equal(["a", "b", "c"], header.Entries.Keys.Order());
        Assert.Equal(new long[] { 2, 3 }, header.Entries["a"].Shape);
        Assert.Equal((24L, 40L), (header.Entries["b"].Begin, header.Entries["b"].End));

        using var ta = Safetensors.ReadTensor(header, "a");
        using var tb = Safetensors.ReadTensor(header, "b");
        using var tc = Safetensors.ReadTensor(header, "c");
        Assert.Equal(new long[] { 2, 3 }, ta.shape);
        Assert.Equal(-4f, ta[1, 0].item<float>());
        Assert.Equal(a, ta.flatten().data<float>().ToArray());
        Assert.Equal(b, tb.data<long>().ToArray());
        Assert.Equal(new[] { true, false, true }, tc.data<bool>().ToArray());
    }

    [Fact]
    public void Written_header_follows_the_spec_layout()
    {
        using var w = tensor(new float[] { 1, 2, 3, 4, 5, 6 }).reshape(3, 2);
        using var ids = tensor(new long[] { 9, 8, 7 });
        using var empty = zeros(0, 4);
        var path = _dir.File("layout.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["weight"] = w, ["ids"] = ids, ["empty"] = empty },
            new Dictionary<string, string> { ["k"] = "v" });

        var bytes = File.ReadAllBytes(path);
        var (n, root, data) = ParseIndependently(path);
        Assert.Equal(0UL, (8 + n) % 8); // data section aligned to 8 bytes
        var headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{", headerText);
        Assert.Matches(@"^\{.*\} *$", headerText); // JSON padded with spaces only
        Assert.Equal("v", root.GetProperty("__metadata__").GetProperty("k").GetString());
        Assert.Equal(new long[] { 3, 2 }, root.GetProperty("weight").GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(new long[] { 0, 4 }, root.GetProperty("empty").GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(Bytes(1f, 2f, 3f, 4f, 5f, 6f), Section(root, data, "weight"));
        Assert.Equal(Bytes(9L, 8L, 7L), Section(root, data, "ids"));
        Assert.Empty(Section(root, data, "empty"));
        // Data section holds exactly the tensors, with no gaps.
        Assert.Equal(24 + 24, data.Length);
        var ranges = new[] { "weight", "ids", "empty" }
            .Select(k => root.GetProperty(k).GetProperty("data_offsets"))
            .Select(o => (o[0].GetInt64(), o[1].GetInt64())).OrderBy(r => r).ToList();
        Assert.Equal(0, ranges[0].Item1);
        for (int i = 1; i < ranges.Count; i++) Assert.Equal(ranges[i - 1].Item2, ranges[i].Item1);

        using var back = Safetensors.ReadTensor(Safetensors.ReadHeader(path), "empty");
        Assert.Equal(new long[] { 0, 4 }, back.shape);
    }

    [Fact]
    public void Non_contiguous_tensor_is_written_in_logical_order()
    {
        using var m = tensor(new float[] { 1, 2, 3, 4, 5, 6 }).reshape(2, 3);
        using var t = m.t(); // [3, 2] view, not contiguous
        var path = _dir.File("t.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["t"] = t });
        var (_, root, data) = ParseIndependently(path);
        Assert.Equal(Bytes(1f, 4f, 2f, 5f, 3f, 6f), Section(root, data, "t"));
        using var back = Safetensors.ReadTensor(Safetensors.ReadHeader(path), "t");
        Assert.True(Same(t, back));
    }

    [Fact]
    public void Write_leaves_no_temporary_files_and_replaces_an_existing_file()
    {
        var path = _dir.File("w.safetensors");
        using (var first = tensor(new float[] { 1, 2, 3 }))
            Safetensors.Write(path, new Dictionary<string, Tensor> { ["first"] = first }, new Dictionary<string, string> { ["v"] = "1" });
        Assert.Equal(["w.safetensors"], _dir.Entries());

        using (var second = tensor(new long[] { 42 }))
            Safetensors.Write(path, new Dictionary<string, Tensor> { ["second"] = second });
        Assert.Equal(["w.safetensors"], _dir.Entries());

        var header = Safetensors.ReadHeader(path);
        Assert.Equal(["second"], header.Entries.Keys);
        Assert.Empty(header.Metadata);
        using var s = Safetensors.ReadTensor(header, "second");
        Assert.Equal(42L, s.item<long>());
    }

    [Fact]
    public void Zero_size_tensor_sharing_an_offset_with_a_later_listed_tensor_is_not_an_overlap()
    {
        // Header order need not follow offsets: "b" (8 bytes at [0, 8]) is listed before "a" (empty, at [0, 0]).
        var json = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
        var path = WriteBytes("z.safetensors", BuildFile(json, Bytes(1f, 2f)));
        var header = Safetensors.ReadHeader(path);
        Assert.Equal(["a", "b"], header.Entries.Keys.Order());
    }

    [Fact]
    public void NaN_stays_NaN_through_half_precision()
    {
        ushort[] f16 = [0x7E00, 0xFE00, 0x7C01];
        ushort[] bf16 = [0x7FC0, 0xFFC0, 0x7F81];
        foreach (var (dtype, bits) in new[] { ("F16", f16), ("BF16", bf16) })
        {
            var data = Bytes(bits);
            var path = WriteBytes("nan.safetensors",
                BuildFile($"{{\"n\":{{\"dtype\":\"{dtype}\",\"shape\":[3],\"data_offsets\":[0,6]}}}}", data));
            var all = Safetensors.ReadAll(path);
            using var n = all["n"];
            using var isNaN = n.isnan();
            using var every = isNaN.all();
            Assert.True(every.item<bool>(), dtype);
        }
    }


    // ---- bad inputs ----

    [Fact]
    public void Missing_file()
    {
        var path = _dir.File("nope.safetensors");
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void File_shorter_than_eight_bytes(int length)
    {
        var path = WriteBytes("short.safetensors", new byte[length]);
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("shorter than the 8-byte", e.Message);
        Assert.Contains($"{length} bytes", e.Message);
    }

    [Fact]
    public void Header_length_past_the_end_of_the_file()
    {
        var bytes = BuildFile("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        var path = WriteBytes("past.safetensors", bytes);
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("runs past the end", e.Message);
        Assert.Contains("1000", e.Message);
    }

    [Theory]
    [InlineData(100_000_001UL)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    public void Absurd_header_length(ulong length)
    {
        var bytes = BuildFile("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
        var path = WriteBytes("absurd.safetensors", bytes);
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("exceeds the limit", e.Message);
        Assert.Contains(length.ToString(), e.Message);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"a\": ")]
    public void Header_not_json(string header)
    {
        var path = WriteBytes("notjson.safetensors", BuildFile(header, []));
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void Header_json_that_is_not_an_object()
    {
        var path = WriteBytes("array.safetensors", BuildFile("[1, 2]", []));
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("not a JSON object", e.Message);
    }

    [Fact]
    public void Unknown_dtype()
    {
        var path = WriteBytes("dtype.safetensors",
            BuildFile("{\"weird\":{\"dtype\":\"F8_E9\",\"shape\":[4],\"data_offsets\":[0,4]}}", new byte[4]));
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("'weird'", e.Message);
        Assert.Contains("F8_E9", e.Message);
        Assert.Contains("unsupported dtype", e.Message);
    }

    [Fact]
    public void Shape_and_offsets_disagree()
    {
        // [2, 3] of F32 needs 24 bytes; the offsets span 20.
        var path = WriteBytes("mismatch.safetensors",
            BuildFile("{\"m\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", new byte[24]));
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("'m'", e.Message);
        Assert.Contains("needs 24 bytes", e.Message);
        Assert.Contains("span 20", e.Message);
    }

    [Theory]
    [InlineData("{\"q\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "missing 'dtype'")]
    [InlineData("{\"q\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "missing 'shape'")]
    [InlineData("{\"q\":{\"dtype\":\"F32\",\"shape\":[1]}}", "missing 'data_offsets'")]
    [InlineData("{\"q\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "non-negative integers")]
    [InlineData("{\"q\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "two integers")]
    [InlineData("{\"q\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "outside the data section")]
    [InlineData("{\"q\":[1,2,3]}", "must be an object")]
    [InlineData("{\"__metadata__\":{\"n\":3}}", "'__metadata__.n' must be a string")]
    public void Malformed_entries_name_the_key(string json, string problem)
    {
        var path = WriteBytes("entry.safetensors", BuildFile(json, new byte[4]));
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
        if (!json.Contains("__metadata__")) Assert.Contains("'q'", e.Message);
    }

    [Fact]
    public void Truncated_data_section()
    {
        var path = _dir.File("trunc.safetensors");
        using (var a = ones(4, 4))
        using (var b = ones(2))
            Safetensors.Write(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b });
        Safetensors.ReadHeader(path); // valid before cutting
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);

        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("'b'", e.Message); // "b" is written last: its data is the part cut off
        Assert.Contains("outside the data section", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Overlapping_tensors()
    {
        var json = "{\"first\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 + "\"second\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        var path = WriteBytes("overlap.safetensors", BuildFile(json, new byte[12]));
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("'first'", e.Message);
        Assert.Contains("'second'", e.Message);
        Assert.Contains("overlap", e.Message);
    }

    [Fact]
    public void Duplicate_key_in_the_header()
    {
        var json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        var path = WriteBytes("dup.safetensors", BuildFile(json, new byte[8]));
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void Shape_too_large_for_its_bytes()
    {
        // 2^61 x 2 elements x 4 bytes overflows a long only in the byte count.
        var path = WriteBytes("huge.safetensors",
            BuildFile("{\"h\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952,2],\"data_offsets\":[0,4]}}", new byte[4]));
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("'h'", e.Message);
        Assert.Contains("too large", e.Message);
    }

    [Fact]
    public void Shape_whose_element_count_overflows_is_refused_by_the_header_check()
    {
        var path = WriteBytes("wrap.safetensors",
            BuildFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}", []));
        var e = ReadBad(path);
        Assert.Contains(path, e.Message);
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void Require_of_a_missing_key_lists_the_keys_found()
    {
        var path = _dir.File("keys.safetensors");
        using (var z = ones(1))
        using (var y = ones(1))
            Safetensors.Write(path, new Dictionary<string, Tensor> { ["zeta"] = z, ["alpha"] = y });
        var header = Safetensors.ReadHeader(path);
        var e = Assert.Throws<MechanistInputException>(() => header.Require("activations"));
        Assert.Contains(path, e.Message);
        Assert.Contains("'activations'", e.Message);
        Assert.Contains("found: alpha, zeta", e.Message);
        Assert.Throws<MechanistInputException>(() => Safetensors.ReadTensor(header, "missing"));

        var emptyPath = WriteBytes("empty.safetensors", BuildFile("{}", []));
        var none = Assert.Throws<MechanistInputException>(() => Safetensors.ReadHeader(emptyPath).Require("x"));
        Assert.Contains("found: none", none.Message);
    }
}
