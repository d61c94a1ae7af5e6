using System.Diagnostics;
using System.Globalization;
using Mechanist.Decomposers;
using Mechanist.Host;
using Mechanist.Host.Discovery;
using Mechanist.Host.Running;
using Mechanist.Models.Tasks;
using static TorchSharp.torch;

namespace Mechanist.Cli.Commands.Bench;

/// <summary>
/// Times SAE training at one shape for <c>mechanist bench sae</c>: synthetic activations (superposed sparse features),
/// a toy MLP's output for the transcoder and two half-width sites for the crosscoder. Every timed step is paired with
/// one dense matmul of the encoder's shape run right after it, so each step's share of the machine's matmul rate is
/// measured under the same load as the step itself.
/// </summary>
sealed class BenchSaeRunner : IDisposable
{
    public static readonly string[] AllVariants =
        ["topk", "topk-dense", "batchtopk", "batchtopk-dense", "matryoshka", "relu", "jumprelu", "gated", "transcoder", "crosscoder"];

    public sealed record Variant(string Name, string Method, Dictionary<string, string> Settings, double NominalFlopsPerStep, string FlopModel);

    /// <summary>
    /// One training run: the wall seconds of each timed step and of the matmul after it, peak RSS, and RSS before the
    /// run (after returning freed heap memory to the system), after the warm-up and at the end.
    /// </summary>
    public sealed record Run(Variant Variant, double[] StepSeconds, double[] MatmulSeconds, double[] StepCpuSeconds, double[] MatmulCpuSeconds,
        long PeakRss, string PeakMethod, long RssBefore, long RssAfterWarmup, long RssAtEnd)
    {
        public long TrainingBytes => Math.Max(0, PeakRss - RssBefore);

        /// <summary>Per step: (nominal FLOPs / step seconds) / (matmul FLOPs / seconds of the matmul right after it).</summary>
        public IEnumerable<double> Fractions(double matmulFlops) =>
            StepSeconds.Zip(MatmulSeconds, (s, m) => Variant.NominalFlopsPerStep / s / (matmulFlops / m));

        /// <summary>The same with the process's CPU seconds instead of wall seconds: what other load on the machine changes least.</summary>
        public IEnumerable<double> CpuFractions(double matmulFlops) =>
            StepCpuSeconds.Zip(MatmulCpuSeconds, (s, m) => Variant.NominalFlopsPerStep / s / (matmulFlops / m));
    }

    readonly int _dIn, _dSae, _batch, _k, _seed;
    readonly Device _device;
    readonly ActivationMatrix _data, _targets, _siteA, _siteB;
    readonly Tensor _a, _b, _c;

    public BenchSaeRunner(int dIn, int dSae, int batch, int k, int seed, Device device)
    {
        (_dIn, _dSae, _batch, _k, _seed, _device) = (dIn, dSae, batch, k, seed, device);
        var (x, _) = SuperpositionData.Generate(new SuperpositionSettings(Features: 2 * dIn, Dimension: dIn, ActivePerSample: 8,
            Samples: (long)batch * 2, Seed: seed));
        _data = new ActivationMatrix("bench-activations", x);
        x.Dispose();
        using (var scope = NewDisposeScope())
        {
            var g = new Generator((ulong)seed + 1);
            _targets = new ActivationMatrix("bench-mlp-output",
                nn.functional.relu(_data.Data.matmul(randn(dIn, 2 * dIn, generator: g) / Math.Sqrt(dIn))).matmul(randn(2 * dIn, dIn, generator: g) / Math.Sqrt(2 * dIn)));
        }
        _siteA = new ActivationMatrix("bench-site-a", _data.Data.narrow(1, 0, dIn / 2));
        _siteB = new ActivationMatrix("bench-site-b", _data.Data.narrow(1, dIn / 2, dIn / 2));
        var gen = new Generator(7, device);
        _a = randn(batch, dIn, generator: gen, device: device).DetachFromDisposeScope();
        _b = randn(dIn, dSae, generator: gen, device: device).DetachFromDisposeScope();
        _c = empty(batch, dSae, device: device).DetachFromDisposeScope();
    }

    /// <summary>The activations the variants train on (rows cycle).</summary>
    public ActivationMatrix Data => _data;

    /// <summary>2 B d_in d_sae: the FLOPs of one encoder-shaped matmul.</summary>
    public double MatmulFlops => 2.0 * _batch * _dIn * _dSae;

    public IReadOnlyDictionary<string, Variant> Variants()
    {
        var inv = CultureInfo.InvariantCulture;
        double m = MatmulFlops;
        double sparseExtra = 8.0 * _batch * _k * _dIn + 2.0 * _dSae * _dIn;
        Dictionary<string, string> Base() => new()
        {
            ["d_sae"] = _dSae.ToString(inv), ["batch_size"] = _batch.ToString(inv), ["shuffle_buffer"] = "2",
        };
        Dictionary<string, string> TopK(bool sparse) => new(Base()) { ["k"] = _k.ToString(inv), ["sparse_decode"] = sparse ? "true" : "false" };
        return new Dictionary<string, Variant>
        {
            ["topk"] = new("topk", "sae.topk", TopK(true), m + sparseExtra, "2 B d_in d_sae (encoder) + 8 B k d_in (sparse decode, its gradient, decoder and encoder gradients) + 2 d_sae d_in"),
            ["topk-dense"] = new("topk-dense", "sae.topk", TopK(false), 6 * m, "6 x 2 B d_in d_sae (2 forward, 4 backward matmuls)"),
            ["batchtopk"] = new("batchtopk", "sae.batchtopk", TopK(true), m + sparseExtra, "2 B d_in d_sae + 8 B k d_in + 2 d_sae d_in"),
            ["batchtopk-dense"] = new("batchtopk-dense", "sae.batchtopk", TopK(false), 6 * m, "6 x 2 B d_in d_sae"),
            ["matryoshka"] = new("matryoshka", "sae.matryoshka", TopK(true), m + sparseExtra, "2 B d_in d_sae + 8 B k d_in + 2 d_sae d_in (levels decoded once)"),
            ["relu"] = new("relu", "sae.relu", Base(), 6 * m, "6 x 2 B d_in d_sae"),
            ["jumprelu"] = new("jumprelu", "sae.jumprelu", Base(), 6 * m, "6 x 2 B d_in d_sae"),
            ["gated"] = new("gated", "sae.gated", Base(), 8 * m, "8 x 2 B d_in d_sae (adds the gate's auxiliary reconstruction)"),
            ["transcoder"] = new("transcoder", "transcoder", Base(), 5 * m, "5 x 2 B d_in d_sae (no input gradient)"),
            ["crosscoder"] = new("crosscoder", "crosscoder", Base(), 5 * m, "5 x 2 B d_in d_sae (two sites of d_in/2; no input gradient)"),
        };
    }

    /// <summary>Seconds of one encoder-shaped matmul into a preallocated output.</summary>
    public double TimeMatmul() => TimeMatmulWithCpu().Seconds;

    /// <summary>Wall and process CPU seconds of one encoder-shaped matmul into a preallocated output.</summary>
    public (double Seconds, double CpuSeconds) TimeMatmulWithCpu()
    {
        double cpu = CpuSeconds();
        var watch = Stopwatch.StartNew();
        _c.addmm_(_a, _b, beta: 0, alpha: 1);
        if (_device.type != TorchSharp.DeviceType.CPU) _ = _c[0, 0].item<float>();
        return (watch.Elapsed.TotalSeconds, CpuSeconds() - cpu);
    }

    /// <summary>User + system CPU seconds of this process so far.</summary>
    public static double CpuSeconds()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>2 B d_in d_sae / seconds of the fastest of 5 products after a warm-up: the machine's best matmul rate now.</summary>
    public double BestMatmulRate()
    {
        TimeMatmul();
        double best = double.MaxValue;
        for (int i = 0; i < 5; i++) best = Math.Min(best, TimeMatmul());
        return MatmulFlops / best;
    }

    /// <summary>Trains <paramref name="variant"/> for warm-up + timed steps; each timed step is followed by one timed matmul.</summary>
    public Run Measure(MechanistHost host, Variant variant, int warmup, int steps)
    {
        var entry = host.Catalog.Resolve(variant.Method, MethodKind.Decomposer);
        var settings = new Dictionary<string, string>(variant.Settings) { ["steps"] = (warmup + steps).ToString(CultureInfo.InvariantCulture) };
        var options = MethodCatalog.BindOptions(entry, settings);
        var stepSeconds = new List<double>();
        var matmulSeconds = new List<double>();
        var stepCpu = new List<double>();
        var matmulCpu = new List<double>();
        long rssAfterWarmup = 0;
        var clock = new Stopwatch();
        double cpuAtStart = 0;
        void OnStep(ProgressReport p)
        {
            if (p.Step < warmup) return;
            if (p.Step == warmup)
            {
                rssAfterWarmup = PeakMemory.CurrentRss();
                cpuAtStart = CpuSeconds();
                clock.Restart();
                return;
            }
            stepSeconds.Add(clock.Elapsed.TotalSeconds);
            stepCpu.Add(CpuSeconds() - cpuAtStart);
            var (seconds, cpu) = TimeMatmulWithCpu();
            matmulSeconds.Add(seconds);
            matmulCpu.Add(cpu);
            cpuAtStart = CpuSeconds();
            clock.Restart();
        }
        bool crosscoder = variant.Method == "crosscoder";
        var context = new DecomposeContext
        {
            Activations = crosscoder ? new ConcatenatedActivations([_siteA, _siteB]) : _data,
            Sites = crosscoder ? [_siteA, _siteB] : null,
            Targets = variant.Method == "transcoder" ? _targets : null,
            Options = options, Seed = _seed, Device = _device,
            Progress = new Recorder(OnStep),
        };
        var decomposer = MethodCatalog.Create<Decomposer>(entry, host.Services);
        GC.Collect();
        MallocTuning.ReturnFreeMemory();
        long before = PeakMemory.CurrentRss();
        Decomposition decomposition;
        PeakMemory.Result peak;
        long atEnd;
        using (MallocTuning.KeepFreedMemory())
        {
            (decomposition, peak) = PeakMemory.Measure(() => MethodInvoker.Invoke(entry, () => decomposer.Fit(context)));
            atEnd = PeakMemory.CurrentRss();
        }
        decomposition.Dispose();
        if (stepSeconds.Count != steps)
            throw new InvalidOperationException($"{variant.Name}: timed {stepSeconds.Count} of {steps} steps (progress is reported every step up to 100 steps)");
        return new Run(variant, [.. stepSeconds], [.. matmulSeconds], [.. stepCpu], [.. matmulCpu], peak.PeakBytes, peak.Method, before, rssAfterWarmup, atEnd);
    }

    public void Dispose()
    {
        _data.Dispose();
        _targets.Dispose();
        _siteA.Dispose();
        _siteB.Dispose();
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }

    sealed class Recorder(Action<ProgressReport> report) : IProgress<ProgressReport>
    {
        public void Report(ProgressReport value) => report(value);
    }
}
