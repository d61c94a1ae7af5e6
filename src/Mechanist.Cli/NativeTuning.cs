using System.Runtime.InteropServices;

namespace Mechanist.Cli;

/// <summary>Process-wide settings of the native runtime that must be made before libtorch is loaded.</summary>
static class NativeTuning
{
    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    /// <summary>
    /// libtorch's OpenMP threads spin while they wait for work (<c>OMP_WAIT_POLICY=active</c>). When the cores are
    /// shared (several test hosts, other jobs) a spinning thread holds a core that the thread it waits for needs,
    /// and every parallel region stalls for a scheduler time slice: a small training run measured 136 s with two
    /// spinning threads against 4.3 s with passive waiting on a loaded two-core machine. Waiting passively costs a
    /// wake-up of microseconds per region on an idle machine. A value the user sets is kept. Must run before the
    /// first TorchSharp call (libgomp reads the variable when it is loaded); .NET's own
    /// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach native code on Unix.
    /// </summary>
    public static void PreferPassiveOpenMpWaiting()
    {
        if (OperatingSystem.IsWindows()) return;
        try { SetEnv("OMP_WAIT_POLICY", "PASSIVE", overwrite: 0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { /* no libc: nothing to tune */ }
    }
}
