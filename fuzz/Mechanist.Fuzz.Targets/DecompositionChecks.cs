using Mechanist.Decomposers;
using static TorchSharp.torch;

namespace Mechanist.Fuzzing;

/// <summary>What a loaded decomposition must do: consistent sizes, and encode/decode a batch to the right shapes.</summary>
public static class DecompositionChecks
{
    public static void Exercise(Decomposition d)
    {
        Check.That(d.DIn > 0 && d.DSae > 0 && d.DOut > 0, $"sizes d_in {d.DIn}, d_sae {d.DSae}, d_out {d.DOut}");
        using var scope = NewDisposeScope();
        var x = Check.Input(3, d.DIn);
        var latents = d.Encode(x);
        Check.Shape(latents, "latents", 3, d.DSae);
        Check.Shape(d.Decode(latents, x), "reconstruction", 3, d.DOut);
        Check.That(d.DecoderDirections.shape[0] == d.DSae, "decoder directions: one row per latent");
        foreach (var (name, t) in d.StateDict())
            Check.That(t.NumberOfElements > 0, $"state tensor '{name}' is empty");
    }
}
