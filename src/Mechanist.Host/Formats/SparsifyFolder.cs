using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Host.Formats;

/// <summary>
/// EleutherAI sparsify's layout: <c>cfg.json</c> (<c>d_in</c>, <c>num_latents</c> or <c>expansion_factor</c>,
/// <c>k</c>, <c>activation</c>, <c>transcode</c>, <c>skip_connection</c>) + <c>sae.safetensors</c> with
/// <c>encoder.weight</c> [n, d], <c>encoder.bias</c> [n], <c>W_dec</c> [n, d], <c>b_dec</c> [d]. Its encoder is
/// ReLU then TopK, which gives the same latents as SAELens's TopK then ReLU, so it loads as a <see cref="TopKSae"/>
/// (W_enc = encoder.weightᵀ). A transcoder (<c>transcode</c>) does not subtract b_dec from its input.
/// </summary>
public static class SparsifyFolder
{
    public const string WeightsFile = "sae.safetensors";

    public static Decomposition Load(string directory, string cfgPath, JsonObject cfg)
    {
        var weightsPath = Path.Combine(directory, WeightsFile);
        int dIn = PositiveInt(cfg, "d_in", cfgPath) ?? throw Missing(cfgPath, "d_in");
        int n = PositiveInt(cfg, "num_latents", cfgPath) ?? (PositiveInt(cfg, "expansion_factor", cfgPath) is int e ? checked(e * dIn)
            : throw new MechanistInputException($"{cfgPath}: needs 'num_latents' or 'expansion_factor' (sparsify layout)."));
        int k = PositiveInt(cfg, "k", cfgPath) ?? throw Missing(cfgPath, "k");
        if (k > n) throw new MechanistInputException($"{cfgPath}: 'k' is {k}, more than the {n} latents.");
        var activation = cfg["activation"] is JsonValue a && a.TryGetValue<string>(out var act) ? act : "topk";
        if (activation != "topk")
            throw new MechanistInputException($"{cfgPath}: sparsify activation '{activation}' is not supported (supported: topk).");
        bool transcode = Bool(cfg, "transcode", cfgPath);
        var header = Safetensors.ReadHeader(weightsPath);
        if (Bool(cfg, "skip_connection", cfgPath) || header.Entries.ContainsKey("W_skip"))
            throw new MechanistInputException($"{cfgPath}: sparsify skip connections (W_skip) are not supported.");
        var synthetic = new JsonObject { ["d_in"] = dIn, ["d_sae"] = n };
        var context = new SaeLoadContext(cfgPath, synthetic, weightsPath);
        using var scope = NewDisposeScope();
        var sae = new TopKSae(context.Read("encoder.weight", n, dIn).t(), context.Read("encoder.bias", n),
            context.Read("W_dec", n, dIn), context.Read("b_dec", dIn), k, applyBDecToInput: !transcode);
        sae.Metadata = new DecompositionMetadata { Method = "sparsify" };
        return sae;
    }

    static MechanistInputException Missing(string path, string key) => new($"{path}: '{key}' is missing (sparsify layout).");

    static int? PositiveInt(JsonObject cfg, string key, string path)
    {
        var node = cfg[key];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue<double>(out var x) && x == Math.Floor(x) && x >= 0 && x < int.MaxValue)
            return x == 0 ? null : (int)x;
        throw new MechanistInputException($"{path}: '{key}' must be a non-negative integer, got {node.ToJsonString()}.");
    }

    static bool Bool(JsonObject cfg, string key, string path)
    {
        var node = cfg[key];
        if (node is null) return false;
        if (node is JsonValue v && v.TryGetValue<bool>(out var b)) return b;
        throw new MechanistInputException($"{path}: '{key}' must be true or false, got {node.ToJsonString()}.");
    }
}
