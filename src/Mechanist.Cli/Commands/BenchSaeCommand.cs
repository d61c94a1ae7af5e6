using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Host.Running;
using Mechanist.IO;
using Mechanist.Models.Tasks;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist bench sae</c>: trains each SAE variant for a fixed number of steps on synthetic activations and reports
/// steps/s, tokens/s, peak RSS, RSS growth over the timed steps, and the fraction of this machine's dense matmul rate
/// (measured in the same run) that the step's nominal matmul FLOPs reach. TopK and BatchTopK run twice, with sparse
/// and with dense decoding, side by side, and their speed ratio is reported.
/// </summary>
public sealed class BenchSaeCommand : ICommand
{
    public string Name => "bench sae";
    public string Summary => "SAE training throughput per variant, sparse vs dense TopK decoding, against the measured matmul rate";
    public string Usage => "[--d-in 512] [--d-sae 16384] [--batch 4096] [--k 32] [--steps 5] [--warmup 1] [--repeats 1] [--variants a,b,...] [--seed S] [--device D] [--format text|json] [--out FILE]";

    static readonly string[] AllVariants =
        ["topk", "topk-dense", "batchtopk", "batchtopk-dense", "matryoshka", "relu", "jumprelu", "gated", "transcoder", "crosscoder"];

    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("d-in", "input width (default 512)", ValueName: "D"),
        new("d-sae", "latents (default 16384)", ValueName: "N"),
        new("batch", "rows per step (default 4096)", ValueName: "B"),
        new("k", "active latents of the TopK family (default 32)", ValueName: "K"),
        new("steps", "timed steps per variant (default 5)", ValueName: "N"),
        new("warmup", "untimed steps before them (default 1)", ValueName: "N"),
        new("repeats", "run the variant list this many times, round robin, and keep each variant's fastest run (default 1)", ValueName: "R"),
        new("variants", $"comma-separated subset of {string.Join(",", AllVariants)} (default all)", ValueName: "LIST"),
        CommonOptions.Seed, CommonOptions.Device, CommonOptions.Format,
        new("out", "also write the results as JSON to this file (atomically)", ValueName: "FILE"),
        CommonOptions.Verbose, CommonOptions.Help,
    ];

    sealed record Variant(string Name, string Method, Dictionary<string, string> Settings, double NominalFlopsPerStep, string FlopModel);

    sealed record Measurement(Variant Variant, double StepsPerSecond, double TokensPerSecond, double FractionOfMatmul,
        long PeakRss, string PeakMethod, long RssAfterWarmup, long RssAtEnd, double[] StepSeconds);

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        int dIn = Positive(args, "d-in", 512), dSae = Positive(args, "d-sae", 16384), batch = Positive(args, "batch", 4096);
        int k = Positive(args, "k", 32), steps = Positive(args, "steps", 5), warmup = args.GetInt("warmup", 1), repeats = Positive(args, "repeats", 1);
        if (warmup < 1) throw new UsageException($"--warmup must be at least 1 (the first step includes one-time work), got {warmup}.");
        if (k > dSae) throw new UsageException($"--k is {k}, larger than the dictionary (--d-sae {dSae}).");
        if (dIn % 2 != 0) throw new UsageException($"--d-in must be even (the crosscoder splits it into two sites), got {dIn}.");
        var names = (args.Get("variants") ?? string.Join(",", AllVariants)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var n in names)
            if (!AllVariants.Contains(n))
            {
                var closest = Mechanist.Options.NameSuggester.Closest(n, AllVariants);
                throw new UsageException($"--variants: unknown variant '{n}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} Known: {string.Join(", ", AllVariants)}.");
            }
        var format = args.GetChoice("format", "text", "text", "json");
        var seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);
        var inv = CultureInfo.InvariantCulture;

        env.Error.WriteLine($"bench sae: d_in {dIn}, d_sae {dSae}, batch {batch}, k {k}, {warmup} + {steps} steps per variant on {device} ({get_num_threads()} threads)");
        double matmulRate = MatmulRate(batch, dIn, dSae, device);
        env.Error.WriteLine($"dense matmul [{batch}x{dIn}] x [{dIn}x{dSae}]: {matmulRate / 1e9:0.#} GFLOP/s (measured again at the end; the larger counts)");

        // Synthetic activations: superposed sparse features (a few batches, cycled), a toy MLP's output for the
        // transcoder, and the two halves of each row as the crosscoder's sites.
        var (x, _) = SuperpositionData.Generate(new SuperpositionSettings(Features: 2 * dIn, Dimension: dIn, ActivePerSample: 8,
            Samples: (long)batch * 2, Seed: seed));
        using var data = new ActivationMatrix("bench-activations", x);
        x.Dispose();
        var g = new Generator((ulong)seed + 1);
        using var targets = new ActivationMatrix("bench-mlp-output",
            nn.functional.relu(data.Data.matmul(randn(dIn, 2 * dIn, generator: g) / Math.Sqrt(dIn))).matmul(randn(2 * dIn, dIn, generator: g) / Math.Sqrt(2 * dIn)));
        using var siteA = new ActivationMatrix("bench-site-a", data.Data.narrow(1, 0, dIn / 2));
        using var siteB = new ActivationMatrix("bench-site-b", data.Data.narrow(1, dIn / 2, dIn / 2));

        double m = 2.0 * batch * dIn * dSae;
        double sparseExtra = 8.0 * batch * k * dIn + 2.0 * dSae * dIn;
        string Common(int n) => n.ToString(inv);
        Dictionary<string, string> Base() => new()
        {
            ["d_sae"] = Common(dSae), ["batch_size"] = Common(batch), ["steps"] = Common(warmup + steps), ["shuffle_buffer"] = "2",
        };
        Dictionary<string, string> TopK(bool sparse) => new(Base()) { ["k"] = Common(k), ["sparse_decode"] = sparse ? "true" : "false" };
        var variants = new Dictionary<string, Variant>
        {
            ["topk"] = new("topk", "sae.topk", TopK(true), m + sparseExtra, "2 B d_in d_sae (encoder) + 8 B k d_in (sparse decode, its gradient, decoder and encoder gradients)"),
            ["topk-dense"] = new("topk-dense", "sae.topk", TopK(false), 6 * m, "6 x 2 B d_in d_sae (2 forward, 4 backward matmuls)"),
            ["batchtopk"] = new("batchtopk", "sae.batchtopk", TopK(true), m + sparseExtra, "2 B d_in d_sae + 8 B k d_in"),
            ["batchtopk-dense"] = new("batchtopk-dense", "sae.batchtopk", TopK(false), 6 * m, "6 x 2 B d_in d_sae"),
            ["matryoshka"] = new("matryoshka", "sae.matryoshka", TopK(true), m + sparseExtra, "2 B d_in d_sae + 8 B k d_in (levels decoded once)"),
            ["relu"] = new("relu", "sae.relu", Base(), 6 * m, "6 x 2 B d_in d_sae"),
            ["jumprelu"] = new("jumprelu", "sae.jumprelu", Base(), 6 * m, "6 x 2 B d_in d_sae"),
            ["gated"] = new("gated", "sae.gated", Base(), 8 * m, "8 x 2 B d_in d_sae (adds the gate's auxiliary reconstruction)"),
            ["transcoder"] = new("transcoder", "transcoder", Base(), 5 * m, "5 x 2 B d_in d_sae (no input gradient)"),
            ["crosscoder"] = new("crosscoder", "crosscoder", Base(), 5 * m, "5 x 2 B d_in d_sae (two sites of d_in/2; no input gradient)"),
        };

        using var host = Host.MechanistHost.Create([]);
        var runs = new List<Measurement>();
        foreach (var name in Enumerable.Repeat(names, repeats).SelectMany(n => n))
        {
            var variant = variants[name];
            var entry = host.Catalog.Resolve(variant.Method, MethodKind.Decomposer);
            var options = MethodCatalog.BindOptions(entry, variant.Settings);
            var times = new List<(long Step, double Seconds, long Rss)>();
            var clock = Stopwatch.StartNew();
            var context = new DecomposeContext
            {
                Activations = name == "crosscoder" ? new ConcatenatedActivations([siteA, siteB]) : data,
                Sites = name == "crosscoder" ? [siteA, siteB] : null,
                Targets = name == "transcoder" ? targets : null,
                Options = options, Seed = seed, Device = device,
                Progress = new Recorder(p => times.Add((p.Step, clock.Elapsed.TotalSeconds, PeakMemory.CurrentRss()))),
            };
            var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
            var (decomposition, peak) = PeakMemory.Measure(() => MethodInvoker.Invoke(entry, () => decomposer.Fit(context)));
            decomposition.Dispose();
            var start = times.Single(t => t.Step == warmup);
            var end = times[^1];
            var stepSeconds = times.Zip(times.Skip(1)).Where(p => p.First.Step >= warmup).Select(p => p.Second.Seconds - p.First.Seconds).ToArray();
            double sps = 1 / Median(stepSeconds);
            runs.Add(new Measurement(variant, sps, sps * batch, 0, peak.PeakBytes, peak.Method, start.Rss, end.Rss, stepSeconds));
            var r = runs[^1];
            env.Error.WriteLine($"  {name,-16} {r.StepsPerSecond,8:0.###} steps/s  {r.TokensPerSecond,10:0} tokens/s  peak RSS {r.PeakRss / 1048576.0:0} MB");
        }
        matmulRate = Math.Max(matmulRate, MatmulRate(batch, dIn, dSae, device));
        // Each variant's fastest run (other jobs on the machine only ever slow a run down), against the matmul rate.
        var results = names.Select(n => runs.Where(r => r.Variant.Name == n).MaxBy(r => r.StepsPerSecond)!)
            .Select(r => r with { FractionOfMatmul = r.Variant.NominalFlopsPerStep * r.StepsPerSecond / matmulRate }).ToList();

        var ratios = new JsonObject();
        foreach (var family in new[] { "topk", "batchtopk" })
        {
            var sparse = results.FirstOrDefault(r => r.Variant.Name == family);
            var dense = results.FirstOrDefault(r => r.Variant.Name == family + "-dense");
            if (sparse is not null && dense is not null) ratios[family] = sparse.StepsPerSecond / dense.StepsPerSecond;
        }
        var json = new JsonObject
        {
            ["d_in"] = dIn, ["d_sae"] = dSae, ["batch"] = batch, ["k"] = k, ["steps"] = steps, ["warmup"] = warmup, ["repeats"] = repeats, ["seed"] = seed,
            ["device"] = device.ToString(), ["threads"] = get_num_threads(), ["processors"] = Environment.ProcessorCount,
            ["load_average"] = LoadAverage(),
            ["matmul_gflops"] = matmulRate / 1e9,
            ["variants"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject
            {
                ["variant"] = r.Variant.Name, ["method"] = r.Variant.Method,
                ["steps_per_second"] = r.StepsPerSecond, ["tokens_per_second"] = r.TokensPerSecond,
                ["step_seconds"] = new JsonArray(r.StepSeconds.Select(t => (JsonNode)JsonValue.Create(t)).ToArray()),
                ["nominal_gflop_per_step"] = r.Variant.NominalFlopsPerStep / 1e9, ["flop_model"] = r.Variant.FlopModel,
                ["fraction_of_matmul_rate"] = r.FractionOfMatmul,
                ["peak_rss_bytes"] = r.PeakRss, ["peak_rss_method"] = r.PeakMethod,
                ["rss_after_warmup_bytes"] = r.RssAfterWarmup, ["rss_at_end_bytes"] = r.RssAtEnd,
                ["rss_growth_bytes"] = r.RssAtEnd - r.RssAfterWarmup,
            }).ToArray()),
            ["sparse_over_dense_speed"] = ratios,
            ["definitions"] = new JsonObject
            {
                ["steps_per_second"] = "1 / median of the timed steps' wall seconds (each step timed between consecutive progress reports, after the warm-up steps); the median resists other load on the machine",
                ["tokens_per_second"] = "steps_per_second x batch (one token = one activation row)",
                ["matmul_gflops"] = "2 B d_in d_sae / seconds of one [B, d_in] x [d_in, d_sae] float32 matmul on the device: the fastest of 5 timed products, measured before and after the variants",
                ["repeats"] = "each variant ran this many times (round robin); its fastest run is reported",
                ["fraction_of_matmul_rate"] = "nominal_gflop_per_step x steps_per_second / matmul_gflops",
                ["sparse_over_dense_speed"] = "steps_per_second with sparse_decode=true / with sparse_decode=false, same model, same run",
                ["rss_growth_bytes"] = "RSS after the last step minus RSS after the warm-up steps (flat memory: close to 0)",
            },
        };
        var text = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (args.Get("out") is { } outPath) AtomicFile.WriteText(outPath, text + "\n");
        if (format == "json")
        {
            env.Out.WriteLine(text);
            return ExitCodes.Ok;
        }
        env.Out.WriteLine($"SAE training, d_in {dIn}, d_sae {dSae}, batch {batch}, k {k}, {steps} timed steps after {warmup} warm-up, best of {repeats} run(s), {device}, {get_num_threads()} threads, load average {LoadAverage()}");
        env.Out.WriteLine($"dense matmul rate: {matmulRate / 1e9:0.#} GFLOP/s");
        env.Out.WriteLine($"{"variant",-16} {"steps/s",9} {"tokens/s",10} {"GFLOP/step",11} {"% matmul",9} {"peak RSS MB",12} {"RSS growth MB",14}");
        foreach (var r in results)
            env.Out.WriteLine($"{r.Variant.Name,-16} {r.StepsPerSecond,9:0.###} {r.TokensPerSecond,10:0} {r.Variant.NominalFlopsPerStep / 1e9,11:0.##} {r.FractionOfMatmul * 100,9:0.#} {r.PeakRss / 1048576.0,12:0} {(r.RssAtEnd - r.RssAfterWarmup) / 1048576.0,14:0.#}");
        foreach (var (family, ratio) in ratios)
            env.Out.WriteLine($"{family}: sparse decoding is {ratio!.GetValue<double>():0.##}x the speed of dense decoding (same model, same run)");
        return ExitCodes.Ok;
    }

    static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    static int Positive(ParsedArguments args, string name, int fallback)
    {
        int v = args.GetInt(name, fallback);
        return v >= 1 ? v : throw new UsageException($"--{name} must be at least 1, got {v}.");
    }

    /// <summary>2 B d_in d_sae / seconds of one dense float32 matmul of the encoder's shape, best of 5 after a warm-up.</summary>
    static double MatmulRate(int batch, int dIn, int dSae, Device device)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(7, device);
        var a = randn(batch, dIn, generator: g, device: device);
        var b = randn(dIn, dSae, generator: g, device: device);
        double best = double.MaxValue;
        for (int i = 0; i < 6; i++)
        {
            using var step = NewDisposeScope();
            var watch = Stopwatch.StartNew();
            var c = a.matmul(b);
            _ = c.sum().item<float>();
            if (i > 0) best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return 2.0 * batch * dIn * dSae / best;
    }

    static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "n/a"; }
    }

    sealed class Recorder(Action<ProgressReport> report) : IProgress<ProgressReport>
    {
        public void Report(ProgressReport value) => report(value);
    }
}
