using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>A lookup table <c>weight</c> [count, d] (GPT-2's <c>wte</c> and <c>wpe</c>).</summary>
public sealed class Gpt2Embedding : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;

    public Gpt2Embedding(string name, int count, int dimension) : base(name)
    {
        weight = new Parameter(empty(count, dimension), requires_grad: false);
        RegisterComponents();
    }

    public Tensor Weight => weight;

    /// <summary>Rows of the table for int64 <paramref name="ids"/> of any shape → [..., d].</summary>
    public override Tensor forward(Tensor ids) =>
        weight.index_select(0, ids.flatten()).reshape([.. ids.shape, weight.shape[1]]);
}
