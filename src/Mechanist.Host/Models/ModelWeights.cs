using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Host.Models;

/// <summary>
/// Weight look-ups the interpreters need from a model folder (<c>model.safetensors</c>): the map from a site's space to
/// the logits, and the token embedding. Used by <c>interpret</c>, <c>report</c> and the verifiers of Mechanist.Testing.
/// </summary>
public static class ModelWeights
{
    public const string WeightsFile = "model.safetensors";

    /// <summary>
    /// The map from a site's space to the logits, read from the folder's weights: <c>unembed.W_U</c> [d_model, vocab]
    /// (TransformerLens names), else <c>lm_head.weight</c> / <c>wte.weight</c> / <c>transformer.wte.weight</c>
    /// [vocab, d_model] (Hugging Face, tied); for <c>blocks.L.mlp.hook_post</c> composed with <c>blocks.L.mlp.W_out</c>
    /// (or <c>h.L.mlp.c_proj.weight</c>). Null when the file holds none of these.
    /// </summary>
    public static Tensor? Unembedding(string folder, string? site)
    {
        var path = Path.Combine(folder, WeightsFile);
        if (!File.Exists(path)) return null;
        var header = Safetensors.ReadHeader(path);
        Tensor? Read(string name) => header.Entries.ContainsKey(name) ? Safetensors.ReadTensor(header, name).to(ScalarType.Float32) : null;
        var wU = Read("unembed.W_U")
            ?? (Read("lm_head.weight") ?? Read("wte.weight") ?? Read("transformer.wte.weight"))?.t();
        if (wU is null) return null;
        if (site is not null && site.StartsWith("blocks.", StringComparison.Ordinal) && site.EndsWith(".mlp.hook_post", StringComparison.Ordinal))
        {
            var layer = site["blocks.".Length..^".mlp.hook_post".Length];
            var wOut = Read($"blocks.{layer}.mlp.W_out") ?? Read($"h.{layer}.mlp.c_proj.weight") ?? Read($"transformer.h.{layer}.mlp.c_proj.weight");
            if (wOut is not null) return wOut.matmul(wU);
        }
        return wU;
    }

    /// <summary>The token embedding [vocab, d_model] from the folder's weights, when present.</summary>
    public static Tensor? Embedding(string folder)
    {
        var path = Path.Combine(folder, WeightsFile);
        if (!File.Exists(path)) return null;
        var header = Safetensors.ReadHeader(path);
        foreach (var name in new[] { "embed.W_E", "wte.weight", "transformer.wte.weight" })
            if (header.Entries.ContainsKey(name)) return Safetensors.ReadTensor(header, name).to(ScalarType.Float32);
        return null;
    }
}
