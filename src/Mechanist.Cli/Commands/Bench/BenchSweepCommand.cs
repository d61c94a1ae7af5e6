using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.IO;
using Mechanist.Models.Tasks;
using Mechanist.Sweeps;
using Mechanist.Sweeps.Planning;
using Mechanist.Sweeps.Running;
using Microsoft.Extensions.Logging;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// <c>mechanist bench sweep</c>: the cost of running fits as sweep jobs, measured in one run on the same jobs — each
/// fit called directly in this process one after another (the baseline), the same jobs through an embedded silo with
/// one slot (the difference is the orchestration: grain calls, claims, reports, per-job loading and writing), an
/// empty sweep (silo start and stop), and the embedded silo with a slot per core (throughput).
/// </summary>
public sealed class BenchSweepCommand : ICommand
{
    public string Name => "bench sweep";
    public string Summary => "per-job orchestration overhead of an embedded sweep vs the same fits called directly, and throughput with a slot per core";
    public string Usage => "[--steps 300] [--repeats 1] [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("steps", "training steps of each of the 12 TopK fits (default 300)", ValueName: "N"),
        new("repeats", "timed repetitions of each variant, alternating; the median is reported (default 1)", ValueName: "R"),
        CommonOptions.Format, CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    /// <summary>Seconds from the first progress report (jobs submitted) to the one that says the sweep is complete.</summary>
    sealed class Phase : IProgress<Sweeps.Grains.SweepProgress>
    {
        readonly Stopwatch _watch = new();

        public double Seconds { get; private set; }

        public void Report(Sweeps.Grains.SweepProgress value)
        {
            if (!_watch.IsRunning) _watch.Start();
            if (value.IsComplete) Seconds = _watch.Elapsed.TotalSeconds;
        }
    }

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        int steps = args.GetPositiveInt("steps", 300);
        int repeats = args.GetPositiveInt("repeats", 1);
        var format = args.GetChoice("format", "text", "text", "json");
        int cores = Environment.ProcessorCount;

        using var folder = new TempFolder();
        var temp = folder.Path;
        var data = Path.Combine(temp, "data.safetensors");
        SuperpositionData.Write(data, new SuperpositionSettings(Features: 64, Dimension: 32, ActivePerSample: 3, Samples: 4096, Correlated: false, Seed: 0));
        var sweepPath = Path.Combine(temp, "sweep.json");
        File.WriteAllText(sweepPath, new JsonObject
        {
            ["activations"] = data, ["ground_truth"] = data,
            ["methods"] = new JsonObject { ["sae.topk"] = new JsonObject { ["k"] = new JsonArray(2, 3, 4, 6), ["d_sae"] = new JsonArray(32, 48, 64) } },
            ["options"] = new JsonObject { ["steps"] = steps, ["batch_size"] = 128 },
            ["checkpoint_every"] = 0,
        }.ToJsonString());
        var sweep = SweepFile.Read(sweepPath);
        using var host = Host.MechanistHost.Create([]);
        int run = 0;
        IReadOnlyList<JobSpec> Jobs() => SweepPlanner.Plan(sweep, host.Catalog, data, Path.Combine(temp, $"run{run++}"), "cpu", new InputHashes());

        double FitSeconds(IEnumerable<JobOutcome> outcomes) =>
            outcomes.Sum(o => JsonNode.Parse(o.Row!)!["fit_seconds"]!.GetValue<double>());
        var fitDirect = new List<double>();
        var fitOne = new List<double>();
        double Direct()
        {
            using var executor = new DecomposerJobExecutor();
            var jobs = Jobs();
            var watch = Stopwatch.StartNew();
            var outcomes = new List<JobOutcome>();
            var done = new Thread(() =>
            {
                foreach (var job in jobs)
                    outcomes.Add(executor.Run(job, new JobRunContext("direct", 1, 1, CancellationToken.None)));
            });
            done.Start();
            done.Join();
            var seconds = watch.Elapsed.TotalSeconds;
            if (outcomes.Any(o => !o.Succeeded)) throw new InvalidOperationException($"a bench job failed: {outcomes.First(o => !o.Succeeded).Error}");
            fitDirect.Add(FitSeconds(outcomes));
            return seconds;
        }
        var sweepOne = new List<double>();
        double Embedded(int slots, bool empty = false)
        {
            var jobs = empty ? [] : Jobs();
            var phase = new Phase();
            var watch = Stopwatch.StartNew();
            var views = SweepRuntime.RunEmbedded(SweepCoordinator.SweepId(jobs.FirstOrDefault()?.OutputRoot ?? temp, jobs), jobs,
                new SweepWorkerOptions { Slots = slots, ThreadsPerJob = 1 }, phase, TimeSpan.FromHours(1), LogLevel.Warning, CancellationToken.None)
                .GetAwaiter().GetResult();
            var seconds = watch.Elapsed.TotalSeconds;
            if (views.Any(v => v.Outcome?.Succeeded != true)) throw new InvalidOperationException("a bench job failed in the sweep");
            if (slots == 1 && !empty)
            {
                fitOne.Add(FitSeconds(views.Select(v => v.Outcome!)));
                sweepOne.Add(phase.Seconds);
            }
            return seconds;
        }

        var direct = new List<double>();
        var one = new List<double>();
        var empty = new List<double>();
        var all = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            direct.Add(Direct());
            empty.Add(Embedded(1, empty: true));
            one.Add(Embedded(1));
            all.Add(Embedded(cores));
        }
        const int n = 12;
        double d = BenchSupport.Median(direct), e = BenchSupport.Median(empty), o = BenchSupport.Median(one), a = BenchSupport.Median(all);
        // Orchestration per job: the time around the fits in the one-slot sweep (from the jobs' submission to the
        // last one recorded) less the time around the fits when called directly (loading, metrics, writing).
        var perJob = BenchSupport.Median(Enumerable.Range(0, repeats)
            .Select(i => ((sweepOne[i] - fitOne[i]) - (direct[i] - fitDirect[i])) / n));
        var result = new JsonObject
        {
            ["jobs"] = n, ["steps"] = steps, ["cores"] = cores, ["repeats"] = repeats,
            ["direct_seconds"] = d,
            ["silo_start_stop_seconds"] = e,
            ["embedded_1_slot_seconds"] = o,
            [$"embedded_{cores}_slots_seconds"] = a,
            ["direct_fit_seconds"] = BenchSupport.Median(fitDirect),
            ["embedded_1_slot_fit_seconds"] = BenchSupport.Median(fitOne),
            ["embedded_1_slot_sweep_seconds"] = BenchSupport.Median(sweepOne),
            ["overhead_per_job_seconds"] = perJob,
            ["overhead_per_job_fraction"] = perJob * n / d,
            ["throughput_ratio_all_slots_vs_1_slot"] = (o - e) / Math.Max(a - e, 1e-9),
            ["definitions"] = new JsonObject
            {
                ["direct_seconds"] = "the 12 jobs run one after another by the job executor on one thread of this process (load, fit, metrics, write)",
                ["direct_fit_seconds"] = "the sum of the 12 fits' own fit_seconds (training only) in the direct run; embedded_1_slot_fit_seconds: the same in the one-slot sweep",
                ["silo_start_stop_seconds"] = "an embedded sweep with no job: silo start, an empty sweep's round trips, silo stop",
                ["embedded_1_slot_sweep_seconds"] = "the one-slot sweep from its jobs' submission to the last outcome recorded (silo start and stop excluded)",
                ["overhead_per_job_seconds"] = "((sweep - its fits) - (direct - its fits)) / jobs: what a job costs around its fit in a sweep beyond a direct call (grain calls, claim, report, progress polling), median over repeats",
                ["throughput_ratio_all_slots_vs_1_slot"] = "jobs per second with a slot per core over jobs per second with one slot (silo start/stop excluded)",
            },
        };
        ReportOutput.Emit(args, env, result, w =>
        {
            var inv = CultureInfo.InvariantCulture;
            w.WriteLine($"12 TopK fits of {steps} steps, {cores} core(s), median of {repeats}:");
            w.WriteLine($"  direct, one after another            {d.ToString("0.00", inv),8} s");
            w.WriteLine($"  embedded silo, 1 slot                {o.ToString("0.00", inv),8} s  (silo start/stop {e.ToString("0.00", inv)} s)");
            w.WriteLine($"  of which fitting: direct {BenchSupport.Median(fitDirect).ToString("0.00", inv)} s, embedded 1 slot {BenchSupport.Median(fitOne).ToString("0.00", inv)} s");
            w.WriteLine($"  embedded silo, {cores} slot(s)              {a.ToString("0.00", inv),8} s");
            w.WriteLine($"  orchestration overhead per job       {(perJob * 1000).ToString("0", inv),8} ms  ({(perJob * n / d * 100).ToString("0.0", inv)}% of the direct time)");
            w.WriteLine($"  throughput, {cores} slots vs 1              {((o - e) / Math.Max(a - e, 1e-9)).ToString("0.00", inv),8} x");
        });
        return ExitCodes.Ok;
    }
}
