using Mechanist.Decomposers;
using static TorchSharp.torch;

namespace Mechanist.TestPlugins.SaeVariant;

/// <summary>SAELens-layout architecture <c>topk_threshold</c>: f keeps each row's k largest z = (x − b_dec) W_enc + b_enc that exceed θ.</summary>
public sealed class ThresholdTopKSae : SparseAutoencoder
{
    public const string ArchitectureName = "topk_threshold";

    public ThresholdTopKSae(Tensor wEnc, Tensor bEnc, Tensor wDec, Tensor bDec, int k, Tensor threshold, bool applyBDecToInput = true)
        : base(wEnc, wDec, bDec, applyBDecToInput)
    {
        RequireShape("b_enc", bEnc, DSae);
        RequireShape("threshold", threshold, DSae);
        if (k < 1 || k > DSae) throw new ArgumentException($"k must be in [1, d_sae = {DSae}], got {k}.");
        (BEnc, Threshold, K) = (Own(bEnc), Own(threshold), k);
    }

    public override string Architecture => ArchitectureName;
    public Tensor BEnc { get; }
    public Tensor Threshold { get; }
    public int K { get; }

    public override Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        var pre = PreActivation(x, BEnc);
        var (values, indices) = pre.topk(K, dim: -1);
        var kept = values * (values > Threshold.to(x.device).index_select(0, indices.flatten()).view_as(indices));
        return zeros_like(pre).scatter_(-1, indices, kept.relu()).MoveToOuterDisposeScope();
    }

    public override IReadOnlyDictionary<string, Tensor> StateDict() =>
        new Dictionary<string, Tensor>(base.StateDict()) { ["b_enc"] = BEnc, ["threshold"] = Threshold };

    public override IReadOnlyDictionary<string, object> ConfigEntries() =>
        new Dictionary<string, object>(base.ConfigEntries()) { ["k"] = K };

    [SaeArchitecture(ArchitectureName)]
    public static ThresholdTopKSae Load(SaeLoadContext c) =>
        new(c.Read("W_enc", c.DIn, c.DSae), c.Read("b_enc", c.DSae), c.Read("W_dec", c.DSae, c.DIn), c.Read("b_dec", c.DIn),
            c.RequireInt("k"), c.Read("threshold", c.DSae), c.ApplyBDecToInput);
}
