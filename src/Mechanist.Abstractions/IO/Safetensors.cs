using System.Text;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Mechanist.IO;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    /// <summary>Product of the shape; throws <see cref="OverflowException"/> past <see cref="long.MaxValue"/>.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));
}

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// (<c>{"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {…}}</c>), then the raw little-endian data.
/// The header is validated completely (size, JSON, dtypes, shapes, offsets inside the file, no overlap) before
/// any tensor memory is allocated; every error names the file and the key. Never executes anything.
/// </summary>
public static class Safetensors
{
    /// <summary>Largest header accepted (the format's reference implementation uses the same bound).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    static readonly Dictionary<string, (int Size, ScalarType Type)> DTypes = new()
    {
        ["F64"] = (8, ScalarType.Float64), ["F32"] = (4, ScalarType.Float32), ["F16"] = (2, ScalarType.Float16),
        ["BF16"] = (2, ScalarType.BFloat16), ["I64"] = (8, ScalarType.Int64), ["I32"] = (4, ScalarType.Int32),
        ["I16"] = (2, ScalarType.Int16), ["I8"] = (1, ScalarType.Int8), ["U8"] = (1, ScalarType.Byte),
        ["BOOL"] = (1, ScalarType.Bool),
    };

    public static int ElementSize(string dtype) => DTypes[dtype].Size;

    /// <summary>The header's name for a dtype (<c>F32</c>, <c>I64</c>, …); the dtype's own name when the format has none.</summary>
    public static string DTypeName(ScalarType type) =>
        DTypes.Where(kv => kv.Value.Type == type).Select(kv => kv.Key).FirstOrDefault() ?? type.ToString();

    /// <summary>A parsed file: validated header, metadata, and the offset where data starts.</summary>
    public sealed class Header
    {
        internal Header(string path, long dataStart, IReadOnlyDictionary<string, SafetensorsEntry> entries,
            IReadOnlyDictionary<string, string> metadata)
        {
            Path = path; DataStart = dataStart; Entries = entries; Metadata = metadata;
        }

        public string Path { get; }
        public long DataStart { get; }
        public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
        public IReadOnlyDictionary<string, string> Metadata { get; }

        public SafetensorsEntry Require(string name) =>
            Entries.TryGetValue(name, out var e) ? e :
            throw new MechanistInputException(
                $"{Path}: no tensor named '{name}' (found: {(Entries.Count == 0 ? "none" : string.Join(", ", Entries.Keys.Order()))}).");
    }

    /// <summary>Reads and validates the header of <paramref name="path"/>.</summary>
    public static Header ReadHeader(string path)
    {
        if (!File.Exists(path))
            throw new MechanistInputException($"{path}: file not found.");
        using var stream = File.OpenRead(path);
        long length = stream.Length;
        if (length < 8)
            throw new MechanistInputException($"{path}: not a safetensors file: {length} bytes, shorter than the 8-byte header length.");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BitConverter.ToUInt64(lengthBytes);
        if (headerLength > (ulong)MaxHeaderBytes)
            throw new MechanistInputException($"{path}: safetensors header length {headerLength} bytes exceeds the limit of {MaxHeaderBytes} bytes (corrupt or not a safetensors file).");
        if ((long)headerLength > length - 8)
            throw new MechanistInputException($"{path}: safetensors header length {headerLength} bytes runs past the end of the file ({length} bytes): truncated or corrupt.");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLength;
        long dataLength = length - dataStart;

        var root = JsonFile.Parse(headerBytes, $"{path}: safetensors header") as JsonObject
            ?? throw new MechanistInputException($"{path}: safetensors header is not a JSON object.");

        var metadata = new Dictionary<string, string>();
        var entries = new Dictionary<string, SafetensorsEntry>();
        foreach (var (key, node) in root)
        {
            if (key == "__metadata__")
            {
                if (node is not JsonObject meta)
                    throw new MechanistInputException($"{path}: '__metadata__' must be an object of strings.");
                foreach (var (mk, mv) in meta)
                    metadata[mk] = mv is JsonValue v && v.TryGetValue<string>(out var s) ? s
                        : throw new MechanistInputException($"{path}: '__metadata__.{mk}' must be a string.");
                continue;
            }
            entries[key] = ParseEntry(path, key, node, dataLength);
        }

        var sorted = entries.Values.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Begin < sorted[i - 1].End)
                throw new MechanistInputException($"{path}: tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap in the data section.");
        }
        return new Header(path, dataStart, entries, metadata);
    }

    static SafetensorsEntry ParseEntry(string path, string key, JsonNode? node, long dataLength)
    {
        string where = $"{path}: tensor '{key}'";
        if (node is not JsonObject o)
            throw new MechanistInputException($"{where}: header entry must be an object with dtype, shape and data_offsets.");
        string dtype = o["dtype"] is JsonValue dv && dv.TryGetValue<string>(out var d) ? d
            : throw new MechanistInputException($"{where}: missing 'dtype'.");
        if (!DTypes.TryGetValue(dtype, out var info))
            throw new MechanistInputException($"{where}: unsupported dtype '{dtype}' (expected one of {string.Join(", ", DTypes.Keys)}).");
        var shape = (o["shape"] as JsonArray ?? throw new MechanistInputException($"{where}: missing 'shape'."))
            .Select(n => n is JsonValue v && v.TryGetValue<long>(out var s) && s >= 0 ? s
                : throw new MechanistInputException($"{where}: shape entries must be non-negative integers.")).ToArray();
        var offsets = o["data_offsets"] as JsonArray ?? throw new MechanistInputException($"{where}: missing 'data_offsets'.");
        if (offsets.Count != 2 || offsets[0] is not JsonValue b0 || !b0.TryGetValue<long>(out var begin)
            || offsets[1] is not JsonValue e0 || !e0.TryGetValue<long>(out var end))
            throw new MechanistInputException($"{where}: 'data_offsets' must be two integers [begin, end].");
        if (begin < 0 || end < begin || end > dataLength)
            throw new MechanistInputException($"{where}: data_offsets [{begin}, {end}] lie outside the data section ({dataLength} bytes): truncated or corrupt.");
        var entry = new SafetensorsEntry(key, dtype, shape, begin, end);
        long expected;
        try
        {
            // The non-zero dimensions must multiply without overflow even when a zero makes the tensor empty.
            _ = shape.Where(d => d != 0).Aggregate(1L, (a, b) => checked(a * b));
            expected = checked(entry.ElementCount * info.Size);
        }
        catch (OverflowException) { throw new MechanistInputException($"{where}: shape [{string.Join(", ", shape)}] is too large."); }
        if (end - begin != expected)
            throw new MechanistInputException($"{where}: shape [{string.Join(", ", shape)}] of {dtype} needs {expected} bytes but data_offsets span {end - begin}.");
        return entry;
    }

    /// <summary>
    /// Reads one tensor as a CPU tensor of its stored dtype (F16/BF16 kept as such), bit for bit, straight from the
    /// file into the tensor's memory. A tensor larger than the memory available is refused before allocating.
    /// </summary>
    public static Tensor ReadTensor(Header header, string name)
    {
        var entry = header.Require(name);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors reading needs a little-endian machine.");
        string where = $"{header.Path}: tensor '{name}'";
        MemoryBudget.Require(entry.End - entry.Begin, where);
        using var stream = File.OpenRead(header.Path);
        stream.Seek(header.DataStart + entry.Begin, SeekOrigin.Begin);
        return RawTensorBytes.Read(stream, DTypes[entry.DType].Type, entry.Shape, where);
    }

    /// <summary>Reads every tensor of a file.</summary>
    public static Dictionary<string, Tensor> ReadAll(string path)
    {
        var header = ReadHeader(path);
        return header.Entries.Keys.ToDictionary(k => k, k => ReadTensor(header, k));
    }

    /// <summary>
    /// Writes tensors (sorted by name, data aligned as the reference implementation does) to <paramref name="path"/>
    /// through a temporary file renamed into place.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
        var contents = new List<Tensor>();
        long offset = 0;
        foreach (var name in names)
        {
            var t = tensors[name];
            string dtype = DTypes.First(kv => kv.Value.Type == t.dtype).Key;
            long length = RawTensorBytes.ByteCount(t);
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + length),
            };
            offset += length;
            contents.Add(t);
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var headerBytes = new byte[padded];
        Array.Fill(headerBytes, (byte)' ');
        json.CopyTo(headerBytes, 0);
        AtomicFile.Write(path, stream =>
        {
            stream.Write(BitConverter.GetBytes((ulong)padded));
            stream.Write(headerBytes);
            foreach (var t in contents) RawTensorBytes.Write(stream, t);
        });
    }
}
