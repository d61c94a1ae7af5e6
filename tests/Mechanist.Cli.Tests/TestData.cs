using System.Text;
using System.Text.Json.Nodes;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Cli.Tests;

/// <summary>Small activation files, good and broken.</summary>
static class TestData
{
    public static string Superposition(string folder, int features = 24, int dim = 8, int samples = 2000)
    {
        var path = Path.Combine(folder, "sp.safetensors");
        var r = Cli.Run("generate", "superposition", "--features", $"{features}", "--dim", $"{dim}", "--samples", $"{samples}", "--active", "2", "--seed", "3", "--out", path);
        if (r.ExitCode != 0) throw new InvalidOperationException(r.ToString());
        return path;
    }

    public static string WithTensor(string folder, string file, string name, Tensor t)
    {
        var path = Path.Combine(folder, file);
        Safetensors.Write(path, new Dictionary<string, Tensor> { [name] = t });
        return path;
    }

    /// <summary>A safetensors file with a hand-written header (for corrupt cases).</summary>
    public static string RawSafetensors(string folder, string file, string headerJson, int dataBytes, ulong? declaredLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var path = Path.Combine(folder, file);
        using var s = File.Create(path);
        s.Write(BitConverter.GetBytes(declaredLength ?? (ulong)header.Length));
        s.Write(header);
        s.Write(new byte[dataBytes]);
        return path;
    }

    public static string Header(string name, string dtype, long[] shape, long begin, long end) =>
        new JsonObject
        {
            [name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(shape.Select(x => (JsonNode?)x).ToArray()),
                ["data_offsets"] = new JsonArray(begin, end),
            },
        }.ToJsonString();
}
