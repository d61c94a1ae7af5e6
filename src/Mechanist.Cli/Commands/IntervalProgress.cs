using System.Diagnostics;

namespace Mechanist.Cli.Commands;

/// <summary>Progress lines on stderr, at most one per <c>interval</c> plus the last, each formatted by <c>line</c>.</summary>
sealed class IntervalProgress(TextWriter error, TimeSpan interval, Func<ProgressReport, string> line) : IProgress<ProgressReport>
{
    readonly Stopwatch _clock = Stopwatch.StartNew();
    TimeSpan? _last;

    public void Report(ProgressReport r)
    {
        if (r.Step != r.Total && _last is { } last && _clock.Elapsed - last < interval) return;
        _last = _clock.Elapsed;
        error.WriteLine(line(r));
    }
}
