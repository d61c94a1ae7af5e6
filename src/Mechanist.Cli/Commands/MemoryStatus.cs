using System.Globalization;

namespace Mechanist.Cli.Commands;

/// <summary>Resident memory of this process from /proc/self/status (Linux); 0 elsewhere.</summary>
static class MemoryStatus
{
    public static long PeakResidentBytes() => Read("VmHWM:");

    public static long ResidentBytes() => Read("VmRSS:");

    static long Read(string key)
    {
        const string path = "/proc/self/status";
        if (!File.Exists(path)) return 0;
        foreach (var line in File.ReadLines(path))
        {
            if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
            var parts = line[key.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(parts[0], CultureInfo.InvariantCulture) * 1024;
        }
        return 0;
    }
}
