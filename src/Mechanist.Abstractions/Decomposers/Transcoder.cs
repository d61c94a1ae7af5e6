using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// SAELens's <c>transcoder</c> and <c>skip_transcoder</c> architectures (Dunefsky et al. 2024): encodes one site (the
/// MLP input) and reconstructs another (the MLP output). f = ReLU(x W_enc + b_enc) with no b_dec subtracted (it has
/// the output's width), ŷ = f W_dec + b_dec [+ x W_skipᵀ]; W_enc [d_in, d_sae], W_dec [d_sae, d_out],
/// b_dec [d_out], W_skip [d_out, d_in].
/// </summary>
public sealed class Transcoder : SparseAutoencoder
{
    public Transcoder(Tensor wEnc, Tensor bEnc, Tensor wDec, Tensor bDec, Tensor? wSkip = null)
        : base(wEnc, wDec, bDec, applyBDecToInput: false)
    {
        RequireShape("b_enc", bEnc, DSae);
        BEnc = Own(bEnc);
        if (wSkip is not null)
        {
            RequireShape("W_skip", wSkip, DOut, DIn);
            WSkip = Own(wSkip);
        }
    }

    public const string ArchitectureName = "transcoder";
    public const string SkipArchitectureName = "skip_transcoder";

    public override string Architecture => WSkip is null ? ArchitectureName : SkipArchitectureName;

    public Tensor BEnc { get; }

    public override bool ReconstructsTargets => true;

    /// <summary>W_skip [d_out, d_in], or null without a skip connection.</summary>
    public Tensor? WSkip { get; }

    public override Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.relu(PreActivation(x, BEnc)).MoveToOuterDisposeScope();
    }

    public override Tensor Decode(Tensor latents, Tensor x)
    {
        if (WSkip is null) return Decode(latents);
        using var scope = NewDisposeScope();
        var skip = x.to(ScalarType.Float32).matmul(WSkip.to(x.device).t());
        return (Decode(latents) + skip).MoveToOuterDisposeScope();
    }

    public override IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>(base.StateDict()) { ["b_enc"] = BEnc };
        if (WSkip is not null) d["W_skip"] = WSkip;
        return d;
    }

    public override IReadOnlyDictionary<string, object> ConfigEntries() => new Dictionary<string, object>(base.ConfigEntries())
    {
        ["d_out"] = DOut,
    };

    /// <summary>Loads a <c>transcoder</c> folder.</summary>
    [SaeArchitecture(ArchitectureName)]
    public static Transcoder LoadTranscoder(SaeLoadContext c) => Load(c, skip: false);

    /// <summary>Loads a <c>skip_transcoder</c> folder (with <c>W_skip</c>).</summary>
    [SaeArchitecture(SkipArchitectureName)]
    public static Transcoder LoadSkipTranscoder(SaeLoadContext c) => Load(c, skip: true);

    /// <summary>Reads <c>W_enc</c>, <c>b_enc</c>, <c>W_dec</c>, <c>b_dec</c> (d_out from <c>d_out</c>) and, for a skip transcoder, <c>W_skip</c>.</summary>
    public static Transcoder Load(SaeLoadContext c, bool skip)
    {
        int dOut = c.RequireInt("d_out");
        return new Transcoder(c.Read("W_enc", c.DIn, c.DSae), c.Read("b_enc", c.DSae), c.Read("W_dec", c.DSae, dOut),
            c.Read("b_dec", dOut), skip ? c.Read("W_skip", dOut, c.DIn) : null);
    }
}
