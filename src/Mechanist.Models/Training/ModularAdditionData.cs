using static TorchSharp.torch;

namespace Mechanist.Models.Training;

/// <summary>
/// The modular-addition task: every pair (a, b) of residues mod p as the tokens "a b =" = [a, b, p], labelled
/// (a + b) mod p. Pair i is (i / p, i mod p). A seeded permutation splits the p² pairs: the first
/// ⌊fraction · p²⌋ train, the rest are held out.
/// </summary>
public static class ModularAdditionData
{
    /// <summary>Tokens [p², 3] (int64), row i = [i / p, i mod p, p].</summary>
    public static Tensor Tokens(int p, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var i = arange(p * p, ScalarType.Int64, device: device);
        var tokens = stack([i.div(p, RoundingMode.floor), i.remainder(p), full_like(i, p)], 1);
        return tokens.MoveToOuterDisposeScope();
    }

    /// <summary>Labels [p²] (int64): (a + b) mod p.</summary>
    public static Tensor Labels(int p, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var i = arange(p * p, ScalarType.Int64, device: device);
        return (i.div(p, RoundingMode.floor) + i.remainder(p)).remainder(p).MoveToOuterDisposeScope();
    }

    /// <summary>Number of training pairs: ⌊fraction · p²⌋.</summary>
    public static int TrainCount(int p, double fraction) => (int)Math.Floor(fraction * p * p);

    /// <summary>The seeded permutation of the p² pair indices whose first <see cref="TrainCount"/> entries train.</summary>
    public static Tensor SplitPermutation(int p, int seed) => randperm(p * p, generator: new Generator((ulong)seed));
}
