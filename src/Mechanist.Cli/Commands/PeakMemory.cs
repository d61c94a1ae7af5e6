using System.Diagnostics;

namespace Mechanist.Cli.Commands;

/// <summary>
/// Peak resident memory (RSS) of this process while a piece of work runs. On Linux the kernel's high-water mark
/// (<c>VmHWM</c>) is reset first by writing 5 to <c>/proc/self/clear_refs</c>, so the peak is exact for the work and
/// nothing is sampled; elsewhere, or if the reset is refused, RSS is sampled every 20 ms (a lower bound).
/// </summary>
public static class PeakMemory
{
    public sealed record Result(long PeakBytes, string Method);

    public static (T Value, Result Peak) Measure<T>(Func<T> work)
    {
        bool reset = TryResetHighWaterMark();
        long sampled = CurrentRss();
        using var stop = new CancellationTokenSource();
        // Sampled only where the kernel's high-water mark could not be reset: the sampler allocates on another thread,
        // and every garbage collection it starts during the work is one more chance for TorchSharp's finalizer to free
        // a temporary Scalar that a native call is still reading (docs/methods/sae-training.md#no-temporary-scalars).
        var sampler = reset ? Task.CompletedTask : Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                sampled = Math.Max(sampled, CurrentRss());
                try { await Task.Delay(20, stop.Token); } catch (TaskCanceledException) { }
            }
        });
        T value;
        try
        {
            value = work();
        }
        finally
        {
            stop.Cancel();
            sampler.Wait();
        }
        sampled = Math.Max(sampled, CurrentRss());
        if (reset && ReadStatusKb("VmHWM:") is long hwm)
            return (value, new Result(Math.Max(hwm * 1024, sampled), "VmHWM after clearing it through /proc/self/clear_refs"));
        return (value, new Result(sampled, "RSS sampled every 20 ms (lower bound)"));
    }

    /// <summary>The kernel's high-water mark of this process's RSS in bytes (VmHWM; 0 where there is none).</summary>
    public static long PeakRss() => ReadStatusKb("VmHWM:") is long kb ? kb * 1024 : 0;

    /// <summary>The current RSS in bytes.</summary>
    public static long CurrentRss()
    {
        if (ReadStatusKb("VmRSS:") is long kb) return kb * 1024;
        using var p = Process.GetCurrentProcess();
        return p.WorkingSet64;
    }

    static bool TryResetHighWaterMark()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    static long? ReadStatusKb(string key)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        return null;
    }
}
