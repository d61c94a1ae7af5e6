using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// SAELens's <c>topk</c> architecture (Gao et al. 2024): z = (x − b_dec) W_enc + b_enc, optionally scaled by the
/// decoder row norms (<c>rescale_acts_by_decoder_norm</c>); f keeps the k largest z of each row, through a ReLU,
/// and zeroes the rest; x̂ = f W_dec + b_dec (f divided by the decoder norms first when rescaled). Also what a
/// sparsify (EleutherAI) folder loads as: its ReLU-then-TopK gives the same latents.
/// </summary>
public sealed class TopKSae : SparseAutoencoder
{
    public TopKSae(Tensor wEnc, Tensor bEnc, Tensor wDec, Tensor bDec, int k, bool applyBDecToInput = true,
        bool rescaleActsByDecoderNorm = false)
        : base(wEnc, wDec, bDec, applyBDecToInput)
    {
        RequireShape("b_enc", bEnc, DSae);
        if (k < 1 || k > DSae) throw new ArgumentException($"k must be in [1, d_sae = {DSae}], got {k}.");
        BEnc = Own(bEnc);
        K = k;
        RescaleActsByDecoderNorm = rescaleActsByDecoderNorm;
    }

    public const string ArchitectureName = "topk";

    public override string Architecture => ArchitectureName;

    public Tensor BEnc { get; }

    public int K { get; }

    public bool RescaleActsByDecoderNorm { get; }

    public override Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        var pre = PreActivation(x, BEnc);
        if (RescaleActsByDecoderNorm) pre = pre * WDec.to(x.device).norm(dim: 1);
        var (values, indices) = pre.topk(K, dim: -1);
        return zeros_like(pre).scatter_(-1, indices, nn.functional.relu(values)).MoveToOuterDisposeScope();
    }

    public override Tensor Decode(Tensor latents)
    {
        if (!RescaleActsByDecoderNorm) return base.Decode(latents);
        using var scope = NewDisposeScope();
        var scaled = latents.to(ScalarType.Float32) * (1 / WDec.to(latents.device).norm(dim: 1));
        return base.Decode(scaled).MoveToOuterDisposeScope();
    }

    public override IReadOnlyDictionary<string, Tensor> StateDict() =>
        new Dictionary<string, Tensor>(base.StateDict()) { ["b_enc"] = BEnc };

    public override IReadOnlyDictionary<string, object> ConfigEntries() => new Dictionary<string, object>(base.ConfigEntries())
    {
        ["k"] = K,
        ["rescale_acts_by_decoder_norm"] = RescaleActsByDecoderNorm,
        ["activation_fn_str"] = "topk",
        ["activation_fn_kwargs"] = new Dictionary<string, object> { ["k"] = K },
    };

    /// <summary>
    /// Reads <c>W_enc</c>, <c>b_enc</c>, <c>W_dec</c>, <c>b_dec</c>; k from <c>k</c> or (before SAELens 6)
    /// <c>activation_fn_kwargs.k</c>.
    /// </summary>
    [SaeArchitecture(ArchitectureName)]
    public static TopKSae Load(SaeLoadContext c)
    {
        int k = c.TopK();
        return new TopKSae(c.Read("W_enc", c.DIn, c.DSae), c.Read("b_enc", c.DSae), c.Read("W_dec", c.DSae, c.DIn),
            c.Read("b_dec", c.DIn), k, c.ApplyBDecToInput, c.GetBool("rescale_acts_by_decoder_norm", false));
    }
}
