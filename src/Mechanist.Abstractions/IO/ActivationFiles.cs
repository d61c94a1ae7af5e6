using static TorchSharp.torch;

namespace Mechanist.IO;

/// <summary>
/// Opens an activation matrix: a <c>.safetensors</c> file with a 2-D floating-point tensor named
/// <c>activations</c> [N, d] (F32, F16, BF16 or F64) — or, when it has no tensor of that name, its only tensor (as
/// <c>mechanist harvest</c> writes one site: a tensor named by the site) — or a 2-D <c>.npy</c> array of floats.
/// Rejects NaN and infinities with the row and column of the first one.
/// </summary>
public static class ActivationFiles
{
    public const string TensorName = "activations";

    public static ActivationMatrix Load(string path, string tensorName = TensorName)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new MechanistInputException($"{path}: activation file not found.");
        using var scope = NewDisposeScope();
        Tensor data;
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension == ".safetensors")
        {
            var header = Safetensors.ReadHeader(path);
            if (tensorName == TensorName && !header.Entries.ContainsKey(TensorName) && header.Entries.Count == 1)
                tensorName = header.Entries.Keys.Single();
            var entry = header.Require(tensorName);
            if (entry.DType is not ("F32" or "F16" or "BF16" or "F64"))
                throw new MechanistInputException($"{path}: tensor '{tensorName}' has dtype {entry.DType}; expected a floating-point dtype (F32, F16, BF16 or F64).");
            if (entry.Shape.Length != 2)
                throw new MechanistInputException($"{path}: tensor '{tensorName}' has shape [{string.Join(", ", entry.Shape)}]; expected a 2-D matrix [N, d].");
            data = Safetensors.ReadTensor(header, tensorName);
        }
        else if (extension == ".npy")
        {
            data = Npy.Read(path);
            if (!data.is_floating_point())
                throw new MechanistInputException($"{path}: array has dtype {data.dtype}; expected floating-point activations.");
            if (data.ndim != 2)
                throw new MechanistInputException($"{path}: array has shape [{string.Join(", ", data.shape)}]; expected a 2-D matrix [N, d].");
        }
        else
        {
            throw new MechanistInputException($"{path}: unknown activation format '{extension}'; expected a .safetensors file (tensor '{tensorName}') or a .npy array.");
        }
        var floats = data.to(ScalarType.Float32);
        EnsureFinite(path, tensorName, floats);
        return new ActivationMatrix(path, floats);
    }

    /// <summary>Throws naming the first non-finite element's position.</summary>
    public static void EnsureFinite(string path, string tensorName, Tensor data)
    {
        using var scope = NewDisposeScope();
        var bad = isfinite(data).logical_not();
        if (!bad.any().item<bool>()) return;
        var index = bad.flatten().nonzero()[0, 0].item<long>();
        long columns = data.ndim >= 2 ? data.shape[^1] : 1;
        var value = data.flatten()[index].item<float>();
        throw new MechanistInputException(
            $"{path}: tensor '{tensorName}' contains {(float.IsNaN(value) ? "NaN" : "an infinity")} at row {index / columns}, column {index % columns}; activations must be finite.");
    }
}
