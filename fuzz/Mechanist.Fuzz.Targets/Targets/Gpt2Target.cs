using Mechanist.Host.Models;
using Mechanist.Models.Architectures;
using static TorchSharp.torch;

namespace Mechanist.Fuzzing.Targets;

/// <summary>
/// A Hugging Face GPT-2 folder (<c>config.json</c> + <c>model.safetensors</c>) opened the way every command opens a
/// model: through the loader registered for its <c>model_type</c>; a loaded model must run a forward pass.
/// </summary>
public sealed class Gpt2Target : FuzzTarget
{
    public override string Name => "gpt2";

    public override string Summary => "Hugging Face GPT-2 folder: config.json + model.safetensors (ModelFolder.Load → Gpt2Model.Load)";

    public override IReadOnlyList<string> Files => ["config.json", "model.safetensors"];

    public override void Run(FuzzInput input)
    {
        var host = SharedHost.Instance;
        using var model = ModelFolder.Load(input.Folder, host.Catalog, host.Services);
        if (model is not Gpt2Model gpt2) return;
        var config = gpt2.Config;
        int length = Math.Min(2, config.NPositions);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokens = arange(length, ScalarType.Int64).remainder(config.VocabSize).unsqueeze(0);
        Check.Shape(gpt2.Run(tokens), "logits", 1, length, config.VocabSize);
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        yield return new("gpt2-tiny", [context.Fixture("tests/Fixtures/gpt2-tiny/config.json"), context.Fixture("tests/Fixtures/gpt2-tiny/model.safetensors")]);
        var small = new Gpt2Config { VocabSize = 7, NPositions = 4, NEmbd = 4, NLayer = 1, NHead = 2 };
        foreach (var (name, config) in new[]
        {
            ("small", small),
            ("untied-relu", small with { TieWordEmbeddings = false, ActivationFunction = "relu", NInner = 3, ScaleAttnByInverseLayerIdx = true }),
        })
        {
            var folder = Path.Combine(context.NewFolder("gpt2"), name);
            using (var model = Gpt2Model.CreateRandom(config, seed: 1)) model.Save(folder);
            yield return new(name, [File.ReadAllBytes(Path.Combine(folder, "config.json")), File.ReadAllBytes(Path.Combine(folder, "model.safetensors"))]);
        }
    }

    public override IEnumerable<string> Dictionary =>
    [
        "\"model_type\"", "\"gpt2\"", "\"vocab_size\"", "\"n_positions\"", "\"n_embd\"", "\"n_layer\"", "\"n_head\"", "\"n_inner\"",
        "\"layer_norm_epsilon\"", "\"activation_function\"", "\"gelu_new\"", "\"relu\"", "\"scale_attn_weights\"",
        "\"scale_attn_by_inverse_layer_idx\"", "\"tie_word_embeddings\"", "\"add_cross_attention\"", "\"pruned_heads\"",
        "\"transformer.\"", "\"lm_head.weight\"", "\"wte.weight\"", "\"wpe.weight\"", "\"h.0.attn.c_attn.weight\"",
        "\"h.0.attn.bias\"", "\"ln_f.weight\"", "\"modular-addition\"", "\"mlp\"", "\"F32\"", "\"F16\"", "\"BF16\"",
        "\"dtype\"", "\"shape\"", "\"data_offsets\"", "true", "false", "null", "0", "-1", "1e400", "2147483647",
    ];
}
