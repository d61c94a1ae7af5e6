using System.Text.Json.Nodes;
using Mechanist.Discovery;
using Mechanist.IO;
using Mechanist.Models;

namespace Mechanist.TestPlugins.Models;

/// <summary>Loads a <see cref="BigramModel"/> folder: config.json (vocab_size, d_model, n_positions) + model.safetensors (embed, unembed).</summary>
[ModelLoader(Id, Title = "Bigram test model", Summary = "Test fixture: a third-party architecture loaded as a plugin.",
    Reference = "Test fixture.", HelpLink = "tests/Fixtures/Mechanist.TestPlugins.Models/README.md")]
public sealed class BigramLoader : ModelLoader
{
    public const string Id = "test.bigram";

    public override IHookedModel Load(ModelLoadContext context)
    {
        var configPath = Path.Combine(context.Folder, "config.json");
        int vocab = Int(context.Config, "vocab_size", configPath);
        int d = Int(context.Config, "d_model", configPath);
        int positions = Int(context.Config, "n_positions", configPath);
        var header = Safetensors.ReadHeader(Path.Combine(context.Folder, "model.safetensors"));
        Expect(header, "embed", [vocab, d]);
        Expect(header, "unembed", [d, vocab]);
        using var embed = Safetensors.ReadTensor(header, "embed");
        using var unembed = Safetensors.ReadTensor(header, "unembed");
        return new BigramModel(embed, unembed, positions, context.Device);
    }

    static int Int(JsonObject config, string key, string path) =>
        config[key] is JsonValue v && v.TryGetValue<int>(out var i) && i > 0 ? i
            : throw new MechanistInputException($"{path}: '{key}' must be a positive integer.");

    static void Expect(Safetensors.Header header, string name, long[] shape)
    {
        var entry = header.Require(name);
        if (entry.DType != "F32" || !entry.Shape.SequenceEqual(shape))
            throw new MechanistInputException($"{header.Path}: tensor '{name}' must be F32 [{string.Join(", ", shape)}].");
    }
}
