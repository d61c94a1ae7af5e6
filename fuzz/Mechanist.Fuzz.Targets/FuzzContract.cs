using System.Diagnostics;
using static TorchSharp.torch;

namespace Mechanist.Fuzzing;

/// <summary>What one input did to a reader.</summary>
public enum OutcomeKind
{
    /// <summary>The reader returned an object and it passed the target's checks.</summary>
    Accepted,

    /// <summary>The reader threw <see cref="MechanistInputException"/> with one line naming the file.</summary>
    Rejected,

    /// <summary>Any other exception, or a returned object that failed the target's checks.</summary>
    Crash,

    /// <summary>An input error that does not name the file, or spans several lines.</summary>
    BadMessage,

    /// <summary>Ran past the time bound.</summary>
    Hang,

    /// <summary>Allocated past the bound derived from the input's size.</summary>
    Memory,
}

/// <summary>One run of one input: the outcome, what the reader said, and what it cost.</summary>
public sealed record FuzzOutcome(OutcomeKind Kind, string Detail, TimeSpan Elapsed, long ManagedBytes, long? PeakRssGrowth)
{
    public bool IsViolation => Kind is not (OutcomeKind.Accepted or OutcomeKind.Rejected);

    public override string ToString() =>
        $"{Kind.ToString().ToLowerInvariant()} in {Elapsed.TotalMilliseconds:F0} ms, {ManagedBytes / 1024} KiB managed" +
        (PeakRssGrowth is long rss ? $", peak RSS +{rss / 1024} KiB" : "") + $": {Detail}";
}

/// <summary>
/// The bounds every input is held to: time, and memory as a constant plus a multiple of the input's size. Managed
/// allocation is counted on the reading thread (exact, and safe beside other tests); the growth of the process's
/// peak RSS (which also sees libtorch's native buffers) only where the process is the harness's own.
/// </summary>
public sealed record ContractLimits
{
    public TimeSpan Time { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Extra time per MiB of input.</summary>
    public TimeSpan TimePerMiB { get; init; } = TimeSpan.FromSeconds(2);

    public long ManagedBase { get; init; } = 64L << 20;

    public long ManagedPerByte { get; init; } = 32;

    public long RssBase { get; init; } = 256L << 20;

    public long RssPerByte { get; init; } = 16;

    /// <summary>Measure the process's peak RSS (only meaningful when nothing else runs in the process).</summary>
    public bool MeasureRss { get; init; }

    public TimeSpan TimeBound(long size) => Time + TimePerMiB * (size / (double)(1 << 20));

    public long ManagedBound(long size) => ManagedBase + ManagedPerByte * size;

    public long RssBound(long size) => RssBase + RssPerByte * size;

    /// <summary>The harness's limits: peak RSS measured.</summary>
    public static ContractLimits Harness { get; } = new() { MeasureRss = true };

    /// <summary>Limits for replay inside a test run, where other tests share the cores: time × 4, no RSS.</summary>
    public static ContractLimits Replay { get; } = new() { Time = TimeSpan.FromSeconds(20), TimePerMiB = TimeSpan.FromSeconds(8) };
}

/// <summary>
/// The contract of every fuzz target: lay the input out as the target's files, run the real reader on them, and
/// classify what happened (<see cref="OutcomeKind"/>). An input exception must name the file, i.e. contain the
/// path of the input's folder, on one line; everything else that escapes is a crash.
/// </summary>
public static class FuzzContract
{
    static long _counter;

    public static FuzzOutcome Check(FuzzTarget target, ReadOnlyMemory<byte> input, string scratchRoot, ContractLimits limits)
    {
        var folder = Path.Combine(scratchRoot, $"in-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}");
        try
        {
            Directory.CreateDirectory(folder);
            var parts = FileBundle.Unpack(input, target.Files.Count);
            for (int i = 0; i < parts.Count; i++)
            {
                var path = Path.Combine(folder, target.Files[i]);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllBytes(path, parts[i].ToArray());
            }
            var fuzzInput = new FuzzInput(folder, target.Files, input.Length);
            return Run(target, fuzzInput, limits);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Runs the target on files already in place (for inputs too large to pass as bytes, such as sparse files).</summary>
    public static FuzzOutcome Run(FuzzTarget target, FuzzInput input, ContractLimits limits)
    {
        long rssStart = limits.MeasureRss ? PeakRss.Reset() : 0;
        long managedStart = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        Exception? error = null;
        try
        {
            using var scope = NewDisposeScope();
            target.Run(input);
        }
        catch (Exception e)
        {
            error = e;
        }
        clock.Stop();
        long managed = GC.GetAllocatedBytesForCurrentThread() - managedStart;
        long? rss = limits.MeasureRss && PeakRss.Available ? Math.Max(0, PeakRss.Peak() - rssStart) : null;

        var (kind, detail) = Classify(error, input.Folder);
        if (!IsViolation(kind))
        {
            if (clock.Elapsed > limits.TimeBound(input.Size))
                (kind, detail) = (OutcomeKind.Hang, $"took {clock.Elapsed.TotalSeconds:F1} s, bound {limits.TimeBound(input.Size).TotalSeconds:F1} s for {input.Size} bytes ({detail})");
            else if (managed > limits.ManagedBound(input.Size))
                (kind, detail) = (OutcomeKind.Memory, $"allocated {managed >> 20} MiB managed, bound {limits.ManagedBound(input.Size) >> 20} MiB for {input.Size} bytes ({detail})");
            else if (rss > limits.RssBound(input.Size))
                (kind, detail) = (OutcomeKind.Memory, $"peak RSS grew {rss >> 20} MiB, bound {limits.RssBound(input.Size) >> 20} MiB for {input.Size} bytes ({detail})");
        }
        return new FuzzOutcome(kind, detail, clock.Elapsed, managed, rss);
    }

    static bool IsViolation(OutcomeKind kind) => kind is not (OutcomeKind.Accepted or OutcomeKind.Rejected);

    static (OutcomeKind, string) Classify(Exception? error, string folder)
    {
        switch (error)
        {
            case null:
                return (OutcomeKind.Accepted, "accepted");
            case MechanistInputException e:
                var message = e.Message;
                if (!message.Contains(folder, StringComparison.Ordinal))
                    return (OutcomeKind.BadMessage, $"input error does not name the file: {message}");
                if (message.IndexOfAny(['\n', '\r']) >= 0)
                    return (OutcomeKind.BadMessage, $"input error spans several lines: {message}");
                return (OutcomeKind.Rejected, message.Replace(folder, "INPUT", StringComparison.Ordinal));
            default:
                return (OutcomeKind.Crash, error.ToString().Replace(folder, "INPUT", StringComparison.Ordinal));
        }
    }
}

/// <summary>The process's peak resident set size (VmHWM), resettable through <c>/proc/self/clear_refs</c> on Linux.</summary>
public static class PeakRss
{
    public static bool Available { get; } = File.Exists("/proc/self/status") && CanReset();

    static bool CanReset()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>Resets the peak to the current RSS and returns it (bytes).</summary>
    public static long Reset()
    {
        if (!Available) return 0;
        File.WriteAllText("/proc/self/clear_refs", "5");
        return Read("VmRSS:");
    }

    /// <summary>The peak RSS since the last reset (bytes).</summary>
    public static long Peak() => Available ? Read("VmHWM:") : 0;

    /// <summary>The current RSS (bytes).</summary>
    public static long Current() => Read("VmRSS:");

    static long Read(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return long.Parse(line.AsSpan(key.Length).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return 0;
    }
}
