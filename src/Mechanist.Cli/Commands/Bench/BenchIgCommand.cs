using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.Attribution;
using Mechanist.Cli.CommandLine;
using Mechanist.IO;
using Mechanist.Methods.Attribution;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// <c>mechanist bench ig</c>: integrated gradients with its steps evaluated in batches against the same integral as
/// one forward/backward pass per step, measured in the same run on the same model, inputs and quadrature nodes.
/// </summary>
public sealed class BenchIgCommand : ICommand
{
    public string Name => "bench ig";
    public string Summary => "integrated gradients: batched steps vs one forward/backward pass per step (ratio, same run)";
    public string Usage => "[--steps 50] [--batch 8] [--width 256] [--depth 4] [--repeats 5] [--internal-batch-size 0] [--seed S] [--format text|json] [--out FILE]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("steps", "integration steps (default 50)", ValueName: "N"),
        new("batch", "examples attributed at once (default 8)", ValueName: "B"),
        new("width", "hidden width of the benchmark MLP (default 256)", ValueName: "W"),
        new("depth", "hidden layers of the benchmark MLP (default 4)", ValueName: "L"),
        new("repeats", "timed repetitions of each variant, alternating; the median is reported (default 5)", ValueName: "R"),
        new("internal-batch-size", "rows per pass of the batched variant, 0 = all steps at once (default 0)", ValueName: "N"),
        CommonOptions.Seed, CommonOptions.Format, CommonOptions.Out, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        int steps = args.GetPositiveInt("steps", 50), batch = args.GetPositiveInt("batch", 8), width = args.GetPositiveInt("width", 256);
        int depth = args.GetPositiveInt("depth", 4), repeats = args.GetPositiveInt("repeats", 5);
        int internalBatch = args.GetInt("internal-batch-size", 0);
        if (internalBatch < 0) throw new UsageException("option '--internal-batch-size' must be 0 or more.");
        var format = args.GetChoice("format", "text", "text", "json");
        int seed = CommonOptions.ParseSeed(args);

        using var model = new BenchMlp(width, depth, seed);
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)seed + 1);
        var x = randn(batch, width, generator: g);
        Func<Tensor, Tensor> metric = o => o.log_softmax(1).select(1, 0);
        var options = new IntegratedGradientsOptions { Steps = steps, InternalBatchSize = internalBatch };
        var context = new AttributionContext { Model = model, Input = x, Metric = metric, MetricDescription = "log p(class 0)", Options = options };
        var method = new IntegratedGradients();

        Tensor Batched()
        {
            var r = method.Attribute(context);
            return r.Scores;
        }
        Tensor Looped()
        {
            var (alphas, weights) = IntegrationRules.Nodes(options.Rule, steps);
            var total = zeros_like(x);
            using var grad = enable_grad();
            for (int k = 0; k < steps; k++)
            {
                using var stepScope = NewDisposeScope();
                var p = (x * alphas[k]).detach().requires_grad_(true);
                var m = metric(model.Run(p));
                var gk = autograd.grad([m.sum()], [p])[0];
                total.add_(gk * weights[k]);
            }
            return x * total;
        }

        // Warm-up, then alternate the two variants so drifts in machine load hit both alike.
        var batchedResult = Batched();
        var loopedResult = Looped();
        double maxDiff = (batchedResult - loopedResult).abs().max().item<float>();
        double scale = loopedResult.abs().max().item<float>();
        var batchedMs = new List<double>();
        var loopedMs = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            batchedMs.Add(BenchSupport.Milliseconds(() => Batched()));
            loopedMs.Add(BenchSupport.Milliseconds(() => Looped()));
        }
        double b = BenchSupport.Median(batchedMs), l = BenchSupport.Median(loopedMs);
        var json = new JsonObject
        {
            ["benchmark"] = "integrated-gradients: batched steps vs one forward/backward pass per step",
            ["model"] = $"MLP {width}x{depth} tanh -> 10, float32, cpu",
            ["steps"] = steps, ["batch"] = batch, ["rule"] = "gauss_legendre", ["internal_batch_size"] = internalBatch,
            ["repeats"] = repeats, ["threads"] = get_num_threads(),
            ["batched_ms_median"] = Math.Round(b, 3), ["looped_ms_median"] = Math.Round(l, 3),
            ["speedup_looped_over_batched"] = Math.Round(l / b, 3),
            ["max_abs_difference"] = maxDiff, ["max_abs_score"] = scale,
            ["batched_ms"] = new JsonArray(batchedMs.Select(v => (JsonNode)Math.Round(v, 3)).ToArray()),
            ["looped_ms"] = new JsonArray(loopedMs.Select(v => (JsonNode)Math.Round(v, 3)).ToArray()),
            ["note"] = "wall-clock medians on this machine in this run; rerun on a quiet machine for stable figures",
        };
        ReportOutput.Emit(args, env, json, w =>
        {
            var inv = CultureInfo.InvariantCulture;
            w.WriteLine($"integrated gradients, {steps} steps, batch {batch}, MLP {width}x{depth}, {get_num_threads()} thread(s), median of {repeats}:");
            w.WriteLine($"  batched (internal_batch_size {internalBatch}): {b.ToString("0.###", inv)} ms");
            w.WriteLine($"  one pass per step:            {l.ToString("0.###", inv)} ms");
            w.WriteLine($"  ratio (per-step / batched):   {(l / b).ToString("0.##", inv)}x");
            w.WriteLine($"  same attributions: max |difference| {maxDiff.ToString("0.###e0", inv)} (max |score| {scale.ToString("0.###", inv)})");
        });
        if (!(maxDiff <= 1e-4 * Math.Max(1, scale)))
        {
            env.Error.WriteLine($"mechanist: error: the batched and per-step integrals differ by {maxDiff}; the benchmark compares different computations.");
            return ExitCodes.ErrorFinding;
        }
        return ExitCodes.Ok;
    }

    /// <summary>The benchmark's model: an MLP with tanh layers and hook sites between them.</summary>
    sealed class BenchMlp : HookedModel
    {
        readonly Tensor[] _weights;
        readonly Tensor _out;
        readonly HookPoint[] _hooks;

        public BenchMlp(int width, int depth, int seed) : base("bench-mlp")
        {
            var g = new Generator((ulong)seed);
            _weights = Enumerable.Range(0, depth).Select(_ => randn(width, width, generator: g) / Math.Sqrt(width)).ToArray();
            _out = randn(width, 10, generator: g) / Math.Sqrt(width);
            _hooks = Enumerable.Range(0, depth).Select(i => Site($"blocks.{i}.hook_post")).ToArray();
            RegisterComponents();
        }

        public override string ModelType => "bench-mlp";

        public override Tensor forward(Tensor x)
        {
            for (int i = 0; i < _weights.Length; i++) x = _hooks[i].call(x.matmul(_weights[i]).tanh());
            return x.matmul(_out);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) { foreach (var w in _weights) w.Dispose(); _out.Dispose(); }
            base.Dispose(disposing);
        }
    }
}
