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
}
