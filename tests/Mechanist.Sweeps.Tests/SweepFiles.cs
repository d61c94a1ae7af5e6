using System.Text.Json.Nodes;
using Mechanist.Testing;

namespace Mechanist.Sweeps.Tests;

/// <summary>Small sweeps over the repository's superposition data (4096 rows of 32 dimensions, 64 true features).</summary>
static class SweepFiles
{
    public static string Data => Path.Combine(Repo.Root, "samples", "data", "superposition.safetensors");

    /// <summary>Twelve TopK fits (k × d_sae), checkpointing every 25 steps.</summary>
    public static string Twelve(string folder, int steps)
    {
        var sweep = new JsonObject
        {
            ["activations"] = Data,
            ["ground_truth"] = Data,
            ["methods"] = new JsonObject { ["sae.topk"] = new JsonObject { ["k"] = new JsonArray(2, 3, 4, 6), ["d_sae"] = new JsonArray(32, 48, 64) } },
            ["options"] = new JsonObject { ["steps"] = steps, ["batch_size"] = 128 },
            ["checkpoint_every"] = 25,
        };
        return Write(folder, "twelve.json", sweep);
    }

    public static string Write(string folder, string name, JsonObject sweep)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, sweep.ToJsonString());
        return path;
    }

    /// <summary>Job folder → SHA-256 of its weights and config, for comparing two runs.</summary>
    public static Dictionary<string, string> Fingerprints(string outRoot) =>
        Directory.GetDirectories(Path.Combine(outRoot, "jobs")).ToDictionary(d => Path.GetFileName(d), d => string.Join(' ',
            new[] { "sae_weights.safetensors", "cfg.json", "metrics.json" }.Select(f =>
                Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(d, f))))[..16])));

    public static JsonObject Results(string outRoot) => JsonNode.Parse(File.ReadAllText(Path.Combine(outRoot, "results.json")))!.AsObject();
}
