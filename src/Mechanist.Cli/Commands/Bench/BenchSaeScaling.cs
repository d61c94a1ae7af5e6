using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.IO;
using Mechanist.Reports.Plots;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// <c>mechanist bench sae --scaling</c>: step time and memory of a sparse (<c>topk</c>) and a dense (<c>relu</c>) SAE
/// over d_sae at fixed d_in and over d_in at fixed d_sae, the exponent of cost in each (least squares in log–log
/// space), a table, and <c>scaling.json</c>, <c>scaling.csv</c> and log–log plots in <c>--out-dir</c>.
/// </summary>
static class BenchSaeScaling
{
    sealed record Point(string Variant, string Sweep, int DIn, int DSae, double StepSeconds, double FractionOfMatmul,
        long TrainingBytes, long PeakRss);

    public static int Run(ParsedArguments args, CommandEnvironment env, string format)
    {
        int dIn = args.GetPositiveInt("d-in", 512), dSae = args.GetPositiveInt("d-sae", 16384);
        int batch = args.GetPositiveInt("batch", 1024), k = args.GetPositiveInt("k", 32);
        int steps = args.GetPositiveInt("steps", 3), warmup = args.GetInt("warmup", 1), repeats = args.GetPositiveInt("repeats", 1);
        if (warmup < 1) throw new UsageException($"--warmup must be at least 1 (the first step includes one-time work), got {warmup}.");
        if (warmup + steps > 100) throw new UsageException($"--warmup + --steps must be at most 100 (every step is timed), got {warmup + steps}.");
        var dSaes = Sizes(args, "scaling-d-sae", [4096, 8192, 16384, 32768, 65536]);
        var dIns = Sizes(args, "scaling-d-in", [256, 512, 1024, 2048]);
        foreach (var n in dSaes.Append(dSae)) if (k > n) throw new UsageException($"--k is {k}, larger than the dictionary (d_sae {n}).");
        foreach (var d in dIns.Append(dIn)) if (d % 2 != 0) throw new UsageException($"d_in must be even, got {d}.");
        var names = (args.Get("variants") ?? "topk,relu").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var n in names)
            if (!BenchSaeRunner.AllVariants.Contains(n))
                throw new UsageException($"--variants: unknown variant '{n}'. Known: {string.Join(", ", BenchSaeRunner.AllVariants)}.");
        var outDir = args.Get("out-dir");
        var seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);
        string loadAtStart = BenchSupport.LoadAverage();
        env.Error.WriteLine($"bench sae --scaling: d_sae {string.Join(",", dSaes)} at d_in {dIn}; d_in {string.Join(",", dIns)} at d_sae {dSae}; batch {batch}, k {k}, {warmup} + {steps} steps, {repeats} repeat(s), variants {string.Join(",", names)}, load average {loadAtStart}");

        using var host = Host.MechanistHost.Create([]);
        var points = new List<Point>();
        var shapes = dSaes.Select(n => ("d_sae", dIn, n)).Concat(dIns.Select(d => ("d_in", d, dSae))).ToList();
        foreach (var (sweep, shapeIn, shapeSae) in shapes)
        {
            using var runner = new BenchSaeRunner(shapeIn, shapeSae, batch, k, seed, device);
            var variants = runner.Variants();
            foreach (var name in names)
            {
                var runs = Enumerable.Range(0, repeats).Select(_ => runner.Measure(host, variants[name], warmup, steps)).ToList();
                double seconds = BenchSupport.Median(runs.SelectMany(r => r.StepSeconds));
                double fraction = BenchSupport.Median(runs.SelectMany(r => r.Fractions(runner.MatmulFlops)));
                var point = new Point(name, sweep, shapeIn, shapeSae, seconds, fraction, runs.Max(r => r.TrainingBytes), runs.Max(r => r.PeakRss));
                points.Add(point);
                env.Error.WriteLine($"  {name,-10} d_in {shapeIn,5} d_sae {shapeSae,6}: {seconds,8:0.###} s/step, {fraction * 100,5:0.#}% of the paired matmul rate, training memory {point.TrainingBytes / 1048576.0:0} MB");
            }
        }
        string loadAtEnd = BenchSupport.LoadAverage();

        // Exponents: cost ∝ size^a, fitted per variant and sweep on time and on training memory.
        var exponents = new JsonObject();
        var plots = new Dictionary<string, List<LogLogPlot.Series>>();
        foreach (var sweep in new[] { "d_sae", "d_in" })
        {
            plots[sweep] = [];
            foreach (var name in names)
            {
                var series = points.Where(p => p.Variant == name && p.Sweep == sweep).ToList();
                var time = series.Select(p => ((double)(sweep == "d_sae" ? p.DSae : p.DIn), p.StepSeconds)).ToList();
                var memory = series.Select(p => ((double)(sweep == "d_sae" ? p.DSae : p.DIn), (double)p.TrainingBytes)).ToList();
                var (timeSlope, timeIntercept) = LogLogPlot.Fit(time);
                var (memorySlope, _) = LogLogPlot.Fit(memory);
                exponents[$"{name}.{sweep}"] = new JsonObject { ["time"] = timeSlope, ["memory"] = memorySlope, ["points"] = series.Count };
                plots[sweep].Add(new LogLogPlot.Series(name, time, timeSlope, timeIntercept));
            }
        }

        var json = new JsonObject
        {
            ["mode"] = "scaling", ["d_in"] = dIn, ["d_sae"] = dSae, ["batch"] = batch, ["k"] = k, ["steps"] = steps, ["warmup"] = warmup,
            ["repeats"] = repeats, ["seed"] = seed, ["device"] = device.ToString(), ["threads"] = get_num_threads(),
            ["load_average_at_start"] = loadAtStart, ["load_average_at_end"] = loadAtEnd,
            ["points"] = new JsonArray(points.Select(p => (JsonNode)new JsonObject
            {
                ["variant"] = p.Variant, ["sweep"] = p.Sweep, ["d_in"] = p.DIn, ["d_sae"] = p.DSae, ["step_seconds"] = p.StepSeconds,
                ["fraction_of_matmul_rate"] = p.FractionOfMatmul, ["training_bytes"] = p.TrainingBytes, ["peak_rss_bytes"] = p.PeakRss,
            }).ToArray()),
            ["exponents"] = exponents,
            ["definitions"] = new JsonObject
            {
                ["step_seconds"] = "median wall seconds of the timed steps over the repeats",
                ["fraction_of_matmul_rate"] = "median share of the encoder-shaped matmul rate measured right after each step (see bench sae)",
                ["training_bytes"] = "peak RSS minus RSS just before the training",
                ["exponents"] = "least-squares slope of log(step seconds) and log(training bytes) against log(d_sae) (sweep d_sae, d_in fixed) or log(d_in) (sweep d_in, d_sae fixed): cost ∝ size^exponent",
            },
        };
        var text = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (args.Get("out") is { } outPath) AtomicFile.WriteText(outPath, text + "\n");
        var figures = outDir is null ? [] : new[]
        {
            ("d_sae", LogLogPlot.Render($"SAE step time vs d_sae (d_in {dIn}, batch {batch})", "d_sae", "seconds per step", plots["d_sae"])),
            ("d_in", LogLogPlot.Render($"SAE step time vs d_in (d_sae {dSae}, batch {batch})", "d_in", "seconds per step", plots["d_in"])),
        };
        if (outDir is not null)
            AtomicFile.WriteDirectory(outDir, temp =>
            {
                File.WriteAllText(Path.Combine(temp, "scaling.json"), text + "\n");
                var csv = new StringBuilder("variant,sweep,d_in,d_sae,step_seconds,fraction_of_matmul_rate,training_bytes,peak_rss_bytes\n");
                foreach (var p in points)
                    csv.Append(FormattableString.Invariant($"{p.Variant},{p.Sweep},{p.DIn},{p.DSae},{p.StepSeconds},{p.FractionOfMatmul},{p.TrainingBytes},{p.PeakRss}\n"));
                File.WriteAllText(Path.Combine(temp, "scaling.csv"), csv.ToString());
                foreach (var (sweep, figure) in figures)
                {
                    File.WriteAllBytes(Path.Combine(temp, $"scaling-{sweep}.png"), figure.Png());
                    File.WriteAllText(Path.Combine(temp, $"scaling-{sweep}.svg"), figure.Svg());
                }
            });
        if (format == "json")
        {
            env.Out.WriteLine(text);
            return ExitCodes.Ok;
        }
        env.Out.WriteLine($"SAE scaling, batch {batch}, k {k}, {steps} timed steps after {warmup} warm-up, {repeats} repeat(s), {device}, {get_num_threads()} threads, load average {loadAtStart} at start, {loadAtEnd} at end");
        env.Out.WriteLine($"{"variant",-10} {"d_in",6} {"d_sae",7} {"s/step",9} {"% matmul",9} {"training MB",12} {"peak RSS MB",12}");
        foreach (var p in points)
            env.Out.WriteLine($"{p.Variant,-10} {p.DIn,6} {p.DSae,7} {p.StepSeconds,9:0.###} {p.FractionOfMatmul * 100,9:0.#} {p.TrainingBytes / 1048576.0,12:0} {p.PeakRss / 1048576.0,12:0}");
        foreach (var (key, value) in exponents)
            env.Out.WriteLine($"{key}: step time ∝ size^{(double)value!["time"]!:0.00}, training memory ∝ size^{(double)value["memory"]!:0.00}");
        if (outDir is not null) env.Out.WriteLine($"-> {outDir} (scaling.json, scaling.csv, scaling-d_sae and scaling-d_in as .png and .svg)");
        return ExitCodes.Ok;
    }

    static int[] Sizes(ParsedArguments args, string name, int[] fallback)
    {
        if (args.Get(name) is not { } text) return fallback;
        var sizes = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v < 1)
                throw new UsageException($"--{name} expects positive integers separated by commas, got '{part}'.");
            sizes.Add(v);
        }
        if (sizes.Count < 2) throw new UsageException($"--{name} needs at least two sizes to fit an exponent, got {sizes.Count}.");
        return [.. sizes];
    }
}
