using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// SAELens's <c>jumprelu</c> architecture (Rajamanoharan et al. 2024): z = (x − b_dec) W_enc + b_enc,
/// f = ReLU(z) · 1[z &gt; θ] with a threshold θ [d_sae] per latent; x̂ = f W_dec + b_dec. BatchTopK and Matryoshka
/// SAEs are saved as this architecture with their learned threshold.
/// </summary>
public sealed class JumpReluSae : SparseAutoencoder
{
    public JumpReluSae(Tensor wEnc, Tensor bEnc, Tensor wDec, Tensor bDec, Tensor threshold, bool applyBDecToInput = true)
        : base(wEnc, wDec, bDec, applyBDecToInput)
    {
        RequireShape("b_enc", bEnc, DSae);
        RequireShape("threshold", threshold, DSae);
        BEnc = Own(bEnc);
        Threshold = Own(threshold);
    }

    public const string ArchitectureName = "jumprelu";

    public override string Architecture => ArchitectureName;

    public Tensor BEnc { get; }

    /// <summary>θ [d_sae] (owned: do not dispose).</summary>
    public Tensor Threshold { get; }

    public override Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        var pre = PreActivation(x, BEnc);
        var mask = (pre > Threshold.to(x.device)).to(ScalarType.Float32);
        return (nn.functional.relu(pre) * mask).MoveToOuterDisposeScope();
    }

    public override IReadOnlyDictionary<string, Tensor> StateDict() =>
        new Dictionary<string, Tensor>(base.StateDict()) { ["b_enc"] = BEnc, ["threshold"] = Threshold };

    /// <summary>Reads <c>W_enc</c>, <c>b_enc</c>, <c>W_dec</c>, <c>b_dec</c>, <c>threshold</c>.</summary>
    [SaeArchitecture(ArchitectureName)]
    public static JumpReluSae Load(SaeLoadContext c) =>
        new(c.Read("W_enc", c.DIn, c.DSae), c.Read("b_enc", c.DSae), c.Read("W_dec", c.DSae, c.DIn), c.Read("b_dec", c.DIn),
            c.Read("threshold", c.DSae), c.ApplyBDecToInput);
}
