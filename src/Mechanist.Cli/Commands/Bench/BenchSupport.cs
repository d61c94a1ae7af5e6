using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.IO;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// What every <c>mechanist bench …</c> command shares: the statistics of repeated timings, the machine's dense matmul
/// rate as a ceiling measured in the same run, and the load average; reports go out through <see cref="ReportOutput"/>.
/// </summary>
static class BenchSupport
{
    /// <summary>The median (the mean of the middle two for an even count); NaN for none.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Milliseconds of one run of <paramref name="action"/>, its tensors freed at the end.</summary>
    public static double Milliseconds(Action action)
    {
        var watch = Stopwatch.StartNew();
        using (NewDisposeScope()) action();
        return watch.Elapsed.TotalMilliseconds;
    }

    /// <summary>
    /// FLOP/s of a dense float32 [<paramref name="m"/> x <paramref name="k"/>] x [<paramref name="k"/> x <paramref name="n"/>]
    /// matmul on <paramref name="device"/>: 2 m k n over the best of 5 timings after a warm-up.
    /// </summary>
    public static double MatmulRate(long m, long k, long n, Device device)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(7, device);
        var a = randn(m, k, generator: g, device: device);
        var b = randn(k, n, generator: g, device: device);
        double best = double.MaxValue;
        for (int i = 0; i < 6; i++)
        {
            using var step = NewDisposeScope();
            var watch = Stopwatch.StartNew();
            _ = a.matmul(b).sum().item<float>();
            if (i > 0) best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return 2.0 * m * k * n / best;
    }

    /// <summary>The 1-, 5- and 15-minute load averages (Linux), for reading a run's timings.</summary>
    public static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "n/a"; }
    }
}
