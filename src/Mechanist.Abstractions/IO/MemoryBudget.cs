using System.Globalization;

namespace Mechanist.IO;

/// <summary>
/// Refuses, before allocating, a buffer that a file declares and this machine cannot hold: a tensor larger than the
/// memory available now (Linux's MemAvailable; elsewhere the GC's view of the machine) is an input error, not an
/// out-of-memory kill half-way through. Small buffers are not checked.
/// </summary>
public static class MemoryBudget
{
    /// <summary>Buffers up to this size are allocated without asking.</summary>
    public const long Unchecked = 64L << 20;

    /// <summary>Throws <see cref="MechanistInputException"/> when <paramref name="bytes"/> exceed the memory available.</summary>
    /// <param name="bytes">Size of the buffer.</param>
    /// <param name="what">The file and key the buffer is for, e.g. <c>path: tensor 'W_enc'</c>.</param>
    public static void Require(long bytes, string what)
    {
        if (bytes <= Unchecked) return;
        long available = Available();
        if (bytes > available)
            throw new MechanistInputException(
                $"{what} needs {Format(bytes)} of memory, more than the {Format(available)} available; the file is corrupt or too large for this machine.");
    }

    /// <summary>Bytes of memory available for new allocations.</summary>
    public static long Available()
    {
        try
        {
            if (File.Exists("/proc/meminfo"))
                foreach (var line in File.ReadLines("/proc/meminfo"))
                    if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                        return long.Parse(line.AsSpan(13).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { }
        var info = GC.GetGCMemoryInfo();
        return Math.Max(0, info.TotalAvailableMemoryBytes - info.MemoryLoadBytes);
    }

    static string Format(long bytes) => bytes >= 1L << 30
        ? $"{(bytes / (double)(1L << 30)).ToString("F1", CultureInfo.InvariantCulture)} GiB"
        : $"{(bytes / (double)(1L << 20)).ToString("F1", CultureInfo.InvariantCulture)} MiB";
}
