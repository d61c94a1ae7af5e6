using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Host.Formats;

/// <summary>Ground-truth feature directions: a <c>.safetensors</c> file with a tensor <c>directions</c> [n, d].</summary>
public static class GroundTruth
{
    public const string TensorName = Mechanist.Models.Tasks.SuperpositionData.DirectionsTensorName;

    public static Tensor Load(string path, int dimension)
    {
        var header = Safetensors.ReadHeader(path);
        var entry = header.Require(TensorName);
        if (entry.Shape.Length != 2 || entry.Shape[1] != dimension || entry.Shape[0] == 0)
            throw new MechanistInputException(
                $"{path}: tensor '{TensorName}' has shape [{string.Join(", ", entry.Shape)}]; expected [n, {dimension}] (n ground-truth directions of the activation dimension).");
        if (entry.DType is not ("F32" or "F16" or "BF16" or "F64"))
            throw new MechanistInputException($"{path}: tensor '{TensorName}' has dtype {entry.DType}; expected a floating-point dtype.");
        var t = Safetensors.ReadTensor(header, TensorName).to(ScalarType.Float32);
        ActivationFiles.EnsureFinite(path, TensorName, t);
        return t;
    }
}
