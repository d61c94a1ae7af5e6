using System.Globalization;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>Token ids and input tensors given on the command line: inline lists or files.</summary>
internal static class TensorArguments
{
    /// <summary>
    /// Token ids [batch, seq_len] (int64) from <c>"1,2,3;4,5,6"</c> (sequences separated by ';') or from a file: a
    /// .safetensors file (tensor 'tokens', or its only tensor) or a .npy file, 1-D or 2-D integer.
    /// </summary>
    public static Tensor Tokens(string option, string value)
    {
        Tensor t;
        if (File.Exists(value)) t = Read(option, value, "tokens");
        else if (value.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || value.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            throw new MechanistInputException($"--{option} {value}: file not found.");
        else
        {
            var rows = value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var parsed = rows.Select(r => r.Split(',', StringSplitOptions.TrimEntries).Select(x =>
                long.TryParse(x, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) && id >= 0 ? id
                    : throw new MechanistInputException($"--{option}: '{x}' is not a token id (non-negative integer); expected e.g. \"3,5,113\" or \"1,2;3,4\" or a file.")).ToArray()).ToArray();
            if (parsed.Length == 0) throw new MechanistInputException($"--{option}: no token ids given.");
            if (parsed.Any(r => r.Length != parsed[0].Length))
                throw new MechanistInputException($"--{option}: sequences separated by ';' must have the same length.");
            t = tensor(parsed.SelectMany(r => r).ToArray()).view(parsed.Length, parsed[0].Length);
        }
        if (t.is_floating_point() || t.dtype == ScalarType.Bool)
            throw new MechanistInputException($"--{option} {value}: token ids must be integers, got {t.dtype}.");
        if (t.ndim == 1) t = t.unsqueeze(0);
        if (t.ndim != 2 || t.numel() == 0)
            throw new MechanistInputException($"--{option} {value}: expected token ids [batch, seq_len], got shape [{string.Join(", ", t.shape)}].");
        if (t.lt(0).any().item<bool>())
            throw new MechanistInputException($"--{option} {value}: token ids must be non-negative.");
        return t.to(ScalarType.Int64);
    }

    /// <summary>A floating-point input [batch, …] from a .safetensors (tensor 'input' or its only tensor) or .npy file.</summary>
    public static Tensor Input(string option, string path)
    {
        if (!File.Exists(path)) throw new MechanistInputException($"--{option} {path}: file not found.");
        var t = Read(option, path, "input");
        if (t.ndim == 0) throw new MechanistInputException($"--{option} {path}: expected an input with a batch axis, got a scalar.");
        if (t.is_floating_point() && !isfinite(t).all().item<bool>())
            throw new MechanistInputException($"--{option} {path}: contains NaN or infinite values.");
        return t;
    }

    static Tensor Read(string option, string path, string preferred)
    {
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return Npy.Read(path);
        var header = Safetensors.ReadHeader(path);
        if (header.Entries.ContainsKey(preferred)) return Safetensors.ReadTensor(header, preferred);
        if (header.Entries.Count == 1) return Safetensors.ReadTensor(header, header.Entries.Keys.Single());
        throw new MechanistInputException(
            $"--{option} {path}: expected a tensor named '{preferred}' (or a single tensor); found {string.Join(", ", header.Entries.Keys)}.");
    }
}
