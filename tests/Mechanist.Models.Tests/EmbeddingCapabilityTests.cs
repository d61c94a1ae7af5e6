using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

/// <summary>
/// <see cref="IEmbeddingModel"/> answered from a model's own weights agrees with the weights in its folder, read
/// independently by name (Hugging Face names for GPT-2, TransformerLens names for the modular-addition transformer).
/// </summary>
public class EmbeddingCapabilityTests
{
    static Tensor Weight(IReadOnlyDictionary<string, Tensor> file, params string[] names) =>
        names.Select(n => file.GetValueOrDefault(n)).First(t => t is not null)!.to(ScalarType.Float32);

    [Fact]
    public void Gpt2_unembeds_through_wte_and_reads_mlp_outputs_through_c_proj()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Fixture.Load();
        var file = Safetensors.ReadAll(Path.Combine(Gpt2Fixture.Folder, "model.safetensors"));
        var wte = Weight(file, "wte.weight", "transformer.wte.weight");
        IEmbeddingModel capability = model;
        Assert.True(capability.TokenEmbedding()!.equal(wte).all().item<bool>());
        Assert.True(capability.Unembedding(null)!.allclose(wte.t()));
        Assert.True(capability.Unembedding("blocks.0.hook_resid_post")!.allclose(wte.t()));
        var cProj = Weight(file, "h.1.mlp.c_proj.weight", "transformer.h.1.mlp.c_proj.weight");
        var mlp = capability.Unembedding("blocks.1.mlp.hook_post")!;
        Assert.Equal([cProj.shape[0], wte.shape[0]], mlp.shape);
        Assert.True(mlp.allclose(cProj.matmul(wte.t()), rtol: 1e-5, atol: 1e-6));
        // A copy: changing it leaves the model alone.
        capability.TokenEmbedding()!.zero_();
        Assert.True(capability.TokenEmbedding()!.equal(wte).all().item<bool>());
    }

    [Fact]
    public void Modular_addition_unembeds_through_W_U_and_W_out()
    {
        using var temp = new TempDir();
        using var scope = NewDisposeScope();
        using (var created = ModularAdditionTransformer.Create(new ModularAdditionConfig { P = 7, DModel = 8, NHeads = 2, DHead = 4, DMlp = 16 }, seed: 3))
            created.Save(temp.File("model"));
        using var model = ModularAdditionTransformer.Load(temp.File("model"));
        var file = Safetensors.ReadAll(temp.File("model/model.safetensors"));
        IEmbeddingModel capability = model;
        Assert.True(capability.TokenEmbedding()!.equal(file["embed.W_E"]).all().item<bool>());
        Assert.True(capability.Unembedding("blocks.0.hook_resid_post")!.equal(file["unembed.W_U"]).all().item<bool>());
        Assert.True(capability.Unembedding("blocks.0.mlp.hook_post")!.allclose(file["blocks.0.mlp.W_out"].matmul(file["unembed.W_U"])));
        // No second layer: the residual map.
        Assert.True(capability.Unembedding("blocks.1.mlp.hook_post")!.equal(file["unembed.W_U"]).all().item<bool>());
    }
}
