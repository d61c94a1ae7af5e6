using System.Runtime.InteropServices;
using Mechanist.Cli;

// glibc's malloc keeps large freed tensor buffers in its arenas and inflates RSS; serving allocations of
// 4 MiB and more with mmap returns them to the system on free. (At 128 KiB every medium buffer was a fresh
// mapping whose pages the kernel zeroes on first touch: the sparse SAE backward pass, which gathers 1 MiB
// chunks, ran 2.7 times slower.)
MallocTuning.ConfigureMallocMmapThreshold();
// libtorch's OpenMP threads spin while waiting for work by default; on a machine shared with other processes the
// spinning steals the cores the work needs (tiny training steps ran ten times slower). Sleep instead, unless the
// user chose otherwise. Must happen before libtorch (and its libgomp) is loaded.
MallocTuning.PreferPassiveOpenMpWait();
return CliApp.Run(args, Console.Out, Console.Error);

namespace Mechanist.Cli
{
    static partial class MallocTuning
    {
        const int MallocMmapThreshold = -3; // M_MMAP_THRESHOLD in <malloc.h>

        [DllImport("libc", EntryPoint = "mallopt")]
        private static extern int MallOpt(int parameter, int value);

        [DllImport("libc", EntryPoint = "setenv")]
        private static extern int SetEnv(string name, string value, int overwrite);

        /// <summary>Sets OMP_WAIT_POLICY=passive in the native environment when it is not set.</summary>
        public static void PreferPassiveOpenMpWait()
        {
            if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
            try { SetEnv("OMP_WAIT_POLICY", "passive", 0); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { /* not glibc: leave the default */ }
        }

        public static void ConfigureMallocMmapThreshold()
        {
            if (!OperatingSystem.IsLinux()) return;
            try { MallOpt(MallocMmapThreshold, 4 * 1024 * 1024); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { /* not glibc (e.g. musl): nothing to tune */ }
        }
    }
}
