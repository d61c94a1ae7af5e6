using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// SAELens's <c>standard</c> architecture: f = ReLU((x − b_dec) W_enc + b_enc), x̂ = f W_dec + b_dec,
/// with W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in].
/// Any linear dictionary with signed codes fits it by splitting each direction into a +/− pair.
/// </summary>
public sealed class StandardSae : SparseAutoencoder
{
    /// <summary>Takes ownership of copies of the given float32 tensors (detached, contiguous).</summary>
    public StandardSae(Tensor wEnc, Tensor bEnc, Tensor wDec, Tensor bDec, bool applyBDecToInput = true)
        : base(wEnc, wDec, bDec, applyBDecToInput)
    {
        RequireShape("b_enc", bEnc, DSae);
        BEnc = Own(bEnc);
    }

    public const string ArchitectureName = "standard";

    public override string Architecture => ArchitectureName;

    /// <summary>b_enc [d_sae] (owned: do not dispose).</summary>
    public Tensor BEnc { get; }

    public override Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.relu(PreActivation(x, BEnc)).MoveToOuterDisposeScope();
    }

    public override IReadOnlyDictionary<string, Tensor> StateDict() =>
        new Dictionary<string, Tensor>(base.StateDict()) { ["b_enc"] = BEnc };

    /// <summary>Reads <c>W_enc</c>, <c>b_enc</c>, <c>W_dec</c>, <c>b_dec</c>.</summary>
    [SaeArchitecture(ArchitectureName)]
    public static StandardSae Load(SaeLoadContext c) =>
        new(c.Read("W_enc", c.DIn, c.DSae), c.Read("b_enc", c.DSae), c.Read("W_dec", c.DSae, c.DIn), c.Read("b_dec", c.DIn),
            c.ApplyBDecToInput);

    /// <summary>
    /// A signed linear code s = (x − mean) Eᵀ with reconstruction x̂ = mean + s D as a ReLU dictionary of
    /// 2·n latents: latent i is ReLU(s_i), latent n+i is ReLU(−s_i), decoder rows D_i and −D_i. Exact: the
    /// reconstruction equals the linear one.
    /// </summary>
    /// <param name="encoder">E, [n, d_in]: rows project centred inputs onto codes.</param>
    /// <param name="decoder">D, [n, d_in]: rows are the directions codes multiply.</param>
    /// <param name="mean">[d_in], subtracted before encoding and added after decoding.</param>
    public static StandardSae FromSignedLinear(Tensor encoder, Tensor decoder, Tensor mean)
    {
        using var scope = NewDisposeScope();
        var wEnc = cat([encoder, -encoder], 0).t();
        var wDec = cat([decoder, -decoder], 0);
        var bEnc = zeros(wEnc.shape[1], ScalarType.Float32, encoder.device);
        return new StandardSae(wEnc, bEnc, wDec, mean);
    }
}
