using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Mechanist.Cli;

/// <summary>
/// Keeps standard output for the command's own output. Reports (<c>--format json|sarif</c>) go to standard output and
/// are read by programs; a plugin that prints — <c>Console.WriteLine</c>, a raw <c>Console.OpenStandardOutput()</c>
/// stream, or native code writing to file descriptor 1 — must not corrupt them. So, before anything else runs, the
/// command takes a private copy of standard output and points the process's standard output (descriptor 1 and
/// <c>Console.Out</c>) at standard error: whatever else is printed ends up there, beside the progress and log lines.
/// </summary>
static class StandardOutput
{
    [DllImport("libc", EntryPoint = "dup", SetLastError = true)]
    static extern int Dup(int fd);

    [DllImport("libc", EntryPoint = "dup2", SetLastError = true)]
    static extern int Dup2(int oldFd, int newFd);

    /// <summary>A writer on the real standard output; from now on everything else written to standard output goes to standard error.</summary>
    public static TextWriter Reserve()
    {
        var encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        Stream? own = null;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            try
            {
                int copy = Dup(1);
                if (copy >= 0 && Dup2(2, 1) >= 0) own = new FileStream(new SafeFileHandle(copy, ownsHandle: true), FileAccess.Write, bufferSize: 0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        }
        own ??= Console.OpenStandardOutput(); // elsewhere: managed writes are redirected, native ones are not
        Console.SetOut(Console.Error);
        return new StreamWriter(own, encoding, bufferSize: 1 << 16) { AutoFlush = true };
    }
}
