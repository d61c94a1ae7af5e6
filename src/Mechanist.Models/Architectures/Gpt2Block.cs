using Mechanist.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>
/// One GPT-2 block, pre-LayerNorm: resid_mid = resid_pre + attn(ln_1(resid_pre)); resid_post = resid_mid +
/// mlp(ln_2(resid_mid)). Parameters keep Hugging Face's names (<c>ln_1</c>, <c>attn</c>, <c>ln_2</c>, <c>mlp</c>);
/// hook sites keep TransformerLens's (<c>blocks.{i}.hook_resid_pre</c>, …).
/// </summary>
public sealed class Gpt2Block : nn.Module<Tensor, Tensor>
{
    readonly Gpt2LayerNorm ln_1;
    readonly Gpt2Attention attn;
    readonly Gpt2LayerNorm ln_2;
    readonly Gpt2Mlp mlp;
    readonly HookPoint hook_resid_pre, hook_attn_out, hook_resid_mid, hook_mlp_out, hook_resid_post;

    public Gpt2Block(string name, Gpt2Config config, int layer, Func<string, HookPoint> site) : base(name)
    {
        var prefix = $"blocks.{layer}.";
        hook_resid_pre = site(prefix + "hook_resid_pre");
        ln_1 = new Gpt2LayerNorm("ln_1", config.NEmbd, config.LayerNormEpsilon, site(prefix + "ln1.hook_normalized"));
        attn = new Gpt2Attention("attn", config, layer, s => site(prefix + "attn." + s));
        hook_attn_out = site(prefix + "hook_attn_out");
        hook_resid_mid = site(prefix + "hook_resid_mid");
        ln_2 = new Gpt2LayerNorm("ln_2", config.NEmbd, config.LayerNormEpsilon, site(prefix + "ln2.hook_normalized"));
        mlp = new Gpt2Mlp("mlp", config, site(prefix + "mlp.hook_pre"), site(prefix + "mlp.hook_post"));
        hook_mlp_out = site(prefix + "hook_mlp_out");
        hook_resid_post = site(prefix + "hook_resid_post");
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var residPre = hook_resid_pre.call(x);
        var attnOut = hook_attn_out.call(attn.call(ln_1.call(residPre)));
        var residMid = hook_resid_mid.call(residPre + attnOut);
        var mlpOut = hook_mlp_out.call(mlp.call(ln_2.call(residMid)));
        return hook_resid_post.call(residMid + mlpOut);
    }
}
