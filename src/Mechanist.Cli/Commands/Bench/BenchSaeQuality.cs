using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.Decomposers;
using Mechanist.Host.Discovery;
using Mechanist.Host.Running;
using Mechanist.IO;
using Mechanist.Methods.Evaluation;
using Mechanist.Models.Tasks;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// <c>mechanist bench sae --time-to-quality</c>: training seconds until the decoder's mean max cosine similarity with
/// the true features reaches a target, on a correlated superposition set with twice as many latents as features.
/// <c>sae.topk</c> runs with its defaults, so its time is that of the smallest step budget that reaches the target
/// (a schedule fitted to the budget, such as a warm-up or a decay, makes each budget a different run): budgets double
/// from 16 steps, then the gap between the last failing and the first passing budget is halved until it is at most a
/// sixteenth of the passing budget. The PyTorch
/// reference (constant learning rate) trains once and is evaluated every 5 steps. Evaluation time is not counted on
/// either side; initialisation is. The data set is drawn with --seed and both sides train with other seeds: a
/// dictionary initialised from the data's own seed would start from the data's directions.
/// </summary>
static class BenchSaeQuality
{
    public static int Run(ParsedArguments args, CommandEnvironment env, string format)
    {
        int features = args.GetPositiveInt("features", 512), dim = args.GetPositiveInt("dim", 256);
        int batch = args.GetPositiveInt("batch", 4096), k = args.GetPositiveInt("k", 32);
        int repeats = args.GetPositiveInt("repeats", 1);
        double target = args.GetDouble("target-mmcs", 0.97);
        if (!(target > 0 && target <= 1)) throw new UsageException($"--target-mmcs must be in (0, 1], got {target}.");
        int dSae = 2 * features;
        if (k > dSae) throw new UsageException($"--k is {k}, larger than the dictionary (2 x --features = {dSae}).");
        var seed = CommonOptions.ParseSeed(args);
        var device = CommonOptions.ParseDevice(args);
        var inv = CultureInfo.InvariantCulture;
        var json = new JsonObject();
        var reference = BenchSaeCommand.Reference(args, env, json);
        string loadAtStart = BenchSupport.LoadAverage();
        const double maxSeconds = 1800;
        const int maxSteps = 16_000, firstBudget = 16, referenceEvalEvery = 5;

        var settings = new SuperpositionSettings(Features: features, Dimension: dim, Correlated: true, Seed: seed);
        var (x, directions) = SuperpositionData.Generate(settings);
        using var data = new ActivationMatrix("superposition-correlated", x);
        env.Error.WriteLine($"bench sae --time-to-quality: {features} correlated features in {dim} dimensions, {settings.Samples} rows, {dSae} latents, k {k}, batch {batch}, target MMCS {target}, load average {loadAtStart}");

        using var host = Host.MechanistHost.Create([]);
        var entry = host.Catalog.Resolve("sae.topk", MethodKind.Decomposer);
        var budgets = new List<JsonObject>();
        var mechanistRuns = new List<(double Seconds, int Steps, double Mmcs)?>();
        for (int repeat = 0; repeat < repeats; repeat++)
        {
            (double Seconds, double Mmcs) Fit(int steps)
            {
                var options = MethodCatalog.BindOptions(entry, new Dictionary<string, string>
                {
                    ["d_sae"] = dSae.ToString(inv), ["k"] = k.ToString(inv), ["batch_size"] = batch.ToString(inv), ["steps"] = steps.ToString(inv),
                });
                var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
                var watch = Stopwatch.StartNew();
                Decomposition fitted;
                double seconds;
                using (MallocTuning.KeepFreedMemory())
                {
                    fitted = MethodInvoker.Invoke(entry, () => decomposer.Fit(new DecomposeContext
                    {
                        Activations = data, Options = options, Seed = TrainingSeed(seed, repeat), Device = device,
                    }));
                    seconds = watch.Elapsed.TotalSeconds;
                }
                using var sae = fitted;
                double mmcs = DecompositionMetrics.ComputeMmcs(directions, sae.DecoderDirections);
                budgets.Add(new JsonObject { ["repeat"] = repeat, ["steps"] = steps, ["seconds"] = seconds, ["mmcs"] = mmcs });
                env.Error.WriteLine($"  sae.topk {steps,6} steps: {seconds,7:0.0} s, MMCS {mmcs:0.0000}");
                return (seconds, mmcs);
            }
            int failing = 0, passing = 0;
            double passSeconds = 0, passMmcs = 0;
            for (int steps = firstBudget; steps <= maxSteps; steps *= 2)
            {
                var (seconds, mmcs) = Fit(steps);
                if (mmcs >= target) { passing = steps; passSeconds = seconds; passMmcs = mmcs; break; }
                failing = steps;
                if (seconds > maxSeconds) break;
            }
            while (passing > 0 && passing - failing > Math.Max(1, passing / 16))
            {
                int middle = (failing + passing) / 2;
                var (seconds, mmcs) = Fit(middle);
                if (mmcs >= target) { passing = middle; passSeconds = seconds; passMmcs = mmcs; }
                else failing = middle;
            }
            mechanistRuns.Add(passing > 0 ? (passSeconds, passing, passMmcs) : null);
        }

        var referenceRuns = new List<JsonObject>();
        if (reference is not null)
        {
            using var temp = new TempFolder();
            var npy = temp.File("activations.npy");
            var truth = temp.File("directions.npy");
            PyTorchReference.WriteNpy(npy, x);
            PyTorchReference.WriteNpy(truth, directions);
            for (int repeat = 0; repeat < repeats; repeat++)
            {
                var result = reference.Run(["quality", "--data", npy, "--directions", truth, "--d-sae", dSae.ToString(inv), "--k", k.ToString(inv),
                    "--batch", batch.ToString(inv), "--threshold", target.ToString(inv), "--eval-every", referenceEvalEvery.ToString(inv),
                    "--max-seconds", maxSeconds.ToString(inv), "--max-steps", maxSteps.ToString(inv),
                    "--threads", get_num_threads().ToString(inv), "--seed", TrainingSeed(seed, repeat).ToString(inv)], TimeSpan.FromSeconds(maxSeconds * 3));
                referenceRuns.Add(result);
                var last = result["history"]!.AsArray().LastOrDefault()?.AsArray();
                env.Error.WriteLine($"  pytorch reference: {(bool)result["reached"]! switch { true => "reached", false => "did not reach" }} MMCS {target} after {(int)result["steps"]!} steps, {(double)result["seconds"]!:0.0} s (last MMCS {(last is null ? double.NaN : (double)last[2]!):0.0000})");
            }
        }
        x.Dispose();
        directions.Dispose();

        var reached = mechanistRuns.Where(r => r is not null).Select(r => r!.Value).ToList();
        double? mechanistSeconds = reached.Count == repeats ? BenchSupport.Median(reached.Select(r => r.Seconds)) : null;
        var referenceReached = referenceRuns.Where(r => (bool)r["reached"]!).ToList();
        double? referenceSeconds = referenceRuns.Count > 0 && referenceReached.Count == referenceRuns.Count
            ? BenchSupport.Median(referenceReached.Select(r => (double)r["seconds"]!)) : null;
        string loadAtEnd = BenchSupport.LoadAverage();
        json["mode"] = "time_to_quality";
        json["features"] = features; json["dim"] = dim; json["samples"] = settings.Samples; json["correlated"] = true;
        json["d_sae"] = dSae; json["k"] = k; json["batch"] = batch; json["target_mmcs"] = target; json["seed"] = seed; json["repeats"] = repeats;
        json["threads"] = get_num_threads(); json["load_average_at_start"] = loadAtStart; json["load_average_at_end"] = loadAtEnd;
        json["sae_topk"] = new JsonObject
        {
            ["seconds"] = mechanistSeconds, ["reached"] = mechanistSeconds is not null,
            ["runs"] = new JsonArray(mechanistRuns.Select(r => (JsonNode)(r is null ? new JsonObject { ["reached"] = false }
                : new JsonObject { ["reached"] = true, ["seconds"] = r.Value.Seconds, ["steps"] = r.Value.Steps, ["mmcs"] = r.Value.Mmcs })).ToArray()),
            ["budgets"] = new JsonArray(budgets.Select(b => (JsonNode)b).ToArray()),
        };
        if (reference is not null)
        {
            json["reference"] = new JsonObject
            {
                ["name"] = "pytorch", ["script"] = reference.Script, ["torch_version"] = reference.TorchVersion,
                ["seconds"] = referenceSeconds, ["reached"] = referenceSeconds is not null,
                ["runs"] = new JsonArray(referenceRuns.Select(r => (JsonNode)r.DeepClone()).ToArray()),
            };
            if (mechanistSeconds is not null && referenceSeconds is not null)
            {
                json["reference_over_sae_topk_seconds"] = referenceSeconds / mechanistSeconds;
                json["reference_over_sae_topk_steps"] = BenchSupport.Median(referenceReached.Select(r => (double)(int)r["steps"]!))
                    / BenchSupport.Median(reached.Select(r => (double)r.Steps));
            }
        }
        json["definitions"] = new JsonObject
        {
            ["sae_topk.seconds"] = "median over repeats of the wall seconds of the smallest step budget (doubling from 16, then bisected to within a sixteenth) whose trained decoder reaches target_mmcs; initialisation included, evaluation excluded",
            ["reference.seconds"] = "median over repeats of the reference's training seconds until its MMCS, evaluated every 5 steps, reaches target_mmcs (evaluation excluded)",
            ["reference_over_sae_topk_steps"] = "median reference steps / median sae.topk steps to the target",
            ["seeds"] = "the data set is drawn with seed; repeat r of either side trains with seed + 1 + r",
            ["reference_over_sae_topk_seconds"] = "reference seconds / sae.topk seconds: how many times faster sae.topk reaches the target",
        };
        ReportOutput.Emit(args, env, json, w =>
        {
            w.WriteLine($"Time to MMCS >= {target}: {features} correlated features in {dim} dimensions, {dSae} latents, k {k}, batch {batch}, {get_num_threads()} threads, load average {loadAtStart} at start, {loadAtEnd} at end");
            w.WriteLine(mechanistSeconds is double ms
                ? $"sae.topk:  {ms:0.0} s ({string.Join(", ", reached.Select(r => $"{r.Steps} steps"))})"
                : $"sae.topk:  did not reach MMCS {target} within {maxSteps} steps in {mechanistRuns.Count(r => r is null)} of {repeats} repeat(s)");
            if (reference is not null)
                w.WriteLine(referenceSeconds is double rs
                    ? $"reference: {rs:0.0} s ({string.Join(", ", referenceRuns.Select(r => $"{(int)r["steps"]!} steps"))}; plain PyTorch TopK SAE, torch {reference.TorchVersion})"
                    : $"reference: did not reach MMCS {target} within {maxSteps} steps or {maxSeconds:0} s in {referenceRuns.Count - referenceReached.Count} of {referenceRuns.Count} repeat(s)");
            if (json["reference_over_sae_topk_seconds"] is JsonNode ratio)
                w.WriteLine((double)ratio >= 1
                    ? $"sae.topk reaches MMCS {target} {(double)ratio:0.##}x sooner than the reference (same data, k, batch and threads)"
                    : $"sae.topk takes {1 / (double)ratio:0.##}x the reference's time to reach MMCS {target} (same data, k, batch and threads)");
            if (json["reference_over_sae_topk_steps"] is JsonNode stepRatio)
                w.WriteLine($"steps to the target: reference / sae.topk = {(double)stepRatio:0.##}");
            else if (json["reference"] is JsonObject skipped && skipped["skipped"] is JsonNode why)
                w.WriteLine($"reference pytorch: skipped: {(string)why!}");
        });
        return ExitCodes.Ok;
    }

    /// <summary>The training seed of repeat <paramref name="repeat"/>: never the data's seed.</summary>
    static int TrainingSeed(int seed, int repeat) => seed + 1 + repeat;
}
