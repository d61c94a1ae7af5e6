using System.Text.Json.Nodes;
using Mechanist.Models.Serialization;

namespace Mechanist.Models.Architectures;

/// <summary>
/// Configuration of a plain MLP: <c>layer_sizes</c> [d_in, hidden…, d_out] (at least two entries: one linear
/// layer) and the <c>activation</c> between layers (<c>relu</c> or <c>gelu</c>; none after the last layer).
/// </summary>
public sealed record MlpConfig
{
    public static readonly string[] Keys = ["layer_sizes", "activation"];
    public static readonly string[] Activations = ["relu", "gelu"];

    public IReadOnlyList<int> LayerSizes { get; init; } = [16, 64, 16];

    public string Activation { get; init; } = "relu";

    /// <summary>Number of linear layers.</summary>
    public int Layers => LayerSizes.Count - 1;

    public void Validate(string source = "mlp config")
    {
        if (LayerSizes.Count < 2)
            throw new MechanistInputException($"{source}: layer_sizes needs at least 2 entries (d_in, d_out), got {LayerSizes.Count}.");
        for (int i = 0; i < LayerSizes.Count; i++)
            if (LayerSizes[i] < 1) throw new MechanistInputException($"{source}: layer_sizes[{i}] must be at least 1, got {LayerSizes[i]}.");
        if (!Activations.Contains(Activation))
            throw new MechanistInputException($"{source}: activation must be one of {string.Join(", ", Activations)}, got '{Activation}'.");
    }

    public JsonObject ToJson() => new()
    {
        ["model_type"] = Mlp.ModelTypeId,
        ["layer_sizes"] = new JsonArray(LayerSizes.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
        ["activation"] = Activation,
    };

    public static MlpConfig FromJson(JsonObject json, string source)
    {
        var r = new ConfigReader(json, source, Mlp.ModelTypeId, Keys);
        return new MlpConfig { LayerSizes = r.IntArray("layer_sizes", 1, 2), Activation = r.String("activation", Activations) };
    }

    public bool Equals(MlpConfig? other) =>
        other is not null && LayerSizes.SequenceEqual(other.LayerSizes) && Activation == other.Activation;

    public override int GetHashCode() => HashCode.Combine(LayerSizes.Count, LayerSizes.Count > 0 ? LayerSizes[0] : 0, Activation);
}
