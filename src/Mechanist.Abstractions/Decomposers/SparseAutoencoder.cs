using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// Base of the SAELens-layout architectures: a linear encoder W_enc [d_in, d_sae], an activation that differs per
/// architecture, and a linear decoder x̂ = f W_dec + b_dec with W_dec [d_sae, d_out], b_dec [d_out]. When
/// <see cref="ApplyBDecToInput"/> is set (SAELens's <c>apply_b_dec_to_input</c>, the default), b_dec is subtracted
/// from the input before encoding. Owns float32 copies of its tensors.
/// </summary>
public abstract class SparseAutoencoder : Decomposition
{
    readonly List<Tensor> _owned = [];

    /// <param name="wEnc">[d_in, d_sae]</param>
    /// <param name="wDec">[d_sae, d_out]</param>
    /// <param name="bDec">[d_out]</param>
    /// <param name="applyBDecToInput">subtract b_dec from the input before encoding (needs d_out = d_in)</param>
    protected SparseAutoencoder(Tensor wEnc, Tensor wDec, Tensor bDec, bool applyBDecToInput)
    {
        RequireShape("W_enc", wEnc, -1, -1);
        long dIn = wEnc.shape[0], dSae = wEnc.shape[1];
        RequireShape("W_dec", wDec, dSae, -1);
        long dOut = wDec.shape[1];
        RequireShape("b_dec", bDec, dOut);
        if (applyBDecToInput && dOut != dIn)
            throw new ArgumentException($"apply_b_dec_to_input needs d_out = d_in; got d_in {dIn}, d_out {dOut}.");
        WEnc = Own(wEnc);
        WDec = Own(wDec);
        BDec = Own(bDec);
        ApplyBDecToInput = applyBDecToInput;
    }

    /// <summary>W_enc [d_in, d_sae] (owned: do not dispose).</summary>
    public Tensor WEnc { get; }

    /// <summary>W_dec [d_sae, d_out] (owned: do not dispose).</summary>
    public Tensor WDec { get; }

    /// <summary>b_dec [d_out] (owned: do not dispose).</summary>
    public Tensor BDec { get; }

    public bool ApplyBDecToInput { get; }

    public override int DIn => (int)WEnc.shape[0];
    public override int DSae => (int)WEnc.shape[1];
    public override int DOut => (int)WDec.shape[1];
    public override Tensor DecoderDirections => WDec;

    /// <summary>Takes a float32, contiguous, detached copy of <paramref name="t"/>, disposed with this object.</summary>
    protected Tensor Own(Tensor t)
    {
        using var _ = no_grad();
        var copy = t.detach().to(ScalarType.Float32).contiguous().clone().DetachFromDisposeScope();
        _owned.Add(copy);
        return copy;
    }

    /// <summary>Checks rank and sizes (−1 = any) and throws an <see cref="ArgumentException"/> naming the tensor.</summary>
    protected static void RequireShape(string name, Tensor t, params long[] shape)
    {
        bool ok = t.ndim == shape.Length && shape.Select((s, i) => s < 0 || t.shape[i] == s).All(b => b);
        if (!ok)
            throw new ArgumentException(
                $"{name} has shape [{string.Join(", ", t.shape)}]; expected [{string.Join(", ", shape.Select(s => s < 0 ? "*" : s.ToString()))}].");
    }

    /// <summary>The input as float32 on its device, minus b_dec when <see cref="ApplyBDecToInput"/> is set.</summary>
    protected Tensor SaeInput(Tensor x)
    {
        if (x.ndim != 2 || x.shape[1] != DIn)
            throw new ArgumentException($"input has shape [{string.Join(", ", x.shape)}]; expected [N, {DIn}].");
        var input = x.to(ScalarType.Float32);
        return ApplyBDecToInput ? input - BDec.to(x.device) : input;
    }

    /// <summary>The encoder's pre-activation (x − b_dec) W_enc + b.</summary>
    protected Tensor PreActivation(Tensor x, Tensor bias) => SaeInput(x).matmul(WEnc.to(x.device)) + bias.to(x.device);

    public override Tensor Decode(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var device = latents.device;
        return (latents.to(ScalarType.Float32).matmul(WDec.to(device)) + BDec.to(device)).MoveToOuterDisposeScope();
    }

    /// <summary>W_enc, W_dec and b_dec under their SAELens names; subclasses add theirs.</summary>
    public override IReadOnlyDictionary<string, Tensor> StateDict() => new Dictionary<string, Tensor>
    {
        ["W_enc"] = WEnc, ["W_dec"] = WDec, ["b_dec"] = BDec,
    };

    public override IReadOnlyDictionary<string, object> ConfigEntries() => new Dictionary<string, object>
    {
        ["apply_b_dec_to_input"] = ApplyBDecToInput,
    };

    protected override void DisposeTensors()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }
}
