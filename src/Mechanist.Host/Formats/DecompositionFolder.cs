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
/// <c>W_dec</c> [d_sae, d_in], <c>b_dec</c> [d_in]). Written atomically; read with every key and shape checked.
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
        var text = cfg.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        AtomicFile.WriteDirectory(directory, temp =>
        {
            File.WriteAllText(Path.Combine(temp, ConfigFile), text);
            Safetensors.Write(Path.Combine(temp, WeightsFile), decomposition.StateDict());
            if (extraFiles is not null)
                foreach (var (name, content) in extraFiles) File.WriteAllText(Path.Combine(temp, name), content);
        });
    }

    /// <summary>Loads a SAELens-layout folder; every problem is an input error naming the file and key.</summary>
    public static Decomposition Load(string directory)
    {
        if (!Directory.Exists(directory))
            throw new MechanistInputException($"{directory}: decomposition folder not found.");
        var cfgPath = Path.Combine(directory, ConfigFile);
        var weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(cfgPath))
            throw new MechanistInputException($"{directory}: no {ConfigFile}; expected a SAELens-layout folder ({ConfigFile} + {WeightsFile}).");
        JsonObject cfg;
        try
        {
            cfg = JsonNode.Parse(File.ReadAllText(cfgPath)) as JsonObject
                ?? throw new MechanistInputException($"{cfgPath}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new MechanistInputException($"{cfgPath}: not valid JSON ({e.Message}).", e);
        }
        var architecture = cfg["architecture"]?.GetValue<string>() ?? "standard";
        int dIn = RequireInt(cfg, "d_in", cfgPath), dSae = RequireInt(cfg, "d_sae", cfgPath);
        if (!File.Exists(weightsPath))
            throw new MechanistInputException($"{directory}: no {WeightsFile}.");
        var header = Safetensors.ReadHeader(weightsPath);
        Tensor Read(string key, params long[] shape)
        {
            var entry = header.Require(key);
            if (!entry.Shape.SequenceEqual(shape))
                throw new MechanistInputException(
                    $"{weightsPath}: tensor '{key}' has shape [{string.Join(", ", entry.Shape)}]; {ConfigFile} (d_in {dIn}, d_sae {dSae}) requires [{string.Join(", ", shape)}].");
            if (entry.DType is not ("F32" or "F16" or "BF16" or "F64"))
                throw new MechanistInputException($"{weightsPath}: tensor '{key}' has dtype {entry.DType}; expected a floating-point dtype.");
            var t = Safetensors.ReadTensor(header, key);
            ActivationFiles.EnsureFinite(weightsPath, key, t.to(ScalarType.Float32));
            return t;
        }
        using var scope = NewDisposeScope();
        Decomposition result = architecture switch
        {
            "standard" => new StandardSae(Read("W_enc", dIn, dSae), Read("b_enc", dSae), Read("W_dec", dSae, dIn), Read("b_dec", dIn)),
            _ => throw new MechanistInputException(
                $"{cfgPath}: architecture '{architecture}' is not supported by this version (supported: standard)."),
        };
        result.Metadata = new DecompositionMetadata
        {
            Method = (cfg["mechanist"] as JsonObject)?["method"]?.GetValue<string>(),
            HookName = (cfg["metadata"] as JsonObject)?["hook_name"]?.GetValue<string>() ?? cfg["hook_name"]?.GetValue<string>(),
        };
        return result;
    }

    static int RequireInt(JsonObject cfg, string key, string path)
    {
        if (cfg[key] is JsonValue v && v.TryGetValue<int>(out var i) && i > 0) return i;
        if (cfg[key] is JsonValue d && d.TryGetValue<double>(out var x) && x == Math.Floor(x) && x > 0 && x < int.MaxValue) return (int)x;
        throw new MechanistInputException($"{path}: '{key}' must be a positive integer{(cfg[key] is null ? " (missing)" : $", got {cfg[key]!.ToJsonString()}")}.");
    }

    internal static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
