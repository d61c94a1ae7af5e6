using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using Mechanist.Host.Running;
using Mechanist.IO;
using Mechanist.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// Loads a model folder for <c>attribute</c> and <c>interpret</c>: <c>config.json</c> → <c>model_type</c> → the
/// catalog's model loader of that ID → <see cref="ModelLoader.Load"/>. The one place these commands resolve a model.
/// TO BE REPLACED by the host's model-folder loader (<c>Mechanist.Host.Models.ModelFolder</c>) when it lands: keep
/// the signature, delegate to it.
/// </summary>
internal static class ModelFolders
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    public static IHookedModel Load(string folder, MechanistHost host, Device device, int seed)
    {
        if (!Directory.Exists(folder))
            throw new MechanistInputException($"{folder}: model folder not found (expected a folder with {ConfigFile} and {WeightsFile}).");
        var configPath = Path.Combine(folder, ConfigFile);
        if (!File.Exists(configPath))
            throw new MechanistInputException($"{configPath}: not found; a model folder holds {ConfigFile} (with model_type) and {WeightsFile}.");
        JsonObject config;
        try
        {
            config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject
                ?? throw new MechanistInputException($"{configPath}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new MechanistInputException($"{configPath}: not valid JSON ({e.Message}).");
        }
        var modelType = config["model_type"] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s
            : throw new MechanistInputException($"{configPath}: missing the string key 'model_type' that names the architecture.");
        var entry = host.Catalog.Resolve(modelType, MethodKind.ModelLoader);
        var loader = MethodCatalog.Create<ModelLoader>(entry, host.Services);
        var context = new ModelLoadContext
        {
            Folder = Path.GetFullPath(folder), Config = config, Seed = seed, Device = device,
            Options = MethodCatalog.BindOptions(entry, new Dictionary<string, string>()),
        };
        var model = MethodInvoker.Invoke(entry, () => loader.Load(context));
        if (model is nn.Module module && device.type != TorchSharp.DeviceType.CPU) module.to(device);
        return model;
    }

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
