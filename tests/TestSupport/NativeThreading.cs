using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Mechanist.Testing;

/// <summary>
/// Test hosts run side by side on few cores; libtorch's OpenMP threads spinning while they wait stall every
/// parallel region when the cores are shared (the command line sets the same policy; see NativeTuning in
/// Mechanist.Cli). Set before any TorchSharp call, keeping a value given in the environment.
/// </summary>
static class NativeThreading
{
    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

#pragma warning disable CA2255 // a test assembly is an application: this must run before libtorch is loaded
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void PreferPassiveOpenMpWaiting()
    {
        if (OperatingSystem.IsWindows()) return;
        try { SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }
}
