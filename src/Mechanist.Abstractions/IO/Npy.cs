using System.Text;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Mechanist.IO;

/// <summary>
/// Reads NumPy <c>.npy</c> arrays (format versions 1–3) of little-endian floats or integers, C or Fortran order, and
/// writes them (version 1, C order; version 2 when the header needs it). Never unpickles: object arrays are refused.
/// Values are copied as bytes, so a write-then-read round trip is bit for bit (NaN payloads included). BFloat16 has
/// no NumPy dtype and is refused by the writer.
/// </summary>
public static partial class Npy
{
    static readonly Dictionary<string, (int Size, ScalarType Type)> Descrs = new()
    {
        ["<f8"] = (8, ScalarType.Float64), ["<f4"] = (4, ScalarType.Float32), ["<f2"] = (2, ScalarType.Float16),
        ["<i8"] = (8, ScalarType.Int64), ["<i4"] = (4, ScalarType.Int32), ["<i2"] = (2, ScalarType.Int16),
        ["|i1"] = (1, ScalarType.Int8), ["|u1"] = (1, ScalarType.Byte), ["|b1"] = (1, ScalarType.Bool),
    };

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")] private static partial Regex DescrPattern();
    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")] private static partial Regex OrderPattern();
    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")] private static partial Regex ShapePattern();

    /// <summary>Largest header accepted (NumPy itself reads at most 10,000 bytes by default).</summary>
    public const int MaxHeaderBytes = 1 << 20;

    /// <summary>
    /// Reads the array as a CPU tensor of its stored type: the header first, then the data straight into the
    /// tensor's memory once its size has been checked against the file and the memory available.
    /// </summary>
    public static Tensor Read(string path)
    {
        if (!File.Exists(path)) throw new MechanistInputException($"{path}: file not found.");
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        var prefix = new byte[12];
        int got = stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        if (got < 10 || prefix[0] != 0x93 || Encoding.ASCII.GetString(prefix, 1, 5) != "NUMPY")
            throw new MechanistInputException($"{path}: not a .npy file (missing the \\x93NUMPY magic).");
        int major = prefix[6];
        long headerLength;
        int headerStart;
        if (major == 1) { headerLength = BitConverter.ToUInt16(prefix, 8); headerStart = 10; }
        else if (major is 2 or 3)
        {
            if (got < 12) throw new MechanistInputException($"{path}: truncated .npy header.");
            headerLength = BitConverter.ToUInt32(prefix, 8); headerStart = 12;
        }
        else throw new MechanistInputException($"{path}: unsupported .npy format version {major}.");
        if (headerStart + headerLength > fileLength)
            throw new MechanistInputException($"{path}: .npy header length {headerLength} runs past the end of the file ({fileLength} bytes).");
        if (headerLength > MaxHeaderBytes)
            throw new MechanistInputException($"{path}: .npy header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes (corrupt or not a .npy file).");
        var headerBytes = new byte[headerLength];
        stream.Seek(headerStart, SeekOrigin.Begin);
        stream.ReadExactly(headerBytes);
        var header = Encoding.Latin1.GetString(headerBytes);
        long dataLength = fileLength - headerStart - headerLength;

        var descr = DescrPattern().Match(header) is { Success: true } m ? m.Groups[1].Value
            : throw new MechanistInputException($"{path}: .npy header has no 'descr'.");
        if (descr == "=f4" || descr == "<f4") descr = "<f4";
        if (!Descrs.TryGetValue(descr, out var info))
            throw new MechanistInputException($"{path}: unsupported .npy dtype '{descr}' (expected little-endian numbers such as <f4, <f2, <f8; object arrays are never loaded).");
        bool fortran = OrderPattern().Match(header) is { Success: true } o ? o.Groups[1].Value == "True"
            : throw new MechanistInputException($"{path}: .npy header has no 'fortran_order'.");
        var shapeText = ShapePattern().Match(header) is { Success: true } s ? s.Groups[1].Value
            : throw new MechanistInputException($"{path}: .npy header has no 'shape'.");
        long[] shape;
        try
        {
            shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(long.Parse).ToArray();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new MechanistInputException($"{path}: .npy shape '({shapeText})' is not a tuple of integers.");
        }
        long count, need;
        try
        {
            _ = shape.Where(d => d != 0).Aggregate(1L, (a, b) => checked(a * b));
            count = shape.Aggregate(1L, (a, b) => checked(a * b));
            need = checked(count * info.Size);
        }
        catch (OverflowException)
        {
            throw new MechanistInputException($"{path}: .npy shape ({shapeText}) is too large.");
        }
        if (shape.Any(d => d < 0) || need != dataLength)
            throw new MechanistInputException($"{path}: .npy shape ({shapeText}) of {descr} needs {need} data bytes, the file has {dataLength}: truncated or corrupt.");
        MemoryBudget.Require(need, $"{path}: .npy array ({shapeText}) of {descr}");

        if (!fortran) return RawTensorBytes.Read(stream, info.Type, shape, path);
        // Fortran order: the reversed shape in C order, then reverse the axes.
        using var reversed = RawTensorBytes.Read(stream, info.Type, shape.Reverse().ToArray(), path);
        return reversed.permute(Enumerable.Range(0, shape.Length).Reverse().Select(i => (long)i).ToArray()).contiguous();
    }

    /// <summary>Writes <paramref name="t"/> (moved to the CPU) as a C-order <c>.npy</c> file, through a temporary file renamed into place.</summary>
    public static void Write(string path, Tensor t)
    {
        var descr = Descrs.FirstOrDefault(kv => kv.Value.Type == t.dtype).Key
            ?? throw new NotSupportedException($"element type {t.dtype} has no .npy dtype (supported: {string.Join(", ", Descrs.Values.Select(v => v.Type))}).");
        var shape = t.shape.Length switch
        {
            0 => "()",
            1 => $"({t.shape[0]},)",
            _ => "(" + string.Join(", ", t.shape) + ")",
        };
        var dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // The header (magic, version, length, dict, spaces, newline) is padded to a multiple of 64 bytes.
        int version = dict.Length + 11 > ushort.MaxValue ? 2 : 1;
        int prefix = version == 1 ? 10 : 12;
        int total = (prefix + dict.Length + 1 + 63) / 64 * 64;
        var header = dict.PadRight(total - prefix - 1) + "\n";
        AtomicFile.Write(path, stream =>
        {
            stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)version, 0]);
            if (version == 1) stream.Write(BitConverter.GetBytes((ushort)header.Length));
            else stream.Write(BitConverter.GetBytes((uint)header.Length));
            stream.Write(Encoding.Latin1.GetBytes(header));
            RawTensorBytes.Write(stream, t);
        });
    }
}
