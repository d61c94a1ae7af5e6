using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Mechanist.Testing;

/// <summary>
/// Test processes, like the <c>mechanist</c> command, make libtorch's OpenMP threads sleep rather than spin while
/// waiting (OMP_WAIT_POLICY=passive, unless set): on a shared machine spinning threads steal the cores the tests need.
/// Runs when the test assembly loads, before libtorch is.
/// </summary>
static class OpenMpWaitPolicy
{
    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetEnv(string name, string value, int overwrite);

    [ModuleInitializer]
    internal static void Apply()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        try { SetEnv("OMP_WAIT_POLICY", "passive", 0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }
}
