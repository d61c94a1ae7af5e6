using System.Text;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Mechanist.IO;

/// <summary>
/// Reads NumPy <c>.npy</c> arrays (format versions 1–3) of little-endian floats or integers, C or Fortran order.
/// Never unpickles: object arrays are refused.
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
}
