using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Fuzzing.Targets;

/// <summary>
/// A <c>.safetensors</c> file: the header, then every tensor's data, which must come back bit for bit as stored;
/// a file with an <c>activations</c> tensor is also opened as an activation matrix (dtype, 2-D, finite values).
/// </summary>
public sealed class SafetensorsTarget : FuzzTarget
{
    /// <summary>Tensors up to this size are compared with the file byte for byte.</summary>
    const long CompareLimit = 64L << 20;

    public override string Name => "safetensors";

    public override string Summary => "safetensors header + data (Safetensors.ReadHeader/ReadTensor, ActivationFiles.Load)";

    public override IReadOnlyList<string> Files => ["tensors.safetensors"];

    public override void Run(FuzzInput input)
    {
        var header = Safetensors.ReadHeader(input.Path);
        using var file = File.OpenRead(input.Path);
        foreach (var entry in header.Entries.Values)
        {
            using var t = Safetensors.ReadTensor(header, entry.Name);
            Check.Shape(t, entry.Name, entry.Shape);
            if (entry.End - entry.Begin > CompareLimit) continue;
            var stored = new byte[entry.End - entry.Begin];
            file.Seek(header.DataStart + entry.Begin, SeekOrigin.Begin);
            file.ReadExactly(stored);
            Check.That(RawTensorBytes.ToBytes(t).AsSpan().SequenceEqual(stored), $"tensor '{entry.Name}' does not hold the bytes stored in the file");
        }
        if (header.Entries.ContainsKey(ActivationFiles.TensorName))
        {
            using var matrix = ActivationFiles.Load(input.Path);
            var entry = header.Entries[ActivationFiles.TensorName];
            Check.That(matrix.Count == entry.Shape[0] && matrix.Dimension == entry.Shape[1], "activation matrix shape differs from the header");
        }
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        yield return new("saelens-standard", [context.Fixture("tests/Fixtures/saelens/standard/sae_weights.safetensors")]);
        yield return new("saelens-expected", [context.Fixture("tests/Fixtures/saelens/topk/expected.safetensors")]);
        var folder = context.NewFolder("safetensors");
        using var scope = NewDisposeScope();
        var path = Path.Combine(folder, "seed.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor>
        {
            ["activations"] = Check.Input(6, 4),
            ["f16"] = Check.Input(2, 3).to(ScalarType.Float16),
            ["bf16"] = Check.Input(3, 1).to(ScalarType.BFloat16),
            ["f64"] = Check.Input(1, 2).to(ScalarType.Float64),
            ["i64"] = arange(4, ScalarType.Int64),
            ["i32"] = arange(3, ScalarType.Int32),
            ["i16"] = arange(2, ScalarType.Int16),
            ["i8"] = arange(2, ScalarType.Int8),
            ["u8"] = arange(5, ScalarType.Byte),
            ["bool"] = tensor(new[] { true, false, true }),
            ["empty"] = zeros(0, 3),
            ["scalar"] = tensor(1.5f),
        }, new Dictionary<string, string> { ["format"] = "pt" });
        yield return new("every-dtype", [File.ReadAllBytes(path)]);
        Safetensors.Write(path, new Dictionary<string, Tensor> { ["activations"] = Check.Input(3, 2) });
        yield return new("activations", [File.ReadAllBytes(path)]);
    }

    public override IEnumerable<string> Dictionary =>
    [
        "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"activations\"", "\"F32\"", "\"F16\"", "\"BF16\"",
        "\"F64\"", "\"I64\"", "\"I32\"", "\"I16\"", "\"I8\"", "\"U8\"", "\"BOOL\"", "\"F8_E4M3\"", "[]", "{}", "null", "-1",
        "1e400", "18446744073709551615", "9223372036854775807", "4294967296", "\\u0000",
    ];
}
