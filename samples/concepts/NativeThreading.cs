using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

/// <summary>
/// libtorch's OpenMP threads spin while they wait for work; on a machine whose cores are shared that stalls every
/// parallel region (the mechanist command sets the same policy). Set before libtorch loads; a value the user set is kept.
/// </summary>
static class NativeThreading
{
    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

#pragma warning disable CA2255 // an application's own module initializer: it must run before libtorch is loaded
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void PreferPassiveOpenMpWaiting()
    {
        if (OperatingSystem.IsWindows()) return;
        try { SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }
}
