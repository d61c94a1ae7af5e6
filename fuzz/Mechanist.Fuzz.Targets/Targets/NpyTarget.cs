using System.Text;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Fuzzing.Targets;

/// <summary>A NumPy <c>.npy</c> array (versions 1–3, C or Fortran order); a 2-D float array also as activations.</summary>
public sealed class NpyTarget : FuzzTarget
{
    public override string Name => "npy";

    public override string Summary => ".npy arrays (Npy.Read, ActivationFiles.Load)";

    public override IReadOnlyList<string> Files => ["array.npy"];

    public override void Run(FuzzInput input)
    {
        using var t = Npy.Read(input.Path);
        long bytes = t.NumberOfElements * t.ElementSize;
        Check.That(bytes <= input.Size, $"array of {bytes} bytes from a {input.Size}-byte file");
        if (t.ndim == 2 && t.is_floating_point())
        {
            using var matrix = ActivationFiles.Load(input.Path);
            Check.That(matrix.Count == t.shape[0] && matrix.Dimension == t.shape[1], "activation matrix shape differs from the array");
        }
    }

    /// <summary>An .npy file of format <paramref name="version"/> with the given header dictionary and data.</summary>
    public static byte[] Write(int version, string dict, byte[] data)
    {
        int prefix = version == 1 ? 10 : 12;
        var header = dict + " ";
        int padded = (prefix + header.Length + 1 + 63) / 64 * 64 - prefix;
        header = header.PadRight(padded - 1) + "\n";
        var result = new List<byte> { 0x93 };
        result.AddRange(Encoding.ASCII.GetBytes("NUMPY"));
        result.Add((byte)version);
        result.Add(0);
        result.AddRange(version == 1 ? BitConverter.GetBytes((ushort)header.Length) : BitConverter.GetBytes((uint)header.Length));
        result.AddRange(Encoding.Latin1.GetBytes(header));
        result.AddRange(data);
        return result.ToArray();
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        using var scope = NewDisposeScope();
        var f4 = RawTensorBytes.ToBytes(Check.Input(3, 2));
        yield return new("f4-c", [Write(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", f4)]);
        yield return new("f4-fortran", [Write(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f4)]);
        yield return new("f2-v2", [Write(2, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }", RawTensorBytes.ToBytes(Check.Input(2, 2).to(ScalarType.Float16)))]);
        yield return new("f8-v3", [Write(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", RawTensorBytes.ToBytes(Check.Input(1, 2).to(ScalarType.Float64)))]);
        yield return new("i8-1d", [Write(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", RawTensorBytes.ToBytes(arange(3, ScalarType.Int64)))]);
        yield return new("bool-scalar", [Write(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", [1])]);
        yield return new("u1-empty", [Write(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 4), }", [])]);
    }

    public override IEnumerable<string> Dictionary =>
    [
        "\u0093NUMPY", "'descr'", "'fortran_order'", "'shape'", "True", "False", "'<f4'", "'<f2'", "'<f8'", "'<i8'", "'<i4'",
        "'<i2'", "'|i1'", "'|u1'", "'|b1'", "'=f4'", "'>f4'", "'|O'", "(", ")", ",)", "-1", "9223372036854775807",
    ];
}
