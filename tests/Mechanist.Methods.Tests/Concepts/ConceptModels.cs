using Mechanist.Concepts;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Concepts;

/// <summary>
/// A token model with a planted context concept: tokens [B, T] over 6 ids → blocks.0.hook_resid_pre = E[token] +
/// P[pos] (coordinate 0 left at zero) → blocks.0.hook_resid_post = resid_pre + e₀·(2·parity − 1), parity = the
/// number of 0-tokens strictly before the position, mod 2 → logits = tanh(resid_post) W_U [B, T, 6], with
/// W_U[0, 3] = 3 (odd parity promotes token 3) and W_U's last row zero (the last coordinate has no effect).
/// Parity is independent of the current token, so it is linear at resid_post and absent at resid_pre.
/// </summary>
sealed class ParityModel : HookedModel
{
    public const int Vocab = 6, D = 8, Promoted = 3;
    readonly Tensor _e, _p, _wU;
    readonly HookPoint _pre, _post;

    public ParityModel(int maxLength = 32, int seed = 1) : base("parity")
    {
        var g = new Generator((ulong)seed);
        _e = randn(Vocab, D, generator: g);
        _e[.., 0] = 0f;
        _p = randn(maxLength, D, generator: g) * 0.5;
        _p[.., 0] = 0f;
        _wU = randn(D, Vocab, generator: g) * 0.3;
        _wU[0, Promoted] = 3f;
        _wU[D - 1] = zeros(Vocab);
        _pre = Site("blocks.0.hook_resid_pre");
        _post = Site("blocks.0.hook_resid_post");
        RegisterComponents();
    }

    public override string ModelType => "test-parity";

    public Tensor Unembedding => _wU;

    public static Tensor Parity(Tensor tokens)
    {
        var zeros = tokens.eq(0).to(ScalarType.Int64);
        return (zeros.cumsum(1) - zeros).remainder(2);
    }

    public override Tensor forward(Tensor tokens)
    {
        long t = tokens.shape[1];
        var pre = _pre.call(_e.index_select(0, tokens.reshape(-1)).view(tokens.shape[0], t, D) + _p.narrow(0, 0, t));
        var sign = Parity(tokens).to(ScalarType.Float32) * 2 - 1;
        var e0 = zeros(D);
        e0[0] = 1f;
        var post = _post.call(pre + sign.unsqueeze(-1) * e0);
        return post.tanh().matmul(_wU);
    }

    /// <summary>Random tokens [n, length] and their labels: parity (even/odd), low (token &lt; 3) and parity with its labels shuffled.</summary>
    public static (Tensor Tokens, ConceptLabels Labels) Data(int n, int length, int seed)
    {
        var tokens = randint(0, Vocab, [n, length], generator: new Generator((ulong)seed));
        var parity = Parity(tokens).reshape(-1).data<long>().ToArray();
        var low = tokens.lt(3).to(ScalarType.Int64).reshape(-1).data<long>().ToArray();
        var concept = new Concept("parity", parity, ["even", "odd"]);
        var labels = ConceptLabels.Create("test", [n, length],
            [concept, new Concept("low", low, ["high", "low"]), concept.Shuffled(seed + 9) with { Name = "parity_shuffled" }], tokens);
        return (tokens, labels);
    }
}

/// <summary>
/// A linear model with heads: tokens [B, T] → blocks.0.attn.hook_z [B, T, 3, 2] = per-head linear maps of E[token]
/// plus, in head 1 only, the parity concept → blocks.0.hook_resid_post = z flattened · O. Linear after the heads, so
/// attribution patching of a probe on resid_post is exact.
/// </summary>
sealed class HeadModel : HookedModel
{
    readonly Tensor _e, _o;
    readonly HookPoint _z, _post;

    public HeadModel(int seed = 2) : base("heads")
    {
        var g = new Generator((ulong)seed);
        _e = randn(ParityModel.Vocab, 6, generator: g) * 0.5;
        _o = randn(6, 5, generator: g);
        _z = Site("blocks.0.attn.hook_z");
        _post = Site("blocks.0.hook_resid_post");
        RegisterComponents();
    }

    public override string ModelType => "test-heads";

    public override Tensor forward(Tensor tokens)
    {
        long b = tokens.shape[0], t = tokens.shape[1];
        var z = _e.index_select(0, tokens.reshape(-1)).view(b, t, 3, 2).clone();
        z[.., .., 1, 0] += ParityModel.Parity(tokens).to(ScalarType.Float32) * 2;
        z = _z.call(z);
        return _post.call(z.reshape(b, t, 6).matmul(_o));
    }
}
