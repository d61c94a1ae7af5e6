using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// SAELens's <c>standard</c> architecture: f = ReLU((x − b_dec) W_enc + b_enc), x̂ = f W_dec + b_dec,
/// with W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in].
/// Any linear dictionary with signed codes fits it by splitting each direction into a +/− pair.
/// </summary>
public sealed class StandardSae : Decomposition
{
    readonly Tensor _wEnc, _bEnc, _wDec, _bDec;

    /// <summary>Takes ownership of copies of the given float32 tensors (detached, contiguous).</summary>
    public StandardSae(Tensor wEnc, Tensor bEnc, Tensor wDec, Tensor bDec)
    {
        if (wEnc.ndim != 2 || wDec.ndim != 2 || bEnc.ndim != 1 || bDec.ndim != 1)
            throw new ArgumentException("W_enc and W_dec must be 2-D, b_enc and b_dec 1-D.");
        long dIn = wEnc.shape[0], dSae = wEnc.shape[1];
        if (wDec.shape[0] != dSae || wDec.shape[1] != dIn || bEnc.shape[0] != dSae || bDec.shape[0] != dIn)
            throw new ArgumentException(
                $"inconsistent shapes: W_enc [{dIn}, {dSae}] needs b_enc [{dSae}], W_dec [{dSae}, {dIn}], b_dec [{dIn}]; " +
                $"got b_enc [{string.Join(", ", bEnc.shape)}], W_dec [{string.Join(", ", wDec.shape)}], b_dec [{string.Join(", ", bDec.shape)}].");
        _wEnc = Own(wEnc); _bEnc = Own(bEnc); _wDec = Own(wDec); _bDec = Own(bDec);
    }

    static Tensor Own(Tensor t)
    {
        using var _ = no_grad();
        return t.detach().to(ScalarType.Float32).contiguous().clone().DetachFromDisposeScope();
    }

    public override string Architecture => "standard";
    public override int DIn => (int)_wEnc.shape[0];
    public override int DSae => (int)_wEnc.shape[1];
    public override Tensor DecoderDirections => _wDec;

    public override Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        var device = x.device;
        var pre = (x.to(ScalarType.Float32) - _bDec.to(device)).matmul(_wEnc.to(device)) + _bEnc.to(device);
        return nn.functional.relu(pre).MoveToOuterDisposeScope();
    }

    public override Tensor Decode(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var device = latents.device;
        return (latents.matmul(_wDec.to(device)) + _bDec.to(device)).MoveToOuterDisposeScope();
    }

    public override IReadOnlyDictionary<string, Tensor> StateDict() => new Dictionary<string, Tensor>
    {
        ["W_enc"] = _wEnc, ["b_enc"] = _bEnc, ["W_dec"] = _wDec, ["b_dec"] = _bDec,
    };

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

    protected override void DisposeTensors()
    {
        _wEnc.Dispose(); _bEnc.Dispose(); _wDec.Dispose(); _bDec.Dispose();
    }
}
