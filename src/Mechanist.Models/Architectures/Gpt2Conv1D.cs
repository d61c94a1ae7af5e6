using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>
/// Hugging Face's GPT-2 <c>Conv1D</c>: a linear layer whose <c>weight</c> is stored [in, out] (the transpose of
/// <c>nn.Linear</c>'s) with <c>bias</c> [out]; y = x W + b.
/// </summary>
public sealed class Gpt2Conv1D : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;

    public Gpt2Conv1D(string name, int inFeatures, int outFeatures) : base(name)
    {
        weight = new Parameter(empty(inFeatures, outFeatures), requires_grad: false);
        bias = new Parameter(zeros(outFeatures), requires_grad: false);
        RegisterComponents();
    }

    public Tensor Weight => weight;
    public Tensor Bias => bias;

    public override Tensor forward(Tensor x)
    {
        var shape = x.shape;
        var flat = addmm(bias, x.reshape(-1, shape[^1]), weight, beta: 1, alpha: 1);
        return flat.reshape([.. shape[..^1], weight.shape[1]]);
    }
}
