using static TorchSharp.torch;

namespace Mechanist.Sae.CpuKernels;

/// <summary>
/// Raw access to the memory of contiguous CPU tensors for the trainer's hand-written kernels. A pointer is valid
/// while its tensor is alive and not resized; the kernels never keep one beyond a call.
/// </summary>
internal static unsafe class TensorMemory
{
    /// <summary>Whether <paramref name="t"/> is a contiguous CPU tensor of <paramref name="dtype"/>.</summary>
    public static bool Fits(Tensor? t, ScalarType dtype = ScalarType.Float32) =>
        t is not null && t.device_type == TorchSharp.DeviceType.CPU && t.dtype == dtype && t.is_contiguous();

    public static float* Floats(Tensor t)
    {
        Require(t, ScalarType.Float32);
        fixed (byte* b = t.bytes) return (float*)b;
    }

    public static long* Longs(Tensor t)
    {
        Require(t, ScalarType.Int64);
        fixed (byte* b = t.bytes) return (long*)b;
    }

    static void Require(Tensor t, ScalarType dtype)
    {
        if (!Fits(t, dtype))
            throw new InvalidOperationException(
                $"kernel input must be a contiguous {dtype} CPU tensor, got {t.dtype} on {t.device} (contiguous: {t.is_contiguous()})");
    }
}

/// <summary>
/// Splits kernel work over libtorch's intra-op thread count (the process-wide setting, so a kernel uses the cores a
/// matmul would). Parts are fixed by the item count and the thread count, never by timing, so results are
/// reproducible run to run.
/// </summary>
internal static class CpuParallel
{
    public static int Threads => Math.Max(1, get_num_threads());

    /// <summary>Calls <paramref name="body"/>(part, start, end) for <paramref name="parts"/> contiguous ranges of [0, count).</summary>
    public static void For(long count, int parts, Action<int, long, long> body)
    {
        parts = (int)Math.Max(1, Math.Min(parts, count));
        if (parts == 1)
        {
            body(0, 0, count);
            return;
        }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = Threads },
            i => body(i, count * i / parts, count * (i + 1) / parts));
    }

    /// <summary>Ranges of at least <paramref name="grain"/> items, a few per thread so a slow core does not hold the rest up.</summary>
    public static void For(long count, long grain, Action<long, long> body)
    {
        int threads = Threads;
        long parts = Math.Max(1, Math.Min(count / Math.Max(1, grain), 4L * threads));
        For(count, (int)parts, (_, start, end) => body(start, end));
    }
}
