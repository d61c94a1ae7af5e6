using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Sae;

/// <summary>
/// Tensor ops whose <see cref="Scalar"/> stays alive until libtorch has read it. TorchSharp makes a finalizable
/// Scalar for every number it hands to libtorch, including the ones it adds itself (<c>a + b</c> is
/// <c>a.add(b, 1)</c>, <c>t.square()</c> is <c>t.pow(2)</c>), and once the call has read the Scalar's handle the JIT
/// may treat the Scalar as dead: a garbage collection that another thread starts during the native call lets the
/// finalizer free it while libtorch still reads it ("Expected false to be true ... toFloat at Scalar.h", or a wrong
/// value). Training code therefore passes only Scalars held here (constants, for the process) or disposed after the
/// call (<c>using</c>), never a temporary. Same ops, same Scalar types (integral or floating), so the same results, bit
/// for bit. Public so that a plugin's SAE variant can follow the same rule in its step.
/// </summary>
public static class KeptScalars
{
    public static readonly Scalar Zero = 0, One = 1, Two = 2, MinusOne = -1, True = true;

    /// <summary>a + b (<c>a.add(b, 1)</c>).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a + s.</summary>
    public static Tensor Plus(this Tensor a, double s)
    {
        using var scalar = s.ToScalar();
        return a.add(scalar, One);
    }

    /// <summary>a += b in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a += s in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, double s)
    {
        using var scalar = s.ToScalar();
        return a.add_(scalar, One);
    }

    /// <summary>a += s in place, s integral.</summary>
    public static Tensor PlusInPlace(this Tensor a, long s)
    {
        using var scalar = s.ToScalar();
        return a.add_(scalar, One);
    }

    /// <summary>a² (<c>a.pow(2)</c>, what <c>square()</c> does).</summary>
    public static Tensor Squared(this Tensor a) => a.pow(Two);

    /// <summary>a · s.</summary>
    public static Tensor Times(this Tensor a, double s)
    {
        using var scalar = s.ToScalar();
        return a.mul(scalar);
    }

    /// <summary>a · s, s integral.</summary>
    public static Tensor Times(this Tensor a, long s)
    {
        using var scalar = s.ToScalar();
        return a.mul(scalar);
    }

    /// <summary>a ·= s in place.</summary>
    public static Tensor TimesInPlace(this Tensor a, double s)
    {
        using var scalar = s.ToScalar();
        return a.mul_(scalar);
    }

    /// <summary>a / s.</summary>
    public static Tensor Over(this Tensor a, double s)
    {
        using var scalar = s.ToScalar();
        return a.div(scalar);
    }

    /// <summary>a / s, s integral.</summary>
    public static Tensor Over(this Tensor a, long s)
    {
        using var scalar = s.ToScalar();
        return a.div(scalar);
    }

    /// <summary>s / a (<c>a.reciprocal().mul(s)</c>, what the operator does).</summary>
    public static Tensor Dividing(this double s, Tensor a)
    {
        using var scalar = s.ToScalar();
        return a.reciprocal().mul(scalar);
    }

    /// <summary>max(a, min) elementwise.</summary>
    public static Tensor AtLeast(this Tensor a, double min)
    {
        using var scalar = min.ToScalar();
        return a.clamp_min(scalar);
    }

    /// <summary>min(a, max) elementwise.</summary>
    public static Tensor AtMost(this Tensor a, double max)
    {
        using var scalar = max.ToScalar();
        return a.clamp_max(scalar);
    }

    /// <summary>a &gt; 0 (bool).</summary>
    public static Tensor Positive(this Tensor a) => a.gt(Zero);
}
