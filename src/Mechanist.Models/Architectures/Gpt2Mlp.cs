using Mechanist.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>GPT-2's MLP: <c>c_fc</c> → activation (GELU, tanh approximation) → <c>c_proj</c>, with hooks <c>mlp.hook_pre</c> and <c>mlp.hook_post</c>.</summary>
public sealed class Gpt2Mlp : nn.Module<Tensor, Tensor>
{
    readonly Gpt2Conv1D c_fc;
    readonly Gpt2Conv1D c_proj;
    readonly HookPoint hook_pre;
    readonly HookPoint hook_post;
    readonly string _activation;

    public Gpt2Mlp(string name, Gpt2Config config, HookPoint pre, HookPoint post) : base(name)
    {
        c_fc = new Gpt2Conv1D("c_fc", config.NEmbd, config.DMlp);
        c_proj = new Gpt2Conv1D("c_proj", config.DMlp, config.NEmbd);
        hook_pre = pre;
        hook_post = post;
        _activation = config.ActivationFunction;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var pre = hook_pre.call(c_fc.call(x));
        var post = hook_post.call(Activate(pre, _activation));
        return c_proj.call(post);
    }

    /// <summary>The activation functions of <see cref="Gpt2Config.Activations"/>.</summary>
    public static Tensor Activate(Tensor x, string name) => name switch
    {
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => x.gelu(TorchSharp.Modules.GELU.Approximate.tanh),
        "gelu" => x.gelu(),
        "relu" => nn.functional.relu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unsupported activation"),
    };
}
