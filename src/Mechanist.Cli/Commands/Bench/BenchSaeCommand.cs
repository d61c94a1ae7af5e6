using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.IO;
using Mechanist.Sae;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// <c>mechanist bench sae</c>: trains each SAE variant for a few steps on synthetic activations and reports steps/s,
/// tokens/s, peak RSS and the share of this machine's dense matmul rate that the step's nominal matmul FLOPs reach,
/// each step paired with a matmul run right after it so that both see the same load. TopK and BatchTopK also run with
/// dense decoding. <c>--reference pytorch</c> runs a plain PyTorch TopK SAE of the same shape in the same run
/// (<see cref="PyTorchReference"/>); <c>--time-to-quality</c> measures seconds to a target MMCS
/// (<see cref="BenchSaeQuality"/>); <c>--scaling</c> measures cost against d_sae and d_in (<see cref="BenchSaeScaling"/>).
/// </summary>
public sealed class BenchSaeCommand : ICommand
{
    public string Name => "bench sae";
    public string Summary => "SAE training throughput per variant against the measured matmul rate; PyTorch reference, time to quality, scaling";
    public string Usage => "[--d-in 512] [--d-sae 16384] [--batch 4096] [--k 32] [--steps 5] [--warmup 1] [--repeats 1] [--variants a,b,...] [--kernel-baseline] [--reference pytorch [--python PATH] [--reference-script FILE]] [--time-to-quality [--features N] [--dim D] [--target-mmcs 0.97]] [--scaling [--scaling-d-sae LIST] [--scaling-d-in LIST] [--out-dir DIR]] [--seed S] [--device D] [--format text|json] [--out FILE]";

    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("d-in", "input width (default 512)", ValueName: "D"),
        new("d-sae", "latents (default 16384)", ValueName: "N"),
        new("batch", "rows per step (default 4096)", ValueName: "B"),
        new("k", "active latents of the TopK family (default 32)", ValueName: "K"),
        new("steps", "timed steps per variant and repeat (default 5)", ValueName: "N"),
        new("warmup", "untimed steps before them (default 1)", ValueName: "N"),
        new("repeats", "run the variant list this many times, round robin; figures are medians over all timed steps (default 1)", ValueName: "R"),
        new("variants", $"comma-separated subset of {string.Join(",", BenchSaeRunner.AllVariants)} (default all)", ValueName: "LIST"),
        new("kernel-baseline", "also run every variant with libtorch ops only (the trainer's CPU kernels off) and report the speed ratio", TakesValue: false),
        new("reference", "pytorch: also run a plain PyTorch TopK SAE of the same shape in the same run (needs a Python with torch)", ValueName: "NAME"),
        new("python", $"Python for the reference (default {PyTorchReference.DefaultPython}, Debian's python3-torch)", ValueName: "PATH"),
        new("reference-script", $"the reference script (default: {PyTorchReference.ScriptPath} found above the working directory)", ValueName: "FILE"),
        new("time-to-quality", "seconds of training until the decoder reaches --target-mmcs on a correlated superposition set (sae.topk; with --reference pytorch, the reference too)", TakesValue: false),
        new("features", "time to quality: true features (default 512)", ValueName: "N"),
        new("dim", "time to quality: activation dimension (default 256)", ValueName: "D"),
        new("target-mmcs", "time to quality: the MMCS to reach (default 0.97)", ValueName: "X"),
        new("scaling", "step time and memory over d_sae and d_in for a sparse and a dense variant; fitted exponents, table and log-log plot", TakesValue: false),
        new("scaling-d-sae", "scaling: d_sae values at --d-in (default 4096,8192,16384,32768,65536)", ValueName: "LIST"),
        new("scaling-d-in", "scaling: d_in values at --d-sae (default 256,512,1024,2048)", ValueName: "LIST"),
        new("out-dir", "scaling: folder for scaling.json, scaling.csv and the log-log plots as .png and .svg (written atomically)", ValueName: "DIR"),
        CommonOptions.Seed, CommonOptions.Device, CommonOptions.Format,
        new("out", "also write the results as JSON to this file (atomically)", ValueName: "FILE"),
        CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        int modes = (args.Has("time-to-quality") ? 1 : 0) + (args.Has("scaling") ? 1 : 0);
        if (modes > 1) throw new UsageException("--time-to-quality and --scaling are separate runs; give one of them.");
        var reference = args.Get("reference");
        if (reference is not null && reference != "pytorch")
            throw new UsageException($"--reference: unknown reference '{reference}'. Known: pytorch.");
        var format = args.GetChoice("format", "text", "text", "json");
        if (args.Has("time-to-quality")) return BenchSaeQuality.Run(args, env, format);
        if (args.Has("scaling")) return BenchSaeScaling.Run(args, env, format);
        return RunVariants(args, env, format);
    }

    /// <summary>The reference, or null after printing why it is skipped (when asked for).</summary>
    internal static PyTorchReference? Reference(ParsedArguments args, CommandEnvironment env, JsonObject json)
    {
        if (args.Get("reference") != "pytorch") return null;
        var found = PyTorchReference.Locate(args.Get("python"), args.Get("reference-script"), out var whyNot);
        if (found is null)
        {
            env.Error.WriteLine($"reference pytorch: skipped: {whyNot}");
            json["reference"] = new JsonObject { ["name"] = "pytorch", ["skipped"] = whyNot };
        }
        else env.Error.WriteLine($"reference pytorch: {found.Script} with torch {found.TorchVersion} ({found.Python})");
        return found;
    }

    static int RunVariants(ParsedArguments args, CommandEnvironment env, string format)
    {
        int dIn = args.GetPositiveInt("d-in", 512), dSae = args.GetPositiveInt("d-sae", 16384), batch = args.GetPositiveInt("batch", 4096);
        int k = args.GetPositiveInt("k", 32), steps = args.GetPositiveInt("steps", 5), warmup = args.GetInt("warmup", 1), repeats = args.GetPositiveInt("repeats", 1);
        if (warmup < 1) throw new UsageException($"--warmup must be at least 1 (the first step includes one-time work), got {warmup}.");
        if (warmup + steps > 100) throw new UsageException($"--warmup + --steps must be at most 100 (every step is timed), got {warmup + steps}.");
        if (k > dSae) throw new UsageException($"--k is {k}, larger than the dictionary (--d-sae {dSae}).");
        if (dIn % 2 != 0) throw new UsageException($"--d-in must be even (the crosscoder splits it into two sites), got {dIn}.");
        var names = (args.Get("variants") ?? string.Join(",", BenchSaeRunner.AllVariants)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var n in names)
            if (!BenchSaeRunner.AllVariants.Contains(n))
            {
                var closest = Mechanist.Options.NameSuggester.Closest(n, BenchSaeRunner.AllVariants);
                throw new UsageException($"--variants: unknown variant '{n}'.{(closest is null ? "" : $" Did you mean '{closest}'?")} Known: {string.Join(", ", BenchSaeRunner.AllVariants)}.");
            }
        bool kernelBaseline = args.Has("kernel-baseline");
        var seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);
        var inv = CultureInfo.InvariantCulture;
        var json = new JsonObject();
        var reference = Reference(args, env, json);

        string loadAtStart = BenchSupport.LoadAverage();
        env.Error.WriteLine($"bench sae: d_in {dIn}, d_sae {dSae}, batch {batch}, k {k}, {warmup} + {steps} steps per variant, {repeats} repeat(s) on {device} ({get_num_threads()} threads), load average {loadAtStart}");
        using var runner = new BenchSaeRunner(dIn, dSae, batch, k, seed, device);
        double bestBefore = runner.BestMatmulRate();
        env.Error.WriteLine($"dense matmul [{batch}x{dIn}] x [{dIn}x{dSae}]: {bestBefore / 1e9:0.#} GFLOP/s (best of 5; every timed step is also paired with one product)");
        var variants = runner.Variants();

        using var host = Host.MechanistHost.Create([]);
        using var temp = reference is null ? null : new TempFolder();
        string? npy = null;
        if (reference is not null)
        {
            npy = Path.Combine(temp!.Path, "bench-activations.npy");
            PyTorchReference.WriteNpy(npy, runner.Data.Data);
        }
        var runs = new List<(int Repeat, bool TorchOps, BenchSaeRunner.Run Run)>();
        var referenceRuns = new List<(int Repeat, JsonObject Result)>();
        string referenceAfter = names.Contains("topk") ? "topk" : names[^1];
        for (int repeat = 0; repeat < repeats; repeat++)
            foreach (var name in names)
            {
                foreach (bool torchOps in kernelBaseline ? new[] { false, true } : [false])
                {
                    BenchSaeRunner.Run r;
                    using (torchOps ? TrainingKernels.TorchOpsOnly() : null)
                        r = runner.Measure(host, variants[name], warmup, steps);
                    runs.Add((repeat, torchOps, r));
                    env.Error.WriteLine($"  {name + (torchOps ? " (libtorch ops)" : ""),-24} {1 / BenchSupport.Median(r.StepSeconds),8:0.###} steps/s  {Fraction(r, runner) * 100,5:0.#}% of the paired matmul rate  peak RSS {r.PeakRss / 1048576.0:0} MB");
                }
                if (reference is not null && name == referenceAfter)
                {
                    var result = reference.Run(["steps", "--data", npy!, "--d-sae", dSae.ToString(inv), "--k", k.ToString(inv),
                        "--batch", batch.ToString(inv), "--steps", steps.ToString(inv), "--warmup", warmup.ToString(inv),
                        "--threads", get_num_threads().ToString(inv), "--seed", seed.ToString(inv)], TimeSpan.FromMinutes(30));
                    referenceRuns.Add((repeat, result));
                    var seconds = result["step_seconds"]!.AsArray().Select(t => (double)t!).ToArray();
                    env.Error.WriteLine($"  {"pytorch-topk (reference)",-24} {1 / BenchSupport.Median(seconds),8:0.###} steps/s  peak RSS {(long)result["peak_rss_bytes"]! / 1048576.0:0} MB");
                }
            }
        double bestAfter = runner.BestMatmulRate();
        double best = Math.Max(bestBefore, bestAfter);
        string loadAtEnd = BenchSupport.LoadAverage();

        var rows = new List<JsonObject>();
        var summaries = new Dictionary<string, double>();
        foreach (var name in names)
        {
            var mine = runs.Where(r => r.Run.Variant.Name == name && !r.TorchOps).Select(r => r.Run).ToList();
            var row = Summarise(mine, runner, best, batch);
            summaries[name] = (double)row["steps_per_second"]!;
            if (kernelBaseline)
            {
                var baseline = runs.Where(r => r.Run.Variant.Name == name && r.TorchOps).ToList();
                var perRepeat = Enumerable.Range(0, repeats).Select(rep =>
                    BenchSupport.Median(baseline.Where(b => b.Repeat == rep).SelectMany(b => b.Run.StepSeconds))
                    / BenchSupport.Median(runs.Where(r => r.Repeat == rep && !r.TorchOps && r.Run.Variant.Name == name).SelectMany(r => r.Run.StepSeconds)));
                var perRepeatCpu = Enumerable.Range(0, repeats).Select(rep =>
                    BenchSupport.Median(baseline.Where(b => b.Repeat == rep).SelectMany(b => b.Run.StepCpuSeconds))
                    / BenchSupport.Median(runs.Where(r => r.Repeat == rep && !r.TorchOps && r.Run.Variant.Name == name).SelectMany(r => r.Run.StepCpuSeconds)));
                row["libtorch_ops"] = Summarise(baseline.Select(b => b.Run).ToList(), runner, best, batch);
                row["speed_over_libtorch_ops"] = BenchSupport.Median(perRepeat);
                row["cpu_speed_over_libtorch_ops"] = BenchSupport.Median(perRepeatCpu);
            }
            rows.Add(row);
        }

        var ratios = new JsonObject();
        foreach (var family in new[] { "topk", "batchtopk" })
            if (summaries.TryGetValue(family, out var sparse) && summaries.TryGetValue(family + "-dense", out var dense))
                ratios[family] = sparse / dense;

        JsonObject? referenceJson = null;
        if (reference is not null && referenceRuns.Count > 0)
        {
            var seconds = referenceRuns.SelectMany(r => r.Result["step_seconds"]!.AsArray().Select(t => (double)t!)).ToArray();
            double refRate = referenceRuns.Max(r => (double)r.Result["matmul_flops_per_second"]!);
            double sps = 1 / BenchSupport.Median(seconds);
            var perRepeat = referenceRuns.Select(rr =>
            {
                double refMedian = BenchSupport.Median(rr.Result["step_seconds"]!.AsArray().Select(t => (double)t!));
                double mineMedian = BenchSupport.Median(runs.Where(r => r.Repeat == rr.Repeat && !r.TorchOps && r.Run.Variant.Name == referenceAfter)
                    .SelectMany(r => r.Run.StepSeconds));
                return refMedian / mineMedian;
            }).ToArray();
            var perRepeatCpu = referenceRuns.Select(rr =>
            {
                double refMedian = BenchSupport.Median(rr.Result["step_cpu_seconds"]!.AsArray().Select(t => (double)t!));
                double mineMedian = BenchSupport.Median(runs.Where(r => r.Repeat == rr.Repeat && !r.TorchOps && r.Run.Variant.Name == referenceAfter)
                    .SelectMany(r => r.Run.StepCpuSeconds));
                return refMedian / mineMedian;
            }).ToArray();
            referenceJson = new JsonObject
            {
                ["name"] = "pytorch", ["script"] = reference.Script, ["python"] = reference.Python, ["torch_version"] = reference.TorchVersion,
                ["compared_with"] = referenceAfter,
                ["steps_per_second"] = sps, ["tokens_per_second"] = sps * batch,
                ["step_seconds"] = new JsonArray(seconds.Select(t => (JsonNode)JsonValue.Create(t)).ToArray()),
                ["nominal_gflop_per_step"] = 6 * runner.MatmulFlops / 1e9,
                ["flop_model"] = "6 x 2 B d_in d_sae (dense decode: 2 forward, 4 backward matmuls)",
                ["own_matmul_gflops"] = refRate / 1e9,
                ["fraction_of_own_matmul_rate"] = 6 * runner.MatmulFlops * sps / refRate,
                ["fraction_of_libtorch_matmul_rate"] = 6 * runner.MatmulFlops * sps / best,
                ["peak_rss_bytes"] = referenceRuns.Max(r => (long)r.Result["peak_rss_bytes"]!),
                ["speedup_per_repeat"] = new JsonArray(perRepeat.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
                ["speedup"] = BenchSupport.Median(perRepeat),
                ["cpu_speedup"] = BenchSupport.Median(perRepeatCpu),
            };
            json["reference"] = referenceJson;
        }

        json["d_in"] = dIn; json["d_sae"] = dSae; json["batch"] = batch; json["k"] = k; json["steps"] = steps; json["warmup"] = warmup;
        json["repeats"] = repeats; json["seed"] = seed; json["device"] = device.ToString(); json["threads"] = get_num_threads();
        json["processors"] = Environment.ProcessorCount;
        json["load_average_at_start"] = loadAtStart; json["load_average_at_end"] = loadAtEnd;
        json["matmul_gflops"] = best / 1e9;
        json["variants"] = new JsonArray(rows.Select(r => (JsonNode)r).ToArray());
        json["sparse_over_dense_speed"] = ratios;
        json["definitions"] = new JsonObject
        {
            ["steps_per_second"] = "1 / median of the timed steps' wall seconds over all repeats (each step timed between consecutive progress reports, after the warm-up steps)",
            ["tokens_per_second"] = "steps_per_second x batch (one token = one activation row)",
            ["matmul_gflops"] = "2 B d_in d_sae / seconds of one [B, d_in] x [d_in, d_sae] float32 matmul into a preallocated output: the fastest of 5, measured before and after the variants",
            ["fraction_of_matmul_rate"] = "median over timed steps of (nominal_gflop_per_step / step seconds) / (2 B d_in d_sae / seconds of the matmul run right after that step): the share of the matmul rate under the same load",
            ["fraction_of_best_matmul_rate"] = "nominal_gflop_per_step x steps_per_second / matmul_gflops",
            ["cpu_fraction_of_matmul_rate"] = "fraction_of_matmul_rate with the process's CPU seconds (user + system) in place of wall seconds, for the step and for its paired matmul: time slices lost to other jobs do not count, so this moves least with the machine's load (it does count work done while a core waits)",
            ["sparse_over_dense_speed"] = "steps_per_second with sparse_decode=true / with sparse_decode=false, same model, same run",
            ["speed_over_libtorch_ops"] = "median over repeats of the step-time ratio, same variant with the trainer's CPU kernels off (libtorch ops only, the GPU path) / on",
            ["peak_rss_bytes"] = "the process's peak resident memory during the variant's training (largest over repeats); includes the data and the paired matmul's buffers",
            ["training_bytes"] = "peak RSS minus RSS just before the training (freed heap memory returned first): the memory the training itself needs",
            ["rss_growth_bytes"] = "RSS after the last step minus RSS after the warm-up steps (flat memory: close to 0)",
            ["reference.speedup"] = "median over repeats of (reference median step seconds / compared_with median step seconds), the two run one after the other in each repeat",
            ["reference.cpu_speedup"] = "the same ratio of CPU seconds per step (each process's own user + system time)",
        };
        ReportOutput.Emit(args, env, json, w =>
        {
            w.WriteLine($"SAE training, d_in {dIn}, d_sae {dSae}, batch {batch}, k {k}, {steps} timed steps after {warmup} warm-up, {repeats} repeat(s), {device}, {get_num_threads()} threads, load average {loadAtStart} at start, {loadAtEnd} at end");
            w.WriteLine($"dense matmul rate: {best / 1e9:0.#} GFLOP/s (best); '% matmul' pairs every step with a product run right after it");
            w.WriteLine($"{"variant",-16} {"steps/s",9} {"tokens/s",10} {"GFLOP/step",11} {"% matmul",9} {"% (cpu)",8} {"% best",7} {"peak RSS MB",12} {"training MB",12} {"RSS growth MB",14}");
            foreach (var r in rows)
                w.WriteLine($"{(string)r["variant"]!,-16} {(double)r["steps_per_second"]!,9:0.###} {(double)r["tokens_per_second"]!,10:0} {(double)r["nominal_gflop_per_step"]!,11:0.##} {(double)r["fraction_of_matmul_rate"]! * 100,9:0.#} {(double)r["cpu_fraction_of_matmul_rate"]! * 100,8:0.#} {(double)r["fraction_of_best_matmul_rate"]! * 100,7:0.#} {(long)r["peak_rss_bytes"]! / 1048576.0,12:0} {(long)r["training_bytes"]! / 1048576.0,12:0} {(long)r["rss_growth_bytes"]! / 1048576.0,14:0.#}");
            foreach (var (family, ratio) in ratios)
                w.WriteLine($"{family}: sparse decoding is {ratio!.GetValue<double>():0.##}x the speed of dense decoding (same model, same run)");
            if (kernelBaseline)
                foreach (var r in rows)
                    w.WriteLine($"{(string)r["variant"]!}: {(double)r["speed_over_libtorch_ops"]!:0.##}x the speed ({(double)r["cpu_speed_over_libtorch_ops"]!:0.##}x in CPU seconds) of the libtorch-op path (CPU kernels off, same run)");
            if (referenceJson is not null)
                w.WriteLine($"{referenceAfter} is {(double)referenceJson["speedup"]!:0.##}x the speed ({(double)referenceJson["cpu_speedup"]!:0.##}x in CPU seconds) of the plain PyTorch TopK SAE (torch {reference!.TorchVersion}, dense decode, torch.optim.Adam; median of {referenceRuns.Count} paired repeat(s)); the reference runs {(double)referenceJson["steps_per_second"]!:0.###} steps/s, {(double)referenceJson["fraction_of_own_matmul_rate"]! * 100:0.#}% of its own matmul rate ({(double)referenceJson["own_matmul_gflops"]!:0.#} GFLOP/s), peak RSS {(long)referenceJson["peak_rss_bytes"]! / 1048576.0:0} MB");
            else if (json["reference"] is JsonObject skipped)
                w.WriteLine($"reference pytorch: skipped: {(string)skipped["skipped"]!}");
        });
        return ExitCodes.Ok;
    }

    /// <summary>The median share of the paired matmul rate over a run's steps.</summary>
    static double Fraction(BenchSaeRunner.Run r, BenchSaeRunner runner) => BenchSupport.Median(r.Fractions(runner.MatmulFlops));

    static JsonObject Summarise(List<BenchSaeRunner.Run> runs, BenchSaeRunner runner, double best, int batch)
    {
        var v = runs[0].Variant;
        var seconds = runs.SelectMany(r => r.StepSeconds).ToArray();
        var fractions = runs.SelectMany(r => r.Fractions(runner.MatmulFlops)).ToArray();
        var cpuFractions = runs.SelectMany(r => r.CpuFractions(runner.MatmulFlops)).ToArray();
        double sps = 1 / BenchSupport.Median(seconds);
        var peak = runs.MaxBy(r => r.PeakRss)!;
        return new JsonObject
        {
            ["variant"] = v.Name, ["method"] = v.Method,
            ["steps_per_second"] = sps, ["tokens_per_second"] = sps * batch,
            ["step_seconds"] = new JsonArray(seconds.Select(t => (JsonNode)JsonValue.Create(t)).ToArray()),
            ["paired_matmul_seconds"] = new JsonArray(runs.SelectMany(r => r.MatmulSeconds).Select(t => (JsonNode)JsonValue.Create(t)).ToArray()),
            ["nominal_gflop_per_step"] = v.NominalFlopsPerStep / 1e9, ["flop_model"] = v.FlopModel,
            ["fraction_of_matmul_rate"] = BenchSupport.Median(fractions),
            ["cpu_fraction_of_matmul_rate"] = BenchSupport.Median(cpuFractions),
            ["step_cpu_seconds"] = new JsonArray(runs.SelectMany(r => r.StepCpuSeconds).Select(t => (JsonNode)JsonValue.Create(t)).ToArray()),
            ["fraction_of_best_matmul_rate"] = v.NominalFlopsPerStep * sps / best,
            ["peak_rss_bytes"] = peak.PeakRss, ["peak_rss_method"] = peak.PeakMethod,
            ["training_bytes"] = runs.Max(r => r.TrainingBytes),
            ["rss_after_warmup_bytes"] = runs[^1].RssAfterWarmup, ["rss_at_end_bytes"] = runs[^1].RssAtEnd,
            ["rss_growth_bytes"] = runs[^1].RssAtEnd - runs[^1].RssAfterWarmup,
        };
    }
}
