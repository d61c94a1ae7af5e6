using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Decomposers;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Host.Formats;

/// <summary>
/// SAELens layout: a folder with <c>cfg.json</c> (<c>architecture</c>, <c>d_in</c>, <c>d_sae</c>, <c>dtype</c>,
/// <c>metadata.hook_name</c>, …) and <c>sae_weights.safetensors</c> (<c>W_enc</c> [d_in, d_sae], <c>b_enc</c> [d_sae],
/// <c>W_dec</c> [d_sae, d_in], <c>b_dec</c> [d_in], plus each architecture's own tensors). Written atomically; read
/// with every key and shape checked. The architectures and their loaders are in <see cref="SaeArchitectures"/>.
/// </summary>
public static class DecompositionFolder
{
    public const string ConfigFile = "cfg.json";
    public const string WeightsFile = "sae_weights.safetensors";

    /// <summary>Writes the folder through a temporary sibling renamed into place; <paramref name="extraFiles"/> adds files (name → text).</summary>
    public static void Save(string directory, Decomposition decomposition, IReadOnlyDictionary<string, string>? extraFiles = null)
    {
        var cfg = new JsonObject
        {
            ["architecture"] = decomposition.Architecture,
            ["d_in"] = decomposition.DIn,
            ["d_sae"] = decomposition.DSae,
            ["dtype"] = "float32",
            ["device"] = "cpu",
            ["apply_b_dec_to_input"] = true,
            ["normalize_activations"] = "none",
            ["reshape_activations"] = "none",
            ["activation_fn_str"] = "relu",
            ["hook_name"] = decomposition.Metadata.HookName ?? "",
            ["metadata"] = new JsonObject
            {
                ["hook_name"] = decomposition.Metadata.HookName ?? "",
                ["model_name"] = "",
                ["sae_lens_training_version"] = null,
            },
            ["mechanist"] = new JsonObject
            {
                ["method"] = decomposition.Metadata.Method,
                ["seed"] = decomposition.Metadata.Seed,
                ["options"] = new JsonObject(decomposition.Metadata.Options.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            },
        };
        foreach (var (key, value) in decomposition.ConfigEntries())
            cfg[key] = JsonSerializer.SerializeToNode(value);
        if (decomposition.Training.Count > 0)
            cfg["training"] = JsonSerializer.SerializeToNode(decomposition.Training);
        var text = cfg.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteDirectory(directory, temp =>
        {
            File.WriteAllText(Path.Combine(temp, ConfigFile), text);
            Safetensors.Write(Path.Combine(temp, WeightsFile), decomposition.StateDict());
            if (extraFiles is not null)
                foreach (var (name, content) in extraFiles) File.WriteAllText(Path.Combine(temp, name), content);
        });
    }

    /// <summary>
    /// Loads a SAELens-layout folder (<c>cfg.json</c> + <c>sae_weights.safetensors</c>), or a sparsify folder
    /// (<c>cfg.json</c> + <c>sae.safetensors</c>); every problem is an input error naming the file and key.
    /// </summary>
    public static Decomposition Load(string directory)
    {
        if (!Directory.Exists(directory))
            throw new MechanistInputException($"{directory}: decomposition folder not found.");
        var cfgPath = Path.Combine(directory, ConfigFile);
        var weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(cfgPath))
            throw new MechanistInputException($"{directory}: no {ConfigFile}; expected a SAELens-layout folder ({ConfigFile} + {WeightsFile}) or a sparsify folder ({ConfigFile} + {SparsifyFolder.WeightsFile}).");
        var cfg = JsonFile.ReadObject(cfgPath, "SAE config");
        if (!File.Exists(weightsPath) && File.Exists(Path.Combine(directory, SparsifyFolder.WeightsFile)))
            return SparsifyFolder.Load(directory, cfgPath, cfg);
        string architecture;
        try { architecture = cfg["architecture"]?.GetValue<string>() ?? "standard"; }
        catch (InvalidOperationException) { throw new MechanistInputException($"{cfgPath}: 'architecture' must be a string, got {cfg["architecture"]!.ToJsonString()}."); }
        if (!File.Exists(weightsPath))
            throw new MechanistInputException($"{directory}: no {WeightsFile}.");
        CheckNormalization(cfg, cfgPath);
        var context = new SaeLoadContext(cfgPath, cfg, weightsPath);
        using var scope = NewDisposeScope();
        var result = SaeArchitectures.Load(architecture, context);
        var metadata = cfg["metadata"] as JsonObject;
        result.Metadata = new DecompositionMetadata
        {
            Method = (cfg["mechanist"] as JsonObject)?["method"]?.GetValue<string>(),
            HookName = StringOrNull(metadata?["hook_name"]) ?? StringOrNull(cfg["hook_name"]) ?? StringOrNull(cfg["hook_point"]),
        };
        return result;
    }

    /// <summary>
    /// SAELens's <c>normalize_activations</c>: <c>none</c> (or absent, or false) and <c>expected_average_only_in</c>
    /// (which SAELens itself does not apply inside the SAE: the caller scales the input) load; the per-input schemes
    /// cannot be undone by a decoder that sees only latents.
    /// </summary>
    static void CheckNormalization(JsonObject cfg, string cfgPath)
    {
        var node = cfg["normalize_activations"];
        if (node is null) return;
        if (node is JsonValue v && v.TryGetValue<bool>(out var b) && !b) return;
        if (node is JsonValue s && s.TryGetValue<string>(out var text) && text is "none" or "expected_average_only_in") return;
        throw new MechanistInputException(
            $"{cfgPath}: normalize_activations {node.ToJsonString()} is not supported (supported: \"none\", \"expected_average_only_in\"); " +
            "per-input normalisation (constant_norm_rescale, layer_norm) needs the input at decode time.");
    }

    static string? StringOrNull(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    internal static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
