using System.Diagnostics;
using Mechanist.Sweeps.Grains;

namespace Mechanist.Cli.Commands;

/// <summary>
/// A sweep's progress on stderr: a line whenever the counts change (at most every two seconds otherwise every
/// thirty): done / running / failed of the total, silos busy, and the ETA from this run's rate; each failed job once,
/// with its error, as soon as it is known.
/// </summary>
sealed class SweepProgressPrinter(TextWriter error, IReadOnlyDictionary<string, string> labels) : IProgress<SweepProgress>
{
    readonly Stopwatch _watch = Stopwatch.StartNew();
    readonly HashSet<string> _reported = [];
    string _last = "";
    TimeSpan _lastAt = TimeSpan.FromHours(-1);

    public void Report(SweepProgress p)
    {
        foreach (var (id, message) in p.Errors)
            if (_reported.Add(id))
                error.WriteLine($"sweep: job {labels.GetValueOrDefault(id, id)} failed: {message}");
        var line = $"sweep: {p.Succeeded}/{p.Total} done, {p.Running} running on {p.RunningPerSilo.Count} silo(s), {p.Failed} failed" +
                   (p.LostAttempts > 0 ? $", {p.LostAttempts} attempt(s) lost with their silo" : "");
        var now = _watch.Elapsed;
        bool changed = line != _last;
        if ((changed && now - _lastAt >= TimeSpan.FromSeconds(2)) || now - _lastAt >= TimeSpan.FromSeconds(30) || p.IsComplete)
        {
            error.WriteLine(line + Eta(p, now));
            _last = line;
            _lastAt = now;
        }
    }

    static string Eta(SweepProgress p, TimeSpan elapsed)
    {
        if (p.IsComplete) return $", {elapsed.TotalSeconds:0.#} s";
        if (p.Finished == 0) return ", ETA unknown";
        var remaining = TimeSpan.FromSeconds(elapsed.TotalSeconds / p.Finished * (p.Total - p.Finished));
        return $", ETA {(int)remaining.TotalMinutes}:{remaining.Seconds:00}";
    }
}
