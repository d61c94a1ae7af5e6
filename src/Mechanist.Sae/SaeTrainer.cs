using System.Globalization;
using System.Reflection;
using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Options;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Sae;

/// <summary>
/// The one training loop of every SAE variant. Per step: a shuffled batch from the stream, normalised; the variant's
/// loss; backward; for unit-norm decoders the gradient's component along each decoder row removed; global gradient
/// clipping; Adam with linear learning-rate warm-up and decay; decoder rows renormalised; dead-latent counters
/// updated (AuxK reads them, resampling acts on them); progress reported; a checkpoint every N steps. Starts from
/// a geometric-median b_dec and a decoder whose transpose is the encoder. Deterministic for a seed, and a run
/// resumed from a checkpoint ends with the same weights, bit for bit, as one that was never interrupted.
/// </summary>
public static class SaeTrainer
{
    /// <summary>Rows used to estimate the normalisation scale.</summary>
    const int NormalizationRows = 65_536;

    /// <summary>Rows used for the geometric median of b_dec.</summary>
    const int MedianRows = 16_384;

    /// <summary>The buffer holding the adapted sparsity coefficient when target_l0 is set (float64 [4], <see cref="SparsityTarget"/>; checkpointed).</summary>
    public const string SparsityCoefficientBuffer = "sparsity_coefficient";

    public static Decomposition Train<TOptions>(DecomposeContext context, TOptions options, SaeDecomposer<TOptions> variant)
        where TOptions : SaeOptions, new()
    {
        var (inputs, target) = variant.Data(context);
        int dIn = inputs.Sum(s => s.Dimension);
        int dOut = target?.Dimension ?? dIn;
        var hookNames = context.HookName?.Split(',', StringSplitOptions.TrimEntries) ?? [];
        var shape = new SaeShape(dIn, options.LatentsFor(dIn), dOut, inputs.Select(s => s.Dimension).ToList())
        {
            HookNames = hookNames.Length == inputs.Count ? hookNames : [],
        };
        variant.Check(shape, options);
        if (variant.CentersInput && dIn != dOut)
            throw new InvalidOperationException("a variant that centres its input by b_dec needs d_in = d_out");
        long rows = inputs[0].Count;
        int batchSize = (int)Math.Min(options.BatchSize, rows);
        if (batchSize < options.BatchSize)
            context.Logger.LogInformation("batch_size {Requested} is larger than the {Rows} rows available; using {Used}.",
                options.BatchSize, rows, batchSize);
        var device = context.Device;
        var fingerprint = Fingerprint(variant, options, context.Seed, inputs, target, batchSize);
        var run = new Run<TOptions>(context, options, variant, shape, inputs, target, batchSize, fingerprint);
        // Training needs gradients even when the caller runs under no_grad (an analysis that fits a dictionary
        // inside an inference block): the mode is restored on return.
        using var gradients = enable_grad();
        try
        {
            return run.Execute();
        }
        finally
        {
            run.Dispose();
        }
    }

    static Dictionary<string, string> Fingerprint<TOptions>(SaeDecomposer<TOptions> variant, TOptions options, int seed,
        IReadOnlyList<IActivationSource> inputs, IActivationSource? target, int batchSize) where TOptions : SaeOptions, new()
    {
        var id = variant.GetType().GetCustomAttribute<DecomposerAttribute>()?.Id ?? variant.GetType().FullName!;
        var result = new Dictionary<string, string>
        {
            ["method"] = id,
            ["seed"] = seed.ToString(CultureInfo.InvariantCulture),
            ["inputs"] = string.Join(";", inputs.Select(s => $"{s.Name}[{s.Count}x{s.Dimension}]")),
            ["target"] = target is null ? "" : $"{target.Name}[{target.Count}x{target.Dimension}]",
            ["effective_batch_size"] = batchSize.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var o in OptionSchema.Describe(typeof(TOptions)))
            if (o.Name is not ("checkpoint_every" or "checkpoint_dir"))
                result["option." + o.Name] = OptionSchema.FormatValue(o.Property.GetValue(options));
        return result;
    }

    /// <summary>The state of one training run.</summary>
    sealed class Run<TOptions> : IDisposable where TOptions : SaeOptions, new()
    {
        readonly DecomposeContext _context;
        readonly TOptions _options;
        readonly SaeDecomposer<TOptions> _variant;
        readonly SaeShape _shape;
        readonly IReadOnlyList<IActivationSource> _inputs;
        readonly IActivationSource? _target;
        readonly int _batchSize;
        readonly Dictionary<string, string> _fingerprint;
        readonly Device _device;
        readonly List<Tensor> _owned = [];
        SaeParameters _p = null!;
        Tensor _inputScale = null!, _outputScale = null!;
        Tensor _rowsSinceFired = null!;
        readonly Dictionary<string, (Tensor M, Tensor V)> _adam = new();
        readonly Dictionary<string, double> _last = new();
        long _step;

        // The run's constants as Scalars that live as long as the run (see KeptScalars), disposed with it.
        readonly Scalar _deadAfterRows, _batchRows, _beta1, _beta2, _oneMinusBeta1, _oneMinusBeta2;

        public Run(DecomposeContext context, TOptions options, SaeDecomposer<TOptions> variant, SaeShape shape,
            IReadOnlyList<IActivationSource> inputs, IActivationSource? target, int batchSize, Dictionary<string, string> fingerprint)
        {
            _context = context;
            _options = options;
            _variant = variant;
            _shape = shape;
            _inputs = inputs;
            _target = target;
            _batchSize = batchSize;
            _fingerprint = fingerprint;
            _device = context.Device;
            _deadAfterRows = options.DeadAfterRows.ToScalar();
            _batchRows = batchSize.ToScalar();
            _beta1 = options.Beta1.ToScalar();
            _beta2 = options.Beta2.ToScalar();
            _oneMinusBeta1 = (1 - options.Beta1).ToScalar();
            _oneMinusBeta2 = (1 - options.Beta2).ToScalar();
        }

        bool Checkpointing => _options.CheckpointEvery > 0;

        public Decomposition Execute()
        {
            var resumed = Checkpointing ? SaeCheckpoint.LoadLatest(_options.CheckpointDir, new(_fingerprint, _options.Steps, ExpectedState())) : null;
            if (resumed is { } r)
            {
                Restore(r.Step, r.State);
                foreach (var t in r.State.Values) t.Dispose();
                _context.Logger.LogInformation("resuming from the checkpoint of step {Step} in {Dir}", r.Step, _options.CheckpointDir);
            }
            else Initialize();

            using var stream = new BatchStream(_inputs, _target, _batchSize, _options.ShuffleBuffer, _context.Seed, CPU);
            if (_step > 0) stream.Skip(_step);
            long total = _options.Steps;
            long reportEvery = Math.Max(1, total / 100);
            while (_step < total)
            {
                _context.CancellationToken.ThrowIfCancellationRequested();
                using (var scope = NewDisposeScope())
                {
                    var (x, y) = stream.Next();
                    TrainStep(x, y, report: (_step + 1) % reportEvery == 0 || _step + 1 == total);
                }
                _step++;
                if (_step % reportEvery == 0 || _step == total)
                    _context.Progress?.Report(new ProgressReport(_step, total, new Dictionary<string, double>(_last)));
                if (Checkpointing && (_step % _options.CheckpointEvery == 0 || _step == total))
                    SaveCheckpoint();
            }
            return Export();
        }

        // ---- initialisation ------------------------------------------------------------------------------

        void Initialize()
        {
            using var scope = NewDisposeScope();
            var (sample, sampleY) = Sample((int)Math.Min(Math.Max(NormalizationRows, MedianRows), Math.Max(_inputs[0].Count, _batchSize)));
            _inputScale = Own(_options.Normalization == ActivationNormalization.ExpectedNorm
                ? SiteScales(sample, _shape.InputSites) : ones(_shape.DIn));
            _outputScale = _target is null ? _inputScale
                : Own(_options.Normalization == ActivationNormalization.ExpectedNorm ? SiteScales(sampleY!, [_shape.DOut]) : ones(_shape.DOut));
            var normalisedTargets = (sampleY ?? sample).narrow(0, 0, Math.Min(MedianRows, sample.shape[0])) * _outputScale;
            var bDec = _options.BDecInit switch
            {
                DecoderBiasInit.GeometricMedian => GeometricMedian.Compute(normalisedTargets),
                DecoderBiasInit.Mean => normalisedTargets.mean([0]),
                _ => zeros(_shape.DOut),
            };

            var g = new Generator(InitializationSeed(_context.Seed));
            int n = _shape.DSae;
            var decoder = nn.functional.normalize(randn(n, _shape.DOut, generator: g), dim: 1).Times(_variant.DecoderInitNorm);
            Tensor encoder;
            if (_variant.TiedInit)
            {
                if (_shape.DIn != _shape.DOut) throw new InvalidOperationException("tied initialisation needs d_in = d_out");
                encoder = decoder.clone();
            }
            else
            {
                encoder = nn.functional.normalize(randn(n, _shape.DIn, generator: g), dim: 1).Times(_variant.DecoderInitNorm);
                decoder = MappedDecoder(encoder, sample * _inputScale, (sampleY ?? sample) * _outputScale, decoder);
            }
            var extra = _variant.ExtraParameters(_shape, _options).ToDictionary(e => e.Name, e => e.Initial(_shape));
            _p = new SaeParameters(encoder.to(_device), _variant.HasEncoderBias ? zeros(n, device: _device) : null,
                decoder.to(_device), bDec.to(ScalarType.Float32).to(_device), extra.ToDictionary(kv => kv.Key, kv => kv.Value.to(_device)));
            foreach (var (name, value) in _variant.InitialBuffers(_shape, _options)) _p.SetBuffer(name, value.to(_device));
            if (_options is PenalizedSaeOptions { TargetL0: > 0 })
                _p.SetBuffer(SparsityCoefficientBuffer, tensor(SparsityTarget.Initial(_variant.SparsityCoefficient(_options)), ScalarType.Float64, _device));
            _inputScale = MoveOwned(_inputScale, _device);
            _outputScale = _target is null ? _inputScale : MoveOwned(_outputScale, _device);
            _rowsSinceFired = Own(zeros(n, ScalarType.Int64, _device));
            foreach (var (name, t) in _p.Trainable)
                _adam[name] = (Own(zeros_like(t).detach()), Own(zeros_like(t).detach()));
        }

        /// <summary>
        /// The decoder of an untied start (input and output spaces differ, a transcoder): row i is encoder row i carried
        /// into the output space by the least-squares map M from the (normalised) inputs to the centred targets,
        /// ŷ ≈ x M, at the decoder's initial norm. For an autoencoder M is the identity and this is the tied start.
        /// Latent i then writes where its input direction leads, so the MSE gives its encoder a useful gradient from the
        /// first step. A zero decoder does not: with the L1 weighted by decoder norms a row at zero stays there unless the
        /// error it could explain beats the penalty (a group lasso), while Adam drives b_enc down on the penalty's tiny
        /// gradient and every latent stops firing before the decoder grows (FVU 1.0 at any L0). Rows the map sends to
        /// (near) zero keep their random start.
        /// </summary>
        Tensor MappedDecoder(Tensor encoder, Tensor x, Tensor y, Tensor random)
        {
            var x64 = x.to(ScalarType.Float64);
            var y64 = y.to(ScalarType.Float64);
            var xc = x64 - x64.mean([0], keepdim: true);
            var yc = y64 - y64.mean([0], keepdim: true);
            var gram = xc.t().matmul(xc);
            double ridge = 1e-4 * gram.diagonal().mean().item<double>() + 1e-12;
            var map = linalg.solve(gram.Plus(eye(_shape.DIn, dtype: ScalarType.Float64).Times(ridge)), xc.t().matmul(yc));
            var carried = encoder.to(ScalarType.Float64).matmul(map);
            var norms = carried.norm(dim: 1, keepdim: true);
            var usable = norms > norms.max().AtLeast(1e-30).Times(1e-6);
            var mapped = (carried / norms.AtLeast(1e-30)).Times(_variant.DecoderInitNorm).to(ScalarType.Float32);
            return where(usable, mapped, random);
        }

        /// <summary>
        /// The seed of the initial weights: the run's seed mixed (SplitMix64), not the seed itself. A generator seeded
        /// with the bare seed draws the very numbers that <c>generate superposition</c> (and any other randn from the
        /// same seed) drew for its data's directions, so an SAE trained with the data's seed started with the true
        /// features as its decoder rows and scored MMCS 1.0 before its first step.
        /// </summary>
        static ulong InitializationSeed(int seed)
        {
            ulong z = unchecked((ulong)seed + 0x5AE1_4171_7C0D_E5EDUL);
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            return z ^ (z >> 31);
        }

        /// <summary>The first rows of the training stream (the batches step 0 onwards will see), on the CPU.</summary>
        (Tensor X, Tensor? Y) Sample(int rows)
        {
            using var stream = new BatchStream(_inputs, _target, _batchSize, _options.ShuffleBuffer, _context.Seed, CPU);
            long batches = Math.Max(1, Math.Min(_options.Steps, (rows + _batchSize - 1) / _batchSize));
            var xs = new List<Tensor>();
            var ys = new List<Tensor>();
            for (long i = 0; i < batches; i++)
            {
                var (x, y) = stream.Next();
                xs.Add(x);
                if (y is not null) ys.Add(y);
            }
            return (cat(xs, 0), ys.Count > 0 ? cat(ys, 0) : null);
        }

        /// <summary>Per feature: sqrt(d_site / mean ‖x_site‖²) for the site the feature belongs to.</summary>
        static Tensor SiteScales(Tensor sample, IReadOnlyList<int> sites)
        {
            var parts = new List<Tensor>();
            long offset = 0;
            foreach (var width in sites)
            {
                var site = sample.narrow(1, offset, width).to(ScalarType.Float64);
                double meanSquared = site.Squared().sum(1).mean().item<double>();
                double scale = meanSquared > 0 ? Math.Sqrt(width / meanSquared) : 1.0;
                using var value = scale.ToScalar();
                parts.Add(full(width, value, ScalarType.Float32));
                offset += width;
            }
            return cat(parts, 0);
        }

        // ---- one step ------------------------------------------------------------------------------------

        void TrainStep(Tensor rawX, Tensor? rawY, bool report)
        {
            var x = rawX.to(_device) * _inputScale;
            var y = rawY is null ? x : rawY.to(_device) * _outputScale;
            var batch = new TrainingBatch(x, y);
            long total = _options.Steps;
            double lr = LearningRate(_step, total);
            double coefficient = BaseCoefficient() * Warmup(_step, total);
            var deadMask = _rowsSinceFired.ge(_deadAfterRows);
            int deadCount = (int)deadMask.sum().item<long>();
            var state = new StepState(_step, total, coefficient, deadCount > 0 ? deadMask : null, deadCount, _shape);

            // Gradient buffers live from step to step and are zeroed here: backward adds into them. (A fresh buffer per
            // step costs the kernel's zeroing of new pages on every step, and a gradient that a custom function hands
            // back is copied by autograd; the sparse kernels add theirs into the buffer directly.)
            foreach (var (_, t) in _p.Trainable)
            {
                if (t.grad is { } existing) existing.zero_();
                else t.grad = zeros_like(t).detach();
            }
            var output = _variant.Loss(_p, batch, state, _options);
            output.Loss.backward();

            using (no_grad())
            {
                if (!FusedOptimizerStep(lr))
                {
                    if (_variant.UnitNormDecoder) RemoveParallelGradient();
                    if (_options.GradClip > 0) ClipGradients(_options.GradClip);
                    AdamStep(lr);
                    if (_variant.UnitNormDecoder) NormalizeDecoder();
                }
                _rowsSinceFired.add_(_batchRows, One).masked_fill_(output.Fired, Zero);
                AdaptCoefficient(output.L0.item<float>());
                int every = _variant.ResampleEvery(_options);
                if (every > 0 && (_step + 1) % every == 0) Resample(batch, output);
            }

            if (report)
            {
                _last.Clear();
                _last["loss"] = output.Loss.item<float>();
                _last["fvu"] = batch.Fvu(output.Reconstruction).item<float>();
                _last["l0"] = output.L0.item<float>();
                _last["dead_fraction"] = (double)deadCount / _shape.DSae;
                _last["lr"] = lr;
                if (_options is PenalizedSaeOptions) _last["sparsity_coefficient"] = BaseCoefficient();
                if (_p.Buffers.TryGetValue(SparsityCoefficientBuffer, out var adapted))
                    _last["target_l0_gain"] = adapted[3].item<double>();
                foreach (var (name, value) in output.Terms) _last[name] = value.item<float>();
            }
        }

        double LearningRate(long step, long total)
        {
            long warm = (long)Math.Round(total * _options.LrWarmupFraction);
            long decay = (long)Math.Round(total * _options.LrDecayFraction);
            if (warm > 0 && step < warm) return _options.Lr * (step + 1) / warm;
            if (decay > 0 && step >= total - decay) return _options.Lr * (total - step) / decay;
            return _options.Lr;
        }

        /// <summary>The sparsity coefficient before warm-up: adapted (a checkpointed buffer) with target_l0, else the option.</summary>
        double BaseCoefficient() => _p.Buffers.TryGetValue(SparsityCoefficientBuffer, out var adapted)
            ? adapted[0].item<double>() : _variant.SparsityCoefficient(_options);

        /// <summary>
        /// With target_l0 = K, one step of <see cref="SparsityTarget"/> on the checkpointed buffer, so a resumed run adapts
        /// exactly as an uninterrupted one. A variant whose penalty counts firings (JumpReLU's L0) lets λ change sign: its
        /// thresholds, once raised, learn only from pre-activations within the kernel window, and as the dictionary
        /// improves the reconstruction alone pushes them up, so a target above the L0 the reconstruction wants needs a
        /// reward for firing.
        /// </summary>
        void AdaptCoefficient(double l0)
        {
            if (_options is not PenalizedSaeOptions { TargetL0: > 0 } penalized) return;
            var state = _p.Buffers[SparsityCoefficientBuffer].data<double>().ToArray();
            long warm = (long)Math.Round(_options.Steps * penalized.SparsityWarmupFraction);
            SparsityTarget.Step(state, l0, penalized.TargetL0, _variant.SparsityCoefficient(_options),
                _variant.SignedSparsityCoefficient, adapting: _step >= warm);
            _p.SetBuffer(SparsityCoefficientBuffer, tensor(state, ScalarType.Float64, _device));
        }

        double Warmup(long step, long total)
        {
            double fraction = _options is PenalizedSaeOptions p ? p.SparsityWarmupFraction : 0;
            long warm = (long)Math.Round(total * fraction);
            return warm > 0 && step < warm ? (double)(step + 1) / warm : 1.0;
        }

        void RemoveParallelGradient()
        {
            var w = _p.DecoderRows;
            var g = w.grad;
            if (g is null) return;
            var parallel = (g * w).sum(1, keepdim: true);
            g.addcmul_(w, parallel, value: MinusOne);
        }

        void NormalizeDecoder()
        {
            var w = _p.DecoderRows;
            w.div_(w.norm(dim: 1, keepdim: true).AtLeast(1e-12));
        }

        void ClipGradients(double maxNorm)
        {
            var grads = _p.Trainable.Select(t => t.Tensor.grad).OfType<Tensor>().ToList();
            if (grads.Count == 0) return;
            var totalNorm = stack(grads.Select(g => g.norm()).ToArray()).norm();
            var factor = maxNorm.Dividing(totalNorm.Plus(1e-6)).AtMost(1.0);
            foreach (var g in grads) g.mul_(factor);
        }

        /// <summary>
        /// The four steps below (parallel-gradient removal, clipping, Adam, renormalisation) in two passes over each
        /// parameter by the CPU kernels, when every parameter, gradient and moment is a float32 CPU tensor. False
        /// (nothing done) otherwise.
        /// </summary>
        bool FusedOptimizerStep(double lr)
        {
            if (!TrainingKernels.Enabled) return false;
            var items = new List<(string Name, Tensor P, Tensor G, Tensor M, Tensor V)>();
            foreach (var (name, p) in _p.Trainable)
            {
                var (m, v) = _adam[name];
                var g = p.grad;
                if (g is null)
                {
                    if (ReferenceEquals(p, _p.DecoderRows) && _variant.UnitNormDecoder) return false;
                    continue;
                }
                if (!CpuKernels.FusedOptimizer.Fits(p, g, m, v)) return false;
                items.Add((name, p, g, m, v));
            }
            if (_variant.UnitNormDecoder && _p.DecoderRows.grad is { } decoderGrad)
                CpuKernels.FusedOptimizer.RemoveParallel(decoderGrad, _p.DecoderRows);
            double factor = 1;
            if (_options.GradClip > 0 && items.Count > 0)
            {
                double total = Math.Sqrt(items.Sum(i => CpuKernels.FusedOptimizer.SumSquares(i.G)));
                factor = Math.Min(_options.GradClip / (total + 1e-6), 1.0);
            }
            double b1 = _options.Beta1, b2 = _options.Beta2;
            long t = _step + 1;
            foreach (var (name, p, g, m, v) in items)
                CpuKernels.FusedOptimizer.Adam(p, g, m, v, (float)factor, lr * LrScale(name), b1, b2, 1 - Math.Pow(b1, t), 1 - Math.Pow(b2, t), 1e-8,
                    normalizeRows: _variant.UnitNormDecoder && ReferenceEquals(p, _p.DecoderRows));
            return true;
        }

        double LrScale(string name) => _variant.LearningRateScale(name, _options);

        void AdamStep(double lr)
        {
            double b1 = _options.Beta1, b2 = _options.Beta2;
            long t = _step + 1;
            double correction1 = 1 - Math.Pow(b1, t);
            using var correction2 = (1 - Math.Pow(b2, t)).ToScalar();
            foreach (var (name, p) in _p.Trainable)
            {
                var g = p.grad;
                if (g is null) continue;
                var (m, v) = _adam[name];
                m.mul_(_beta1).add_(g, alpha: _oneMinusBeta1);
                v.mul_(_beta2).addcmul_(g, g, value: _oneMinusBeta2);
                var denominator = _p.Workspace("adam_denominator." + name, p.shape, p.dtype, p.device);
                denominator.copy_(v).div_(correction2).sqrt_().PlusInPlace(1e-8);
                using var stepSize = (-lr * LrScale(name) / correction1).ToScalar();
                p.addcdiv_(m, denominator, value: stepSize);
            }
        }

        /// <summary>
        /// Dead latents restart towards inputs the SAE reconstructs badly (Bricken et al. 2023): rows are drawn with
        /// probability ∝ squared error²; the decoder row becomes the normalised error of that row, the encoder row the
        /// normalised (centred) input at 0.2 × the mean alive encoder norm, b_enc 0, and their Adam moments reset.
        /// </summary>
        void Resample(TrainingBatch batch, StepOutput output)
        {
            var dead = _rowsSinceFired.ge(_deadAfterRows).nonzero().reshape(-1);
            long count = dead.shape[0];
            if (count == 0) return;
            var errors = batch.Y - output.Reconstruction;
            var weights = errors.Squared().sum(1).Squared();
            if (!(weights.sum().item<float>() > 0)) return;
            using var g = new Generator(unchecked((ulong)_context.Seed * 31 + (ulong)_step), _device);
            var picked = weights.multinomial(count, replacement: true, generator: g);
            var decoderRows = nn.functional.normalize(errors.index_select(0, picked), dim: 1);
            var alive = _rowsSinceFired.lt(_deadAfterRows);
            var encoderNorms = _p.EncoderRows.norm(dim: 1);
            double aliveNorm = alive.any().item<bool>() ? encoderNorms.masked_select(alive).mean().item<float>() : 1.0;
            var inputs = _variant.CentersInput ? batch.X - _p.DecoderBias : batch.X;
            var encoderRows = nn.functional.normalize(inputs.index_select(0, picked), dim: 1).Times(0.2 * aliveNorm);
            double decoderNorm = _variant.UnitNormDecoder ? 1.0 : _p.DecoderRows.norm(dim: 1).masked_select(alive).mean().item<float>();
            _p.DecoderRows.index_copy_(0, dead, decoderRows.Times(decoderNorm));
            _p.EncoderRows.index_copy_(0, dead, encoderRows);
            _p.EncoderBias?.index_fill_(0, dead, Zero);
            foreach (var (name, param) in new[] { ("W_dec", _p.DecoderRows), ("W_enc_T", _p.EncoderRows) }
                .Concat(_p.EncoderBias is null ? [] : new[] { ("b_enc", _p.EncoderBias) }))
            {
                var (m, v) = _adam[name];
                m.index_fill_(0, dead, Zero);
                v.index_fill_(0, dead, Zero);
            }
            _rowsSinceFired.index_fill_(0, dead, Zero);
        }

        // ---- checkpoints ---------------------------------------------------------------------------------

        void SaveCheckpoint()
        {
            using var scope = NewDisposeScope();
            var state = new Dictionary<string, Tensor>();
            foreach (var (name, t) in _p.Trainable)
            {
                state["param." + name] = t;
                state["adam_m." + name] = _adam[name].M;
                state["adam_v." + name] = _adam[name].V;
            }
            foreach (var (name, t) in _p.Buffers) state["buffer." + name] = t;
            state["rows_since_fired"] = _rowsSinceFired;
            state["input_scale"] = _inputScale;
            state["output_scale"] = _outputScale;
            SaeCheckpoint.Save(_options.CheckpointDir, _step, _fingerprint, state);
        }

        /// <summary>Every tensor <see cref="SaveCheckpoint"/> writes for this run, with its dtype and shape.</summary>
        Dictionary<string, (ScalarType Type, long[] Shape)> ExpectedState()
        {
            using var scope = NewDisposeScope();
            var result = new Dictionary<string, (ScalarType, long[])>();
            void Parameter(string name, ScalarType type, params long[] shape)
            {
                foreach (var prefix in new[] { "param.", "adam_m.", "adam_v." }) result[prefix + name] = (type, shape);
            }
            var f32 = ScalarType.Float32;
            Parameter("W_enc_T", f32, _shape.DSae, _shape.DIn);
            if (_variant.HasEncoderBias) Parameter("b_enc", f32, _shape.DSae);
            Parameter("W_dec", f32, _shape.DSae, _shape.DOut);
            Parameter("b_dec", f32, _shape.DOut);
            foreach (var extra in _variant.ExtraParameters(_shape, _options))
            {
                var initial = extra.Initial(_shape);
                Parameter(extra.Name, initial.dtype, initial.shape);
            }
            foreach (var (name, value) in _variant.InitialBuffers(_shape, _options)) result["buffer." + name] = (value.dtype, value.shape);
            if (_options is PenalizedSaeOptions { TargetL0: > 0 }) result["buffer." + SparsityCoefficientBuffer] = (ScalarType.Float64, [4]);
            result["rows_since_fired"] = (ScalarType.Int64, [_shape.DSae]);
            result["input_scale"] = (f32, [_shape.DIn]);
            result["output_scale"] = (f32, [_shape.DOut]);
            return result;
        }

        void Restore(long step, Dictionary<string, Tensor> state)
        {
            Tensor Get(string key) => state.TryGetValue(key, out var t) ? t
                : throw new MechanistInputException($"{_options.CheckpointDir}: checkpoint of step {step} lacks tensor '{key}'.");
            _inputScale = Own(Get("input_scale").to(_device).clone());
            _outputScale = _target is null ? _inputScale : Own(Get("output_scale").to(_device).clone());
            var extraNames = _variant.ExtraParameters(_shape, _options).Select(e => e.Name).ToList();
            _p = new SaeParameters(Get("param.W_enc_T").to(_device), _variant.HasEncoderBias ? Get("param.b_enc").to(_device) : null,
                Get("param.W_dec").to(_device), Get("param.b_dec").to(_device),
                extraNames.ToDictionary(n => n, n => Get("param." + n).to(_device)));
            foreach (var key in state.Keys.Where(k => k.StartsWith("buffer.", StringComparison.Ordinal)))
                _p.SetBuffer(key["buffer.".Length..], state[key].to(_device));
            foreach (var (name, t) in _p.Trainable)
            {
                var m = Get("adam_m." + name);
                if (!m.shape.SequenceEqual(t.shape))
                    throw new MechanistInputException($"{_options.CheckpointDir}: checkpoint tensor 'adam_m.{name}' has shape [{string.Join(", ", m.shape)}], expected [{string.Join(", ", t.shape)}].");
                _adam[name] = (Own(m.to(_device).clone()), Own(Get("adam_v." + name).to(_device).clone()));
            }
            _rowsSinceFired = Own(Get("rows_since_fired").to(_device).clone());
            _step = step;
        }

        // ---- export --------------------------------------------------------------------------------------

        Decomposition Export()
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var inScale = _inputScale.to(CPU);
            var outScale = _outputScale.to(CPU);
            var weights = new SaeWeights(
                WEnc: (_p.EncoderRows.detach().to(CPU) * inScale.unsqueeze(0)).t(),
                BEnc: _p.EncoderBias?.detach().to(CPU),
                WDec: _p.DecoderRows.detach().to(CPU) / outScale.unsqueeze(0),
                BDec: _p.DecoderBias.detach().to(CPU) / outScale,
                Extra: _p.Extra.ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(CPU)),
                Buffers: _p.Buffers.ToDictionary(kv => kv.Key, kv => kv.Value.to(CPU)),
                InputScale: inScale, OutputScale: outScale);
            var result = _variant.Export(weights, _shape, _options);
            var training = new Dictionary<string, object>
            {
                ["steps"] = _step,
                ["batch_size"] = _batchSize,
                ["rows_seen"] = _step * _batchSize,
                ["normalization"] = OptionSchema.FormatValue(_options.Normalization),
                ["activation_scale"] = SiteValues(inScale, _shape.InputSites),
            };
            if (_target is not null) training["target_scale"] = SiteValues(outScale, [_shape.DOut]);
            foreach (var (k, v) in _last) training["final_" + k] = v;
            result.Training = training;
            return result;
        }

        /// <summary>One scale per site (the value its features share).</summary>
        static double[] SiteValues(Tensor scale, IReadOnlyList<int> sites)
        {
            var values = new double[sites.Count];
            long offset = 0;
            for (int i = 0; i < sites.Count; i++)
            {
                values[i] = scale[offset].item<float>();
                offset += sites[i];
            }
            return values;
        }

        // ---- ownership -----------------------------------------------------------------------------------

        Tensor Own(Tensor t)
        {
            var owned = t.DetachFromDisposeScope();
            _owned.Add(owned);
            return owned;
        }

        Tensor MoveOwned(Tensor t, Device device)
        {
            if (t.device == device) return t;
            var moved = Own(t.to(device));
            return moved;
        }

        public void Dispose()
        {
            _p?.Dispose();
            foreach (var t in _owned.Distinct()) t.Dispose();
            foreach (var s in new[] { _deadAfterRows, _batchRows, _beta1, _beta2, _oneMinusBeta1, _oneMinusBeta2 }) s.Dispose();
        }
    }
}
