using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Cli.CommandLine;
using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Models.Training;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// <c>mechanist bench modular-addition</c>: the time of one full-batch training step through the last-position
/// fast path against the same step through the full forward pass, measured in the same run on the same data, plus
/// the machine's matmul rate as the ceiling.
/// </summary>
public sealed class BenchModularAdditionCommand : ICommand
{
    public string Name => "bench modular-addition";
    public string Summary => "training step time of the modular-addition fast path vs the full forward pass, and the machine's matmul rate";
    public string Usage => "[--p P] [--train-fraction F] [--steps N] [--repeats R] [--seed S] [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("p", "the modulus (default 113, the paper's setting)", ValueName: "P"),
        new("train-fraction", "fraction of the p^2 pairs in the batch (default 0.3)", ValueName: "F"),
        new("steps", "timed steps per path and repeat (default 10)", ValueName: "N"),
        new("repeats", "alternating repeats; the fastest of each path is reported (default 3)", ValueName: "R"),
        CommonOptions.Seed, CommonOptions.Format, CommonOptions.Out, CommonOptions.Device, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var format = args.GetChoice("format", "text", "text", "json");
        int steps = args.GetPositiveInt("steps", 10), repeats = args.GetPositiveInt("repeats", 3);
        var options = new ModularAdditionTrainingOptions
        {
            Model = new ModularAdditionConfig { P = args.GetInt("p", 113) },
            TrainFraction = args.GetDouble("train-fraction", 0.3),
            Seed = CommonOptions.ParseSeed(args),
        };
        options.Validate();
        var device = CommonOptions.ParseDevice(args);
        MallocTuning.ConfigureForTraining();
        var config = options.Model;
        int p = config.P, batch = ModularAdditionData.TrainCount(p, options.TrainFraction);

        using var tokensAll = ModularAdditionData.Tokens(p, device);
        using var labelsAll = ModularAdditionData.Labels(p, device);
        using var permutation = ModularAdditionData.SplitPermutation(p, options.Seed + 1).to(device);
        using var index = permutation.narrow(0, 0, batch);
        using var tokens = tokensAll.index_select(0, index);
        using var labels = labelsAll.index_select(0, index);
        using var fullModel = ModularAdditionTransformer.Create(config, options.Seed, device);
        using var fastModel = ModularAdditionTransformer.Create(config, options.Seed, device);
        var settings = new AdamWSettings(options.Lr, options.Beta1, options.Beta2, 1e-8, options.WeightDecay);
        using var fullAdam = new AdamW(fullModel.Weights, settings);
        using var fastAdam = new AdamW(fastModel.Weights, settings);
        Func<Tensor> full = () => fullModel.Run(tokens).select(1, 2);
        Func<Tensor> fast = () => fastModel.LastPositionLogits(tokens);

        double lossFull = Step(full, labels, fullAdam), lossFast = Step(fast, labels, fastAdam);
        env.Error.WriteLine($"[bench modular-addition] p {p}, batch {batch}, {device}, {get_num_threads()} threads; first-step losses {lossFull:G9} (full) and {lossFast:G9} (fast path)");
        double bestFull = double.MaxValue, bestFast = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            bestFull = Math.Min(bestFull, Time(full, labels, fullAdam, steps));
            bestFast = Math.Min(bestFast, Time(fast, labels, fastAdam, steps));
            env.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[bench modular-addition] repeat {r + 1}/{repeats}: full {bestFull * 1e3:F1} ms/step, fast path {bestFast * 1e3:F1} ms/step (best so far)"));
        }
        double matmul = BenchSupport.MatmulRate(4096, 512, 512, device);
        double flopsFull = FullFlops(config, batch), flopsFast = FastFlops(config, batch);

        var report = new JsonObject
        {
            ["p"] = p, ["batch"] = batch, ["device"] = device.ToString(), ["threads"] = get_num_threads(),
            ["processors"] = Environment.ProcessorCount, ["steps"] = steps, ["repeats"] = repeats,
            ["full_ms_per_step"] = Math.Round(bestFull * 1e3, 2),
            ["fast_ms_per_step"] = Math.Round(bestFast * 1e3, 2),
            ["speedup"] = Math.Round(bestFull / bestFast, 3),
            ["first_step_loss_full"] = lossFull,
            ["first_step_loss_fast"] = lossFast,
            ["full_gflop_per_step"] = Math.Round(flopsFull / 1e9, 3),
            ["fast_gflop_per_step"] = Math.Round(flopsFast / 1e9, 3),
            ["full_gflops"] = Math.Round(flopsFull / bestFull / 1e9, 2),
            ["fast_gflops"] = Math.Round(flopsFast / bestFast / 1e9, 2),
            ["matmul_gflops"] = Math.Round(matmul / 1e9, 2),
            ["fast_fraction_of_matmul_rate"] = Math.Round(flopsFast / bestFast / matmul, 3),
            ["epochs_per_hour_fast"] = Math.Round(3600 / bestFast),
            ["definitions"] = new JsonObject
            {
                ["ms_per_step"] = "wall time of one full-batch AdamW step (forward, float64 cross-entropy at the last position, backward, update), the fastest mean over the repeats; the two paths alternate",
                ["gflop_per_step"] = "3 x the multiply-adds x 2 of the forward pass's matrix products (backward ~ 2 x forward); the fast path's per-vocabulary tables are counted once per step",
                ["matmul_gflops"] = "2 m n k / time of a float32 [4096 x 512] x [512 x 512] matmul on the same device, best of 5",
                ["speedup"] = "full_ms_per_step / fast_ms_per_step",
            },
        };
        ReportOutput.Emit(args, env, report, w =>
        {
            var c = CultureInfo.InvariantCulture;
            w.WriteLine($"modular-addition training step: p {p}, batch {batch} pairs, {device}, {get_num_threads()} threads, best of {repeats} x {steps} steps");
            w.WriteLine(string.Create(c, $"  full forward        {bestFull * 1e3,9:F1} ms/step  {flopsFull / 1e9,7:F2} GFLOP  {flopsFull / bestFull / 1e9,7:F1} GFLOP/s"));
            w.WriteLine(string.Create(c, $"  last-position path  {bestFast * 1e3,9:F1} ms/step  {flopsFast / 1e9,7:F2} GFLOP  {flopsFast / bestFast / 1e9,7:F1} GFLOP/s"));
            w.WriteLine(string.Create(c, $"  speedup             {bestFull / bestFast,9:F2} x; fast path at {flopsFast / bestFast / matmul:P0} of the measured matmul rate ({matmul / 1e9:F1} GFLOP/s)"));
            w.WriteLine(string.Create(c, $"  first-step loss     full {lossFull:G9}, fast {lossFast:G9}"));
        });
        return ExitCodes.Ok;
    }

    static double Step(Func<Tensor> logits, Tensor labels, AdamW adam)
    {
        using var scope = NewDisposeScope();
        var loss = nn.functional.cross_entropy(logits().to(ScalarType.Float64), labels);
        adam.ZeroGrad();
        loss.backward();
        adam.Step();
        return loss.item<double>();
    }

    static double Time(Func<Tensor> logits, Tensor labels, AdamW adam, int steps)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step(logits, labels, adam);
        return clock.Elapsed.TotalSeconds / steps;
    }

    /// <summary>Forward multiply-adds of the full pass on every position, × 2 FLOP × 3 (forward + backward).</summary>
    static double FullFlops(ModularAdditionConfig c, int batch)
    {
        double perPosition = 3.0 * c.DModel * c.NHeads * c.DHead + (double)c.NHeads * c.DHead * c.DModel
            + 2.0 * c.DModel * c.DMlp + (double)c.DModel * c.DVocabOut + 2.0 * c.NHeads * c.NCtx * c.DHead;
        return 6.0 * batch * c.NCtx * perPosition;
    }

    /// <summary>The fast path: per-vocabulary tables once per step, then one position per sample.</summary>
    static double FastFlops(ModularAdditionConfig c, int batch)
    {
        double tables = (2.0 * c.NCtx + 1) * c.DVocab * c.DModel * c.NHeads * c.DHead;
        double perSample = 2.0 * c.NHeads * c.NCtx * c.DHead + (double)c.NHeads * c.DHead * c.DModel
            + 2.0 * c.DModel * c.DMlp + (double)c.DModel * c.DVocabOut;
        return 6.0 * (tables + batch * perSample);
    }
}
