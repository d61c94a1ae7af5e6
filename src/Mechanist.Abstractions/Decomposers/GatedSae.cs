using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// SAELens's <c>gated</c> architecture (Rajamanoharan et al. 2024): with x' = x − b_dec,
/// π_gate = x' W_enc + b_gate, π_mag = x' (W_enc ⊙ exp(r_mag)) + b_mag, f = 1[π_gate &gt; 0] ⊙ ReLU(π_mag);
/// x̂ = f W_dec + b_dec. No b_enc: the gate and the magnitude have their own biases.
/// </summary>
public sealed class GatedSae : SparseAutoencoder
{
    public GatedSae(Tensor wEnc, Tensor bGate, Tensor rMag, Tensor bMag, Tensor wDec, Tensor bDec, bool applyBDecToInput = true)
        : base(wEnc, wDec, bDec, applyBDecToInput)
    {
        RequireShape("b_gate", bGate, DSae);
        RequireShape("r_mag", rMag, DSae);
        RequireShape("b_mag", bMag, DSae);
        BGate = Own(bGate);
        RMag = Own(rMag);
        BMag = Own(bMag);
    }

    public const string ArchitectureName = "gated";

    public override string Architecture => ArchitectureName;

    public Tensor BGate { get; }
    public Tensor RMag { get; }
    public Tensor BMag { get; }

    public override Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        var device = x.device;
        var input = SaeInput(x);
        var wEnc = WEnc.to(device);
        var active = (input.matmul(wEnc) + BGate.to(device) > 0).to(ScalarType.Float32);
        var magnitude = nn.functional.relu(input.matmul(wEnc * RMag.to(device).exp()) + BMag.to(device));
        return (active * magnitude).MoveToOuterDisposeScope();
    }

    public override IReadOnlyDictionary<string, Tensor> StateDict() =>
        new Dictionary<string, Tensor>(base.StateDict()) { ["b_gate"] = BGate, ["r_mag"] = RMag, ["b_mag"] = BMag };

    /// <summary>Reads <c>W_enc</c>, <c>b_gate</c>, <c>r_mag</c>, <c>b_mag</c>, <c>W_dec</c>, <c>b_dec</c>.</summary>
    [SaeArchitecture(ArchitectureName)]
    public static GatedSae Load(SaeLoadContext c) =>
        new(c.Read("W_enc", c.DIn, c.DSae), c.Read("b_gate", c.DSae), c.Read("r_mag", c.DSae), c.Read("b_mag", c.DSae),
            c.Read("W_dec", c.DSae, c.DIn), c.Read("b_dec", c.DIn), c.ApplyBDecToInput);
}
