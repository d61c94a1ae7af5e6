using Mechanist.Models.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>
/// LayerNorm over the last dimension with <c>weight</c> and <c>bias</c> [d] and GPT-2's <c>layer_norm_epsilon</c>.
/// Its hook point (<c>ln_final.hook_normalized</c>, <c>blocks.{i}.ln1.hook_normalized</c>, …) sees the output after
/// the affine transform, as in TransformerLens.
/// </summary>
public sealed class Gpt2LayerNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;
    readonly HookPoint hook_normalized;
    readonly double _epsilon;

    public Gpt2LayerNorm(string name, int dimension, double epsilon, HookPoint normalized) : base(name)
    {
        weight = new Parameter(ones(dimension), requires_grad: false);
        bias = new Parameter(zeros(dimension), requires_grad: false);
        hook_normalized = normalized;
        _epsilon = epsilon;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        hook_normalized.call(nn.functional.layer_norm(x, [weight.shape[0]], weight, bias, _epsilon));
}
