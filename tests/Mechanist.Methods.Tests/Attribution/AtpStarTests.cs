using Mechanist.Attribution;
using Mechanist.Methods.Attribution;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Attribution;

/// <summary>
/// One attention head with GPT-2's site names and a saturating key: tokens [B, T] over {bos, X, Y, filler, Q} →
/// one-hot embeddings → q = 3·[token is Q]·u, k = 4·[token is X]·u (|u| = 1, so the score of Q on X is
/// 12/√d_head·√d_head = 12, every other score 0) → the head copies values v = 2·(one-hot) → logits = resid + attn_out.
/// A query Q on a sequence holding X attends to it with weight 1 − 2·10⁻⁵: saturated.
/// </summary>
sealed class SaturatedAttentionModel : HookedModel
{
    public const int Bos = 0, X = 1, Y = 2, Filler = 3, Q = 4, D = 5;
    readonly HookPoint _pre, _q, _k, _v, _scores, _pattern, _z, _out, _post;

    public SaturatedAttentionModel() : base("saturated")
    {
        _pre = Site("blocks.0.hook_resid_pre");
        _q = Site("blocks.0.attn.hook_q");
        _k = Site("blocks.0.attn.hook_k");
        _v = Site("blocks.0.attn.hook_v");
        _scores = Site("blocks.0.attn.hook_attn_scores");
        _pattern = Site("blocks.0.attn.hook_pattern");
        _z = Site("blocks.0.attn.hook_z");
        _out = Site("blocks.0.hook_attn_out");
        _post = Site("blocks.0.hook_resid_post");
        RegisterComponents();
    }

    public override string ModelType => "test-saturated";

    public override Tensor forward(Tensor tokens)
    {
        long b = tokens.shape[0], t = tokens.shape[1];
        var x = _pre.call(nn.functional.one_hot(tokens, D).to(ScalarType.Float64));
        var u = full(D, 1 / Math.Sqrt(D), ScalarType.Float64);
        var q = _q.call((x[.., .., Q].unsqueeze(-1) * 3 * Math.Sqrt(D) * u).unsqueeze(2));       // [b, t, 1, D]
        var k = _k.call((x[.., .., X].unsqueeze(-1) * 4 * u).unsqueeze(2));
        var v = _v.call((x * 2).unsqueeze(2));
        var scores = q.permute(0, 2, 1, 3).matmul(k.permute(0, 2, 3, 1)) / Math.Sqrt(D);
        scores = _scores.call(scores.masked_fill(ones(t, t, ScalarType.Bool).triu(1), double.NegativeInfinity));
        var pattern = _pattern.call(scores.softmax(-1));
        var z = _z.call(pattern.matmul(v.permute(0, 2, 1, 3)).permute(0, 2, 1, 3));
        var attnOut = _out.call(z.reshape(b, t, D));
        return _post.call(x + attnOut);
    }
}

/// <summary>
/// Two blocks with GPT-2's residual site names where the gradient cancels: resid_pre = x; block 0's MLP writes
/// −x + x³, its attention 0; block 1 writes 0; output = resid_post. At x = 0 the derivative of the output is
/// 1 − 1 = 0, yet the output moves by Σ x³.
/// </summary>
sealed class CancellingModel : HookedModel
{
    readonly HookPoint _pre, _a0, _m0, _a1, _m1, _post;

    public CancellingModel() : base("cancelling")
    {
        _pre = Site("blocks.0.hook_resid_pre");
        _a0 = Site("blocks.0.hook_attn_out");
        _m0 = Site("blocks.0.hook_mlp_out");
        _a1 = Site("blocks.1.hook_attn_out");
        _m1 = Site("blocks.1.hook_mlp_out");
        _post = Site("blocks.1.hook_resid_post");
        RegisterComponents();
    }

    public override string ModelType => "test-cancelling";

    public override Tensor forward(Tensor input)
    {
        var x = _pre.call(input);
        var r = x + _a0.call(x * 0) + _m0.call(-x + x.pow(3));
        r = r + _a1.call(r * 0) + _m1.call(r * 0);
        return _post.call(r);
    }
}

public class AtpStarTests
{
    static readonly string[] Sites =
        ["blocks.0.attn.hook_q", "blocks.0.attn.hook_k", "blocks.0.attn.hook_v", "blocks.0.attn.hook_z", "blocks.0.hook_attn_out"];

    static AttributionContext Context(Tensor clean, Tensor corrupted, Mechanist.Options.MethodOptions options) => new()
    {
        Model = new SaturatedAttentionModel(), Input = clean, Baseline = corrupted,
        Metric = o => o[.., -1, SaturatedAttentionModel.X] - o[.., -1, SaturatedAttentionModel.Y],
        MetricDescription = "logit(X) − logit(Y) at the last position", Sites = Sites, Options = options,
    };

    [Theory]
    [InlineData(PatchDirection.Noising)]
    [InlineData(PatchDirection.Denoising)]
    public void On_saturated_attention_AtP_star_matches_activation_patching_where_attribution_patching_fails(PatchDirection direction)
    {
        using var scope = NewDisposeScope();
        // Clean: the query Q finds X at position 1 and copies it; corrupted: Y there, attention spread evenly.
        var clean = tensor(new long[] { 0, 1, 3, 3, 4, 0, 1, 3, 4, 3 }).view(2, 5);
        var corrupted = tensor(new long[] { 0, 2, 3, 3, 4, 0, 2, 3, 4, 3 }).view(2, 5);
        var ap = new ActivationPatching().Attribute(Context(clean, corrupted, new ActivationPatchingOptions { Granularity = PatchGranularity.Head, Direction = direction }));
        var atp = new AttributionPatching().Attribute(Context(clean, corrupted, new PatchingOptions { Granularity = PatchGranularity.Head, Direction = direction }));
        var star = new AtpStar().Attribute(Context(clean, corrupted, new AtpStarOptions { Granularity = PatchGranularity.Head, Direction = direction, GradDrop = false }));
        Assert.Equal(ap.UnitLabels, star.UnitLabels);
        Assert.Equal(ap.UnitLabels, atp.UnitLabels);
        var key = ap.UnitLabels!.ToList().IndexOf("blocks.0.attn.hook_k@pos1.head0");
        double truth = ap.Scores[0, key].item<double>();
        Assert.True(Math.Abs(truth) > 1, $"patching the key at position 1 moves the metric: {truth}");
        double atpError = (atp.Scores - ap.Scores).abs().max().item<double>();
        double starError = (star.Scores - ap.Scores).abs().max().item<double>();
        // After the pattern the model is linear, so the QK fix is exact; plain AtP misses the key's effect
        // (noising: the saturated softmax has no gradient) or overshoots it (denoising: a linear step of 12 in the score).
        var worst = (star.Scores - ap.Scores).abs().max(0).values.argmax().item<long>();
        Assert.True(starError < 1e-6, $"AtP* error {starError} at {ap.UnitLabels![(int)worst]}: AP {ap.Scores[.., worst].ToString(TorchSharp.TensorStringStyle.Julia)} AtP* {star.Scores[.., worst].ToString(TorchSharp.TensorStringStyle.Julia)} AtP {atp.Scores[.., worst].ToString(TorchSharp.TensorStringStyle.Julia)}");
        Assert.True(atpError > 1, $"AtP error {atpError}");
        Assert.True(Math.Abs(atp.Scores[0, key].item<double>() - truth) > 1, "the failure is at the saturated key");
        // Units that do not pass through the softmax are plain attribution patching.
        var value = ap.UnitLabels!.ToList().IndexOf("blocks.0.attn.hook_v@pos1.head0");
        Assert.Equal(atp.Scores[0, value].item<double>(), star.Scores[0, value].item<double>(), 9);
        Assert.Equal("true", star.Settings["qk_fix"]);
    }

    [Fact]
    public void GradDrop_recovers_a_node_whose_gradient_cancels_across_paths()
    {
        using var scope = NewDisposeScope();
        using var model = new CancellingModel();
        var clean = tensor(new double[] { 1.0, 0.5 }).view(1, 2);
        var corrupted = zeros(1, 2, ScalarType.Float64);
        AttributionContext Ctx(Mechanist.Options.MethodOptions o) => new()
        {
            Model = model, Input = clean, Baseline = corrupted, Metric = y => y.sum(-1), MetricDescription = "sum of the output",
            Sites = ["blocks.0.hook_resid_pre", "blocks.0.hook_mlp_out"], Options = o,
        };
        var ap = new ActivationPatching().Attribute(Ctx(new ActivationPatchingOptions()));
        var atp = new AttributionPatching().Attribute(Ctx(new PatchingOptions()));
        var gd = new AtpStar().Attribute(Ctx(new AtpStarOptions { GradDrop = true }));
        // resid_pre: the true effect is Σ x³ = 1.125; AtP sees a zero gradient; GradDrop, with block 0 cut, sees the
        // direct path alone (Σ x = 1.5) and with block 1 cut nothing: (1.5 + 0) / (2 − 1).
        Assert.Equal(1.125, ap.Scores[0, 0].item<double>(), 12);
        Assert.Equal(0.0, atp.Scores[0, 0].item<double>(), 12);
        Assert.Equal(1.5, gd.Scores[0, 0].item<double>(), 12);
        // mlp_out of block 0 (clean value −x + x³ = [0, −0.375]): linear, so AtP is exact (−0.375); GradDrop cuts it
        // in block 0's run and keeps it in block 1's: |−0.375| / 1.
        Assert.Equal(-0.375, ap.Scores[0, 1].item<double>(), 12);
        Assert.Equal(-0.375, atp.Scores[0, 1].item<double>(), 12);
        Assert.Equal(0.375, gd.Scores[0, 1].item<double>(), 12);
        Assert.Equal("true (2 layers)", gd.Settings["grad_drop"]);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void AtP_star_refuses_element_units_for_queries_and_GradDrop_without_layers()
    {
        using var scope = NewDisposeScope();
        var clean = tensor(new long[] { 0, 1, 3, 4 }).view(1, 4);
        var corrupted = tensor(new long[] { 0, 2, 3, 4 }).view(1, 4);
        var element = Assert.Throws<MechanistInputException>(() =>
            new AtpStar().Attribute(Context(clean, corrupted, new AtpStarOptions { Granularity = PatchGranularity.Element, GradDrop = false })));
        Assert.Contains("granularity element", element.Message);
        var layers = Assert.Throws<MechanistInputException>(() => new AtpStar().Attribute(Context(clean, corrupted, new AtpStarOptions { GradDrop = true })));
        Assert.Contains("grad_drop=false", layers.Message);
    }
}
