using System.Diagnostics;
using System.Globalization;

namespace Mechanist.Cli.Commands;

/// <summary>
/// Training progress on stderr, reported synchronously from the training loop: on a terminal one line redrawn in place
/// (<c>[sae.topk] ███░░░ 45% 450/1000 loss 0.12 fvu 0.081 l0 32 dead 0.01 | 12.3 it/s eta 0:45</c>), otherwise a line
/// every 10% and at the end.
/// </summary>
public sealed class ProgressBar(string label, TextWriter writer, bool interactive) : IProgress<ProgressReport>
{
    const int Width = 20;
    static readonly string[] Shown = ["loss", "fvu", "l0", "dead_fraction"];
    readonly Stopwatch _clock = Stopwatch.StartNew();
    long _firstStep = -1;
    double _firstSeconds;
    int _lastDecile = -1;
    bool _open;

    /// <summary>A bar on <paramref name="env"/>'s stderr, redrawn in place when that is the console on a terminal.</summary>
    public static ProgressBar For(string label, CommandEnvironment env) =>
        new(label, env.Error, ReferenceEquals(env.Error, Console.Error) && !Console.IsErrorRedirected);

    public void Report(ProgressReport value)
    {
        double seconds = _clock.Elapsed.TotalSeconds;
        if (_firstStep < 0) { _firstStep = value.Step; _firstSeconds = seconds; }
        double rate = value.Step > _firstStep ? (value.Step - _firstStep) / Math.Max(seconds - _firstSeconds, 1e-9) : 0;
        double fraction = value.Total > 0 ? (double)value.Step / value.Total : 1;
        var line = Format(value, fraction, rate);
        if (interactive)
        {
            writer.Write("\r" + line.PadRight(Console.IsErrorRedirected ? 0 : Math.Max(0, SafeWidth() - 1)));
            _open = true;
            if (value.Step >= value.Total) Finish();
        }
        else
        {
            int decile = (int)Math.Floor(fraction * 10);
            if (decile != _lastDecile || value.Step >= value.Total)
            {
                writer.WriteLine(line);
                _lastDecile = decile;
            }
        }
    }

    /// <summary>Ends the redrawn line (call when training stops early).</summary>
    public void Finish()
    {
        if (!_open) return;
        writer.WriteLine();
        _open = false;
    }

    string Format(ProgressReport value, double fraction, double rate)
    {
        var inv = CultureInfo.InvariantCulture;
        int filled = (int)Math.Round(fraction * Width);
        var bar = new string('█', filled) + new string('░', Width - filled);
        var values = string.Join(" ", Shown.Where(value.Values.ContainsKey)
            .Select(k => $"{(k == "dead_fraction" ? "dead" : k)} {value.Values[k].ToString(k == "l0" ? "0.#" : "0.####", inv)}"));
        var eta = rate > 0 ? TimeSpan.FromSeconds((value.Total - value.Step) / rate) : (TimeSpan?)null;
        return $"[{label}] {bar} {fraction * 100,3:0}% {value.Step}/{value.Total} {values} | {rate.ToString("0.##", inv)} it/s" +
            (eta is { } e ? $" eta {(int)e.TotalMinutes}:{e.Seconds:00}" : "");
    }

    static int SafeWidth()
    {
        try { return Console.WindowWidth; }
        catch (IOException) { return 120; }
    }
}
