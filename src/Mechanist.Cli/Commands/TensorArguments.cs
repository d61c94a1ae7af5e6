using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>Input tensors given on the command line as files (token ids: <see cref="CommandLine.TokenArgument"/>).</summary>
internal static class TensorArguments
{
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

    /// <summary>The tensor <paramref name="preferred"/> (or the only one) of a .safetensors file, or a .npy file.</summary>
    internal static Tensor Read(string option, string path, string preferred)
    {
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return Npy.Read(path);
        var header = Safetensors.ReadHeader(path);
        if (header.Entries.ContainsKey(preferred)) return Safetensors.ReadTensor(header, preferred);
        if (header.Entries.Count == 1) return Safetensors.ReadTensor(header, header.Entries.Keys.Single());
        throw new MechanistInputException(
            $"--{option} {path}: expected a tensor named '{preferred}' (or a single tensor); found {string.Join(", ", header.Entries.Keys)}.");
    }
}
