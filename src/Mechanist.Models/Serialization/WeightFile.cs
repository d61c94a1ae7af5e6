using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Models.Serialization;

/// <summary>A tensor an architecture expects in its <c>model.safetensors</c>, and where its value goes.</summary>
/// <param name="Name">Name in the file (TransformerLens / PyTorch style, e.g. <c>blocks.0.attn.W_Q</c>).</param>
/// <param name="Target">The parameter the value is copied into; its shape is the expected shape.</param>
/// <param name="ShapeMeaning">The config keys the shape comes from (<c>n_heads, d_model, d_head</c>), for messages.</param>
public sealed record ExpectedTensor(string Name, Tensor Target, string ShapeMeaning);

/// <summary>
/// Strict loading of an architecture's weights from a safetensors file: every expected tensor present, no
/// unexpected one, the target's dtype (F32 for weights), the exact shape, finite values. The whole header is checked before any value is
/// copied, so a bad file leaves the model as it was. Errors name the file and the tensor.
/// </summary>
public static class WeightFile
{
    /// <summary>The safetensors dtype name of a tensor's element type (<c>F32</c>, <c>I64</c>, …).</summary>
    public static string DTypeName(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32", ScalarType.Float64 => "F64", ScalarType.Float16 => "F16", ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64", ScalarType.Int32 => "I32", ScalarType.Int16 => "I16", ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8", ScalarType.Bool => "BOOL", _ => type.ToString(),
    };

    /// <summary>Copies the tensors of <paramref name="path"/> into <paramref name="expected"/>'s targets.</summary>
    /// <param name="ignored">Names that may be present and are skipped (buffers other tools save, e.g. attention masks).</param>
    public static void Load(string path, IReadOnlyList<ExpectedTensor> expected, IReadOnlyCollection<string>? ignored = null)
    {
        var header = Safetensors.ReadHeader(path);
        var names = expected.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in header.Entries.Keys.Order(StringComparer.Ordinal))
        {
            if (names.Contains(name) || (ignored?.Contains(name) ?? false)) continue;
            var closest = Options.NameSuggester.Closest(name, expected.Select(e => e.Name).Where(n => !header.Entries.ContainsKey(n)));
            throw new MechanistInputException(
                $"{path}: unexpected tensor '{name}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} " +
                $"Expected: {string.Join(", ", expected.Select(e => e.Name))}.");
        }
        foreach (var e in expected)
        {
            if (!header.Entries.TryGetValue(e.Name, out var entry))
                throw new MechanistInputException(
                    $"{path}: missing tensor '{e.Name}' (expected {DTypeName(e.Target.dtype)} {Shape(e.Target.shape)} = [{e.ShapeMeaning}]).");
            if (entry.DType != DTypeName(e.Target.dtype))
                throw new MechanistInputException($"{path}: tensor '{e.Name}' has dtype {entry.DType}, expected {DTypeName(e.Target.dtype)}.");
            if (!entry.Shape.SequenceEqual(e.Target.shape))
                throw new MechanistInputException(
                    $"{path}: tensor '{e.Name}' has shape {Shape(entry.Shape)}, expected {Shape(e.Target.shape)} = [{e.ShapeMeaning}] from the config.");
        }
        var values = new List<(ExpectedTensor Expected, Tensor Value)>();
        try
        {
            foreach (var e in expected)
            {
                var value = Safetensors.ReadTensor(header, e.Name);
                values.Add((e, value));
                if (!isfinite(value).all().item<bool>())
                    throw new MechanistInputException($"{path}: tensor '{e.Name}' contains NaN or infinite values.");
            }
            using var _ = no_grad();
            foreach (var (e, value) in values) e.Target.copy_(value);
        }
        finally
        {
            foreach (var (_, value) in values) value.Dispose();
        }
    }

    /// <summary>
    /// Refuses, before a model is allocated, a config whose weights cannot be in <paramref name="path"/>: at least
    /// <paramref name="elements"/> values of <paramref name="bytesPerElement"/> bytes each. Allocation is thereby
    /// bounded by the size of the files the user gave (or <see cref="MemoryBudget.Unchecked"/>, whichever is larger). <paramref name="elements"/> is null when counting overflowed.
    /// </summary>
    public static void RequireRoomFor(string path, long? elements, int bytesPerElement, string configPath)
    {
        if (!File.Exists(path)) return; // the loader says what is missing
        long length = new FileInfo(path).Length;
        long? bytes = null;
        try { if (elements is long n) bytes = checked(n * bytesPerElement); } catch (OverflowException) { }
        if (bytes is null)
            throw new MechanistInputException($"{configPath}: the model it describes is too large to count its weights.");
        // Small models are cheap to allocate, and the tensor-by-tensor check that follows says more (which tensor is missing).
        if (bytes > length && bytes > MemoryBudget.Unchecked)
            throw new MechanistInputException(
                $"{configPath}: describes {elements} weights ({bytes} bytes at {bytesPerElement} bytes each), but {path} has {length} bytes: the config does not belong to these weights.");
    }

    /// <summary>Σ Π of shapes, or null on overflow.</summary>
    public static long? CountElements(params long[][] shapes)
    {
        try { return shapes.Aggregate(0L, (sum, shape) => checked(sum + shape.Aggregate(1L, (a, b) => checked(a * b)))); }
        catch (OverflowException) { return null; }
    }

    /// <summary>Writes <paramref name="tensors"/> (moved to the CPU as float32) to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var scope = NewDisposeScope();
        var dict = tensors.ToDictionary(t => t.Name, t => t.Value.detach().cpu().to(ScalarType.Float32).contiguous());
        Safetensors.Write(path, dict, metadata);
    }

    public static string Shape(IEnumerable<long> shape) => $"[{string.Join(", ", shape)}]";
}
