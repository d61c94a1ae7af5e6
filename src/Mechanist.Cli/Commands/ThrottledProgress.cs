using System.Diagnostics;

namespace Mechanist.Cli.Commands;

/// <summary>Progress lines on stderr, at most one a second plus the last.</summary>
sealed class ThrottledProgress(TextWriter error, string label, string unit) : IProgress<ProgressReport>
{
    readonly Stopwatch _watch = Stopwatch.StartNew();
    TimeSpan? _last;
    ProgressReport? _pending;

    public void Report(ProgressReport value)
    {
        _pending = value;
        if (_last is { } last && _watch.Elapsed - last < TimeSpan.FromSeconds(1) && value.Step < value.Total) return;
        Write(value);
    }

    public void Finish()
    {
        if (_pending is not null) Write(_pending);
    }

    void Write(ProgressReport value)
    {
        _last = _watch.Elapsed;
        _pending = null;
        var rate = value.Values.TryGetValue($"{unit}_per_s", out var r) ? $", {r:0} {unit}/s" : "";
        error.WriteLine($"[{label}] {value.Step}/{value.Total} {unit} ({100.0 * value.Step / Math.Max(1, value.Total):0.0}%){rate}");
    }
}
