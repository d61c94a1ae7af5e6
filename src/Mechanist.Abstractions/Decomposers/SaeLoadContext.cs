using System.Text.Json.Nodes;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// What an architecture's loader reads from a SAELens-layout folder: the parsed <c>cfg.json</c> and the weights file.
/// Every accessor checks what it reads and throws a <see cref="MechanistInputException"/> naming the file and key.
/// </summary>
public sealed class SaeLoadContext
{
    readonly Safetensors.Header _header;

    public SaeLoadContext(string configPath, JsonObject config, string weightsPath)
    {
        ConfigPath = configPath;
        Config = config;
        WeightsPath = weightsPath;
        DIn = RequireInt("d_in");
        DSae = RequireInt("d_sae");
        _header = Safetensors.ReadHeader(weightsPath);
    }

    public string ConfigPath { get; }
    public JsonObject Config { get; }
    public string WeightsPath { get; }

    /// <summary><c>d_in</c> from <c>cfg.json</c>.</summary>
    public int DIn { get; }

    /// <summary><c>d_sae</c> from <c>cfg.json</c>.</summary>
    public int DSae { get; }

    /// <summary>SAELens's <c>apply_b_dec_to_input</c> (default true).</summary>
    public bool ApplyBDecToInput => GetBool("apply_b_dec_to_input", true);

    public IEnumerable<string> TensorNames => _header.Entries.Keys;

    public bool Has(string key) => _header.Entries.ContainsKey(key);

    /// <summary>Reads tensor <paramref name="key"/>, which must have exactly <paramref name="shape"/>, a floating dtype and finite values.</summary>
    public Tensor Read(string key, params long[] shape)
    {
        var entry = _header.Require(key);
        if (!entry.Shape.SequenceEqual(shape))
            throw new MechanistInputException(
                $"{WeightsPath}: tensor '{key}' has shape [{string.Join(", ", entry.Shape)}]; {Path.GetFileName(ConfigPath)} (d_in {DIn}, d_sae {DSae}) requires [{string.Join(", ", shape)}].");
        if (entry.DType is not ("F32" or "F16" or "BF16" or "F64"))
            throw new MechanistInputException($"{WeightsPath}: tensor '{key}' has dtype {entry.DType}; expected a floating-point dtype.");
        var t = Safetensors.ReadTensor(_header, key);
        ActivationFiles.EnsureFinite(WeightsPath, key, t.to(ScalarType.Float32));
        return t;
    }

    public int RequireInt(string key)
    {
        if (Config[key] is JsonValue v && v.TryGetValue<int>(out var i) && i > 0) return i;
        if (Config[key] is JsonValue d && d.TryGetValue<double>(out var x) && x == Math.Floor(x) && x > 0 && x < int.MaxValue) return (int)x;
        throw new MechanistInputException(
            $"{ConfigPath}: '{key}' must be a positive integer{(Config[key] is null ? " (missing)" : $", got {Config[key]!.ToJsonString()}")}.");
    }

    public bool GetBool(string key, bool fallback)
    {
        var node = Config[key];
        if (node is null) return fallback;
        if (node is JsonValue v && v.TryGetValue<bool>(out var b)) return b;
        throw new MechanistInputException($"{ConfigPath}: '{key}' must be true or false, got {node.ToJsonString()}.");
    }

    public string? GetString(string key) =>
        Config[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public IReadOnlyList<string> GetStrings(string key) =>
        Config[key] is JsonArray a ? a.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : "").ToList() : [];

    /// <summary>k of a TopK SAE: <c>k</c>, or (SAELens before 6.0) <c>activation_fn_kwargs.k</c>; at least 1 and at most d_sae.</summary>
    public int TopK()
    {
        var node = Config["k"] ?? (Config["activation_fn_kwargs"] as JsonObject)?["k"];
        if (node is JsonValue v && v.TryGetValue<double>(out var k) && k == Math.Floor(k) && k >= 1 && k <= DSae) return (int)k;
        throw new MechanistInputException(
            $"{ConfigPath}: 'k' must be an integer in [1, d_sae = {DSae}]{(node is null ? " (missing)" : $", got {node.ToJsonString()}")}.");
    }
}
