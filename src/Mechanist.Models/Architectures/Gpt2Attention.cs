using Mechanist.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Models.Architectures;

/// <summary>
/// GPT-2's causal self-attention: <c>c_attn</c> (one Conv1D [d, 3d] for q, k, v) and <c>c_proj</c>. Hooks, with
/// TransformerLens's names and shapes: <c>attn.hook_q|k|v</c> and <c>attn.hook_z</c> [batch, pos, head, d_head],
/// <c>attn.hook_attn_scores</c> (scaled, future positions set to −∞) and <c>attn.hook_pattern</c> [batch, head, q, k].
/// </summary>
public sealed class Gpt2Attention : nn.Module<Tensor, Tensor>
{
    readonly Gpt2Conv1D c_attn;
    readonly Gpt2Conv1D c_proj;
    readonly HookPoint hook_q, hook_k, hook_v, hook_attn_scores, hook_pattern, hook_z;
    readonly int _heads, _dHead;
    readonly double _scale;

    public Gpt2Attention(string name, Gpt2Config config, int layer, Func<string, HookPoint> site) : base(name)
    {
        c_attn = new Gpt2Conv1D("c_attn", config.NEmbd, 3 * config.NEmbd);
        c_proj = new Gpt2Conv1D("c_proj", config.NEmbd, config.NEmbd);
        hook_q = site("hook_q");
        hook_k = site("hook_k");
        hook_v = site("hook_v");
        hook_attn_scores = site("hook_attn_scores");
        hook_pattern = site("hook_pattern");
        hook_z = site("hook_z");
        _heads = config.NHead;
        _dHead = config.DHead;
        double scale = 1.0;
        if (config.ScaleAttnWeights) scale /= Math.Sqrt(_dHead);
        if (config.ScaleAttnByInverseLayerIdx) scale /= layer + 1;
        _scale = scale;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        long batch = x.shape[0], pos = x.shape[1], d = x.shape[2];
        var qkv = c_attn.call(x).split(d, 2);
        var q = hook_q.call(qkv[0].view(batch, pos, _heads, _dHead));
        var k = hook_k.call(qkv[1].view(batch, pos, _heads, _dHead));
        var v = hook_v.call(qkv[2].view(batch, pos, _heads, _dHead));
        // [batch, head, q, d_head] x [batch, head, d_head, k] -> [batch, head, q, k]
        var scores = q.permute(0, 2, 1, 3).matmul(k.permute(0, 2, 3, 1));
        if (_scale != 1.0) scores = scores * _scale;
        using (var future = ones(pos, pos, ScalarType.Bool, x.device).triu(1))
            scores = hook_attn_scores.call(scores.masked_fill(future, double.NegativeInfinity));
        var pattern = hook_pattern.call(scores.softmax(-1));
        var z = hook_z.call(pattern.matmul(v.permute(0, 2, 1, 3)).permute(0, 2, 1, 3));
        return c_proj.call(z.reshape(batch, pos, d));
    }
}
