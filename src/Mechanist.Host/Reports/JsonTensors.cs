using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Mechanist.Host.Reports;

/// <summary>Tensors as nested JSON arrays (float32 values written in their shortest round-trip form).</summary>
public static class JsonTensors
{
    public static JsonNode ToJson(Tensor t)
    {
        var shape = t.shape;
        var cpu = t.detach().to(CPU);
        if (cpu.dtype == ScalarType.Float64)
        {
            var values = cpu.contiguous().data<double>().ToArray();
            return Nest(shape, 0, 0, i => JsonValue.Create(values[i]));
        }
        if (cpu.is_floating_point())
        {
            var values = cpu.to(ScalarType.Float32).contiguous().data<float>().ToArray();
            return Nest(shape, 0, 0, i => JsonValue.Create(values[i]));
        }
        var ints = cpu.to(ScalarType.Int64).contiguous().data<long>().ToArray();
        return Nest(shape, 0, 0, i => JsonValue.Create(ints[i]));
    }

    public static JsonArray Shape(Tensor t) => new(t.shape.Select(s => (JsonNode)JsonValue.Create(s)).ToArray());

    static JsonNode Nest(long[] shape, int dim, long offset, Func<long, JsonNode> leaf)
    {
        if (dim == shape.Length) return leaf(offset);
        long stride = 1;
        for (int d = dim + 1; d < shape.Length; d++) stride *= shape[d];
        var array = new JsonArray();
        for (long i = 0; i < shape[dim]; i++) array.Add(Nest(shape, dim + 1, offset + i * stride, leaf));
        return array;
    }

    /// <summary>Multi-index of a flat position in a row-major tensor of <paramref name="shape"/>.</summary>
    public static long[] Unravel(long flat, long[] shape)
    {
        var index = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
        return index;
    }
}
