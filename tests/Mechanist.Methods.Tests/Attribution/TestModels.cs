using Mechanist.Models.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Attribution;

/// <summary>
/// A smooth float64 model [B, 4] → [B, 3]: hook_in = x, mlp.hook_pre = x W1 + b1, mlp.hook_post = tanh(pre),
/// hook_out = post W2 + sin(x) V, logits = hook_out (and hook_unused = 2·post, which nothing reads). Every function is
/// analytic, so integrated gradients converge.
/// </summary>
sealed class SmoothModel : HookedModel
{
    readonly Tensor _w1, _b1, _w2, _v;
    readonly HookPoint _in, _pre, _post, _out, _unused;

    public SmoothModel(int seed = 3) : base("smooth")
    {
        var g = new Generator((ulong)seed);
        _w1 = randn(4, 6, ScalarType.Float64, generator: g) * 0.8;
        _b1 = randn(6, ScalarType.Float64, generator: g) * 0.1;
        _w2 = randn(6, 3, ScalarType.Float64, generator: g);
        _v = randn(4, 3, ScalarType.Float64, generator: g) * 0.5;
        _in = Site("hook_in");
        _pre = Site("mlp.hook_pre");
        _post = Site("mlp.hook_post");
        _out = Site("hook_out");
        _unused = Site("hook_unused");
        RegisterComponents();
    }

    public override string ModelType => "test-smooth";

    public override Tensor forward(Tensor x)
    {
        x = _in.call(x);
        var pre = _pre.call(x.matmul(_w1) + _b1);
        var post = _post.call(pre.tanh());
        _unused.call(post * 2); // a site the output does not depend on
        return _out.call(post.matmul(_w2) + x.sin().matmul(_v));
    }
}

/// <summary>
/// A model linear in every activation: x [B, L, D] → blocks.0.hook_resid_pre = x → blocks.0.hook_mix = causal
/// prefix sums of x A → blocks.0.hook_resid_post = resid_pre + mix → logits = resid_post U [B, L, V].
/// Every hook site feeds the output linearly, so attribution patching is exact.
/// </summary>
sealed class LinearSequenceModel : HookedModel
{
    readonly Tensor _a, _u;
    readonly HookPoint _pre, _mix, _post;

    public LinearSequenceModel(int d = 5, int vocab = 7, int seed = 5, ScalarType dtype = ScalarType.Float64) : base("linear")
    {
        var g = new Generator((ulong)seed);
        _a = randn(d, d, dtype, generator: g) * 0.5;
        _u = randn(d, vocab, dtype, generator: g);
        _pre = Site("blocks.0.hook_resid_pre");
        _mix = Site("blocks.0.hook_mix");
        _post = Site("blocks.0.hook_resid_post");
        RegisterComponents();
    }

    public override string ModelType => "test-linear";

    public override Tensor forward(Tensor x)
    {
        var pre = _pre.call(x);
        var mix = _mix.call(pre.matmul(_a).cumsum(1));
        var post = _post.call(pre + mix);
        return post.matmul(_u);
    }
}

/// <summary>
/// A hand-built model with a known dictionary at its middle site: x [B, D] → hook_mid = x → readout = mid R [B, 2].
/// </summary>
sealed class ReadoutModel : HookedModel
{
    readonly Tensor _r;
    readonly HookPoint _mid;

    public ReadoutModel(Tensor readout) : base("readout")
    {
        _r = readout.detach().clone();
        _mid = Site("hook_mid");
        RegisterComponents();
    }

    public override string ModelType => "test-readout";

    public override Tensor forward(Tensor x) => _mid.call(x).matmul(_r.to(x.dtype));
}

/// <summary>
/// A tiny token model: tokens [B, L] → hook_embed = W_E[tokens] → blocks.0.hook_resid_pre = embed + W_pos →
/// blocks.0.mlp.hook_post = gelu(resid W_in) → blocks.0.hook_resid_post = resid + post W_out + causal mean of resid →
/// logits = resid_post W_U [B, L, V]. Float32, like a real language model.
/// </summary>
sealed class TinyTokenModel : HookedModel
{
    readonly Tensor _wE, _wPos, _wIn, _wOut, _wU;
    readonly HookPoint _embed, _pre, _post, _resid;

    public TinyTokenModel(int vocab = 11, int d = 8, int ctx = 6, int seed = 7) : base("tiny")
    {
        var g = new Generator((ulong)seed);
        _wE = randn(vocab, d, generator: g);
        _wPos = randn(ctx, d, generator: g) * 0.3;
        _wIn = randn(d, 16, generator: g) * 0.4;
        _wOut = randn(16, d, generator: g) * 0.4;
        _wU = randn(d, vocab, generator: g) * 0.5;
        Vocab = vocab;
        _embed = Site("hook_embed");
        _pre = Site("blocks.0.hook_resid_pre");
        _post = Site("blocks.0.mlp.hook_post");
        _resid = Site("blocks.0.hook_resid_post");
        RegisterComponents();
    }

    public int Vocab { get; }

    public Tensor Embedding => _wE;

    public Tensor Unembedding => _wU;

    public override string ModelType => "test-tiny";

    public override Tensor forward(Tensor tokens)
    {
        long length = tokens.shape[1];
        var embed = _embed.call(_wE.index_select(0, tokens.reshape(-1)).reshape(tokens.shape[0], length, -1));
        var resid = _pre.call(embed + _wPos.narrow(0, 0, length));
        var post = _post.call(nn.functional.gelu(resid.matmul(_wIn)));
        var counts = arange(1, length + 1, dtype: resid.dtype).view(1, -1, 1);
        var mean = resid.cumsum(1) / counts;
        var outResid = _resid.call(resid + post.matmul(_wOut) + mean);
        return outResid.matmul(_wU);
    }
}

static class Num
{
    /// <summary>max |t| as a double, whatever t's dtype.</summary>
    public static double MaxAbs(Tensor t) => t.abs().max().to(ScalarType.Float64).item<double>();
}
