using System.Runtime.InteropServices;
using Mechanist.Cli;

// glibc's malloc keeps large freed tensor buffers in its arenas and inflates RSS; serving allocations of
// 4 MiB and more with mmap returns them to the system on free. (At 128 KiB every medium buffer was a fresh
// mapping whose pages the kernel zeroes on first touch: the sparse SAE backward pass, which gathers 1 MiB
// chunks, ran 2.7 times slower.)
MallocTuning.ConfigureMallocMmapThreshold();
NativeTuning.PreferPassiveOpenMpWaiting();
// Reports on standard output stay machine-readable whatever a plugin prints (it goes to standard error).
using var stdout = StandardOutput.Reserve();
return CliApp.Run(args, stdout, Console.Error);

namespace Mechanist.Cli
{
    static partial class MallocTuning
    {
        const int MallocMmapThreshold = -3; // M_MMAP_THRESHOLD in <malloc.h>

        [DllImport("libc", EntryPoint = "mallopt")]
        private static extern int MallOpt(int parameter, int value);

        public static void ConfigureMallocMmapThreshold()
        {
            if (!OperatingSystem.IsLinux()) return;
            try { MallOpt(MallocMmapThreshold, 4 * 1024 * 1024); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { /* not glibc (e.g. musl): nothing to tune */ }
        }
    }
}
