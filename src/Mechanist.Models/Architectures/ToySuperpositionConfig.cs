using System.Text.Json.Nodes;
using Mechanist.Models.Serialization;

namespace Mechanist.Models.Architectures;

/// <summary>Configuration of the toy model of superposition: <c>n_features</c> inputs squeezed through <c>n_hidden</c> dimensions.</summary>
public sealed record ToySuperpositionConfig
{
    public static readonly string[] Keys = ["n_features", "n_hidden"];

    public int NFeatures { get; init; } = 20;

    public int NHidden { get; init; } = 5;

    public void Validate(string source = "toy-superposition config")
    {
        if (NFeatures < 1) throw new MechanistInputException($"{source}: n_features must be at least 1, got {NFeatures}.");
        if (NHidden < 1) throw new MechanistInputException($"{source}: n_hidden must be at least 1, got {NHidden}.");
    }

    public JsonObject ToJson() => new()
    {
        ["model_type"] = ToySuperposition.ModelTypeId, ["n_features"] = NFeatures, ["n_hidden"] = NHidden,
    };

    public static ToySuperpositionConfig FromJson(JsonObject json, string source)
    {
        var r = new ConfigReader(json, source, ToySuperposition.ModelTypeId, Keys);
        return new ToySuperpositionConfig { NFeatures = r.Int("n_features", 1), NHidden = r.Int("n_hidden", 1) };
    }
}
