using static TorchSharp.torch;

namespace Mechanist.Fuzzing;

/// <summary>Checks a target makes on what a reader returned; a failure is a <see cref="ContractViolation"/>.</summary>
public static class Check
{
    public static void That(bool condition, string what)
    {
        if (!condition) throw new ContractViolation(what);
    }

    public static void Shape(Tensor t, string what, params long[] shape) =>
        That(t.shape.SequenceEqual(shape), $"{what} has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", shape)}]");

    /// <summary>A fixed pseudo-random float32 input [rows, width] (no global seed is touched).</summary>
    public static Tensor Input(int rows, int width)
    {
        var values = new float[checked(rows * width)];
        uint state = 2463534242;
        for (int i = 0; i < values.Length; i++)
        {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5;
            values[i] = (state % 2001) / 1000f - 1f;
        }
        return tensor(values).reshape(rows, width);
    }
}
