namespace Mechanist.Cli;

static partial class MallocTuning
{
    /// <summary>glibc's largest mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).</summary>
    const int LargestMmapThreshold = 32 * 1024 * 1024;

    /// <summary>
    /// A training loop allocates the same large tensors at every step. With the 128 KiB mmap threshold each of
    /// them is a fresh mapping that is page-faulted in and unmapped again: in the modular-addition run that was
    /// most of the time (24 s of kernel time in 40 s). Training commands raise the threshold to glibc's maximum so
    /// that freed buffers are reused from the heap; the process keeps its peak memory until it exits.
    /// </summary>
    public static void ConfigureForTraining()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { MallOpt(MallocMmapThreshold, LargestMmapThreshold); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { /* not glibc: nothing to tune */ }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>
    /// Returns the heap's free memory to the system (glibc's malloc_trim), so that a measurement of peak RSS that
    /// starts now is not inflated by buffers an earlier piece of work freed but the heap kept.
    /// </summary>
    public static void ReturnFreeMemory()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { /* not glibc: nothing to return */ }
    }

    const int MallocTrimThreshold = -1; // M_TRIM_THRESHOLD
    const int MallocMmapMax = -4; // M_MMAP_MAX
    const int DefaultMmapMax = 65536; // glibc's DEFAULT_MMAP_MAX
    const int DefaultTrimThreshold = 128 * 1024; // glibc's DEFAULT_TRIM_THRESHOLD

    /// <summary>
    /// Until disposed, freed memory stays in the heap for the next allocation instead of being unmapped: no
    /// allocation is served by mmap and the heap is not trimmed. An SAE step allocates the same [B, d_sae] tensors
    /// (256 MiB at the benchmark shape, too large for any mmap threshold) every step; as fresh mappings each is
    /// page-faulted in and zeroed by the kernel again, which cost the dense variants about a third of their step
    /// time. Disposing restores glibc's defaults and returns the free heap to the system (the usual fix on CPU is an
    /// allocator such as jemalloc that caches large blocks; this is glibc's equivalent, scoped to the training).
    /// </summary>
    public static IDisposable KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return new Scope(() => { });
        try
        {
            MallOpt(MallocMmapMax, 0);
            MallOpt(MallocTrimThreshold, int.MaxValue);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return new Scope(() => { }); }
        return new Scope(() =>
        {
            MallOpt(MallocMmapMax, DefaultMmapMax);
            MallOpt(MallocTrimThreshold, DefaultTrimThreshold);
            ReturnFreeMemory();
        });
    }

    sealed class Scope(Action restore) : IDisposable
    {
        Action? _restore = restore;

        public void Dispose()
        {
            _restore?.Invoke();
            _restore = null;
        }
    }
}
