using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Models.Serialization;
using Mechanist.Models.Tasks;
using Mechanist.Models.Text;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Mechanist.Models.Training;

/// <summary>Next-token scores on the held-out sequences at one step.</summary>
/// <param name="Loss">Mean cross-entropy of the next token over every predicted position (nats).</param>
/// <param name="Kl">Mean KL(generator ‖ model) of the next-token distribution: the loss above the generator's entropy, measured exactly.</param>
/// <param name="CloserAccuracy">At positions inside a bracket: the share where the model gives the matching closing bracket more probability than the other one.</param>
public sealed record BracketEvaluation(double Loss, double Kl, double CloserAccuracy);

/// <summary>What a finished run reports (also in <c>metrics.json</c>).</summary>
public sealed record BracketTrainingResult(int Steps, double TrainLoss, BracketEvaluation Final, double EntropyFloor, double TrainSeconds, int ResumedFromStep);

/// <summary>
/// Trains a GPT-2-layout transformer (Hugging Face names, so every command that reads a GPT-2 folder reads it) on
/// the bracket language (<see cref="BracketLanguage"/>): next-token cross-entropy on fresh batches, AdamW with
/// warm-up and cosine decay. The run folder holds, as it goes, <c>checkpoint.safetensors</c> (model, optimizer
/// state, step; written atomically every checkpoint_every steps) and <c>training_log.jsonl</c>; at the end
/// <c>config.json</c> + <c>model.safetensors</c> + <c>vocab.json</c> and <c>metrics.json</c>. Batch s is drawn from
/// a seed derived from (seed, s), so a killed run resumes from its checkpoint bit for bit.
/// </summary>
public static class BracketTrainer
{
    public const string CheckpointFile = "checkpoint.safetensors";
    public const string MetricsFile = "metrics.json";
    public const string CheckpointFormat = "mechanist.checkpoint.brackets.v1";
    public const string TaskName = "brackets";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The GPT-2 configuration of a run.</summary>
    public static Gpt2Config ModelConfig(BracketTrainingOptions o) => new()
    {
        VocabSize = BracketLanguage.VocabSize, NPositions = o.Language.Length, NEmbd = o.DModel, NLayer = o.Layers,
        NHead = o.Heads, NInner = o.DMlp,
    };

    /// <summary>The seed of batch <paramref name="step"/> (a SplitMix64 hash of the run's seed and the step).</summary>
    public static int BatchSeed(int seed, long step) => (int)(Mix(((ulong)(uint)seed << 32) ^ (ulong)step ^ 0x9E3779B97F4A7C15UL) & 0x7FFFFFFF);

    /// <summary>The seed of the held-out sequences, separate from every batch's.</summary>
    public static int EvalSeed(int seed) => (int)(Mix(((ulong)(uint)seed << 32) ^ 0xD1B54A32D192ED03UL) & 0x7FFFFFFF);

    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A fresh run needs a missing or empty folder; a resumed run needs its checkpoint.</summary>
    public static void CheckFolder(string folder, bool resume)
    {
        if (File.Exists(folder)) throw new MechanistInputException($"--out {folder}: is a file; a training run writes a folder.");
        var checkpoint = Path.Combine(folder, CheckpointFile);
        if (resume)
        {
            if (!File.Exists(checkpoint))
                throw new MechanistInputException($"{checkpoint}: file not found; --resume continues the run whose checkpoint is in --out.");
            return;
        }
        if (File.Exists(checkpoint))
            throw new MechanistInputException($"--out {folder}: holds the checkpoint of an earlier run; pass --resume to continue it, or choose another --out.");
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new MechanistInputException($"--out {folder}: exists and is not empty; choose a new folder.");
    }

    public static BracketTrainingOptions ReadCheckpointOptions(string folder)
    {
        var path = Path.Combine(folder, CheckpointFile);
        return ReadOptions(Safetensors.ReadHeader(path), path);
    }

    public static BracketTrainingResult Train(string folder, BracketTrainingOptions options, bool resume = false, Device? device = null,
        IProgress<ProgressReport>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        CheckFolder(folder, resume);
        device ??= CPU;
        var config = ModelConfig(options);
        using var model = Gpt2Model.CreateRandom(config, options.Seed, device);
        var parameters = model.named_parameters().ToList();
        foreach (var (_, p) in parameters) p.requires_grad_(true);
        bool Decays((string Name, Parameter P) p) => p.P.ndim >= 2;
        var settings = new AdamWSettings(options.Lr, options.Beta1, options.Beta2, 1e-8, options.WeightDecay);
        using var decayed = new AdamW(parameters.Where(Decays), settings);
        using var plain = new AdamW(parameters.Where(p => !Decays(p)), settings with { WeightDecay = 0 });

        int startStep = 0;
        double seconds = 0;
        if (resume) (startStep, seconds) = RestoreCheckpoint(folder, options, model, decayed, plain);
        Directory.CreateDirectory(folder);

        var evalSequences = BracketLanguage.Generate(options.EvalSequences, options.Language, EvalSeed(options.Seed));
        double floor = BracketLanguage.EntropyFloor(evalSequences, options.Language.MaxDepth);
        using var evalSet = EvaluationSet.Create(evalSequences, options.Language.MaxDepth, device);

        using var log = TrainingLog.Open(folder, startStep);
        var clock = Stopwatch.StartNew();
        double Seconds() => seconds + clock.Elapsed.TotalSeconds;
        void Checkpoint(int step) => WriteCheckpoint(folder, options, model, decayed, plain, step, Seconds());

        double trainLoss = double.NaN;
        for (int step = startStep; step < options.Steps; step++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                Checkpoint(step);
                cancellationToken.ThrowIfCancellationRequested();
            }
            using var scope = NewDisposeScope();
            var batch = tensor(BracketLanguage.Generate(options.BatchSize, options.Language, BatchSeed(options.Seed, step)).SelectMany(s => s).ToArray())
                .view(options.BatchSize, options.Language.Length).to(device);
            var logits = model.call(batch);
            var loss = NextTokenLoss(logits, batch);
            if (step % options.EvalEvery == 0)
                Record(log, progress, step, options.Steps, loss.item<float>(), Evaluate(model, evalSet), floor, Seconds());
            decayed.ZeroGrad();
            plain.ZeroGrad();
            loss.backward();
            double scale = options.LrScale(step);
            decayed.Step(scale);
            plain.Step(scale);
            trainLoss = loss.item<float>();
            if ((step + 1) % options.CheckpointEvery == 0 && step + 1 < options.Steps) Checkpoint(step + 1);
        }

        var final = Evaluate(model, evalSet);
        Record(log, progress, options.Steps, options.Steps, trainLoss, final, floor, Seconds());
        var result = new BracketTrainingResult(options.Steps, trainLoss, final, floor, Seconds(), startStep);
        WriteModel(folder, model, options);
        Checkpoint(options.Steps);
        AtomicFile.WriteText(Path.Combine(folder, MetricsFile), Metrics(options, result).ToJsonString(Indented) + "\n");
        return result;
    }

    /// <summary>Mean cross-entropy of the next token, every position but the last predicting the one after it.</summary>
    public static Tensor NextTokenLoss(Tensor logits, Tensor tokens)
    {
        long v = logits.shape[^1];
        var predictions = logits.narrow(1, 0, logits.shape[1] - 1).reshape(-1, v);
        var targets = tokens.narrow(1, 1, tokens.shape[1] - 1).reshape(-1);
        return nn.functional.cross_entropy(predictions, targets);
    }

    /// <summary>Held-out sequences with the generator's next-token distribution at every position, for exact scores.</summary>
    public sealed class EvaluationSet : IDisposable
    {
        public required Tensor Tokens { get; init; }          // [E, L] int64
        public required Tensor TrueNext { get; init; }        // [E, L - 1, V] float64: the generator's distribution
        public required Tensor InsideMask { get; init; }      // [E, L - 1] bool: depth > 0
        public required Tensor RightCloser { get; init; }     // [E, L - 1] int64
        public required Tensor WrongCloser { get; init; }     // [E, L - 1] int64

        public static EvaluationSet Create(IReadOnlyList<long[]> sequences, int maxDepth, Device device)
        {
            var concepts = BracketLanguage.Concepts(sequences, maxDepth);
            int e = sequences.Count, l = sequences[0].Length, v = BracketLanguage.VocabSize;
            var p = new double[e * (l - 1) * v];
            var inside = new bool[e * (l - 1)];
            var right = new long[e * (l - 1)];
            var wrong = new long[e * (l - 1)];
            for (int s = 0; s < e; s++)
                for (int i = 0; i + 1 < l; i++)
                {
                    int depth = (int)concepts["depth"][s][i], top = (int)concepts["top"][s][i];
                    BracketLanguage.NextTokenDistribution(depth, top, maxDepth).CopyTo(p, (s * (l - 1) + i) * v);
                    int at = s * (l - 1) + i;
                    inside[at] = depth > 0;
                    right[at] = top == BracketLanguage.TopSquare ? BracketLanguage.CloseSquare : BracketLanguage.CloseRound;
                    wrong[at] = top == BracketLanguage.TopSquare ? BracketLanguage.CloseRound : BracketLanguage.CloseSquare;
                }
            return new EvaluationSet
            {
                Tokens = tensor(sequences.SelectMany(x => x).ToArray()).view(e, l).to(device),
                TrueNext = tensor(p).view(e, l - 1, v).to(device),
                InsideMask = tensor(inside).view(e, l - 1).to(device),
                RightCloser = tensor(right).view(e, l - 1).to(device),
                WrongCloser = tensor(wrong).view(e, l - 1).to(device),
            };
        }

        public void Dispose()
        {
            Tokens.Dispose(); TrueNext.Dispose(); InsideMask.Dispose(); RightCloser.Dispose(); WrongCloser.Dispose();
        }
    }

    /// <summary>Loss, exact KL to the generator and closing-bracket accuracy on the held-out set.</summary>
    public static BracketEvaluation Evaluate(Gpt2Model model, EvaluationSet set)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.call(set.Tokens);
        double loss = NextTokenLoss(logits, set.Tokens).item<float>();
        var logQ = logits.narrow(1, 0, logits.shape[1] - 1).to(ScalarType.Float64).log_softmax(-1);
        var p = set.TrueNext;
        var logP = where(p.gt(0), p.clamp_min(1e-300).log(), zeros_like(p));
        double kl = (p * (logP - logQ)).sum(-1).mean().item<double>();
        var right = logQ.gather(-1, set.RightCloser.unsqueeze(-1)).squeeze(-1);
        var wrong = logQ.gather(-1, set.WrongCloser.unsqueeze(-1)).squeeze(-1);
        var inside = set.InsideMask;
        long n = inside.sum().item<long>();
        double closer = n == 0 ? double.NaN : (right.gt(wrong) & inside).sum().item<long>() / (double)n;
        return new BracketEvaluation(loss, kl, closer);
    }

    static void Record(TrainingLog log, IProgress<ProgressReport>? progress, int step, int total, double trainLoss, BracketEvaluation e, double floor, double seconds)
    {
        log.Append(new JsonObject
        {
            ["epoch"] = step, ["step"] = step, ["train_loss"] = double.IsNaN(trainLoss) ? null : trainLoss, ["eval_loss"] = e.Loss,
            ["eval_kl"] = e.Kl, ["closer_accuracy"] = e.CloserAccuracy, ["entropy_floor"] = floor, ["seconds"] = Math.Round(seconds, 3),
        });
        progress?.Report(new ProgressReport(step, total, new Dictionary<string, double>
        {
            ["train_loss"] = trainLoss, ["eval_loss"] = e.Loss, ["eval_kl"] = e.Kl, ["closer_accuracy"] = e.CloserAccuracy,
            ["entropy_floor"] = floor, ["seconds"] = seconds,
        }));
    }

    /// <summary><c>config.json</c> (Hugging Face GPT-2, with <c>bos_token_id</c>), <c>model.safetensors</c> and <c>vocab.json</c>, each atomically.</summary>
    static void WriteModel(string folder, Gpt2Model model, BracketTrainingOptions options)
    {
        var config = model.Config.ToJson();
        config["bos_token_id"] = BracketLanguage.Bos;
        config["task_specific_params"] = new JsonObject
        {
            [TaskName] = new JsonObject { ["length"] = options.Language.Length, ["max_depth"] = options.Language.MaxDepth },
        };
        using var scope = NewDisposeScope();
        var weights = model.Weights().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());
        Safetensors.Write(Path.Combine(folder, Gpt2Model.WeightsFile), weights, new Dictionary<string, string> { ["format"] = "pt" });
        TokenVocabulary.Write(folder, BracketLanguage.Vocabulary);
        AtomicFile.WriteText(Path.Combine(folder, Gpt2Model.ConfigFile), config.ToJsonString(Indented) + "\n");
    }

    static JsonObject Metrics(BracketTrainingOptions options, BracketTrainingResult r) => new()
    {
        ["task"] = TaskName,
        ["steps"] = r.Steps,
        ["train_loss"] = double.IsNaN(r.TrainLoss) ? null : r.TrainLoss,
        ["eval_loss"] = r.Final.Loss,
        ["eval_kl"] = r.Final.Kl,
        ["entropy_floor"] = r.EntropyFloor,
        ["closer_accuracy"] = r.Final.CloserAccuracy,
        ["train_seconds"] = Math.Round(r.TrainSeconds, 1),
        ["options"] = options.ToJson(),
        ["definitions"] = new JsonObject
        {
            ["train_loss"] = "next-token cross-entropy (nats) of the last training batch, before its update",
            ["eval_loss"] = "mean next-token cross-entropy (nats) over every predicted position of eval_sequences held-out sequences",
            ["entropy_floor"] = "mean entropy (nats) of the generator's next-token distribution at the same positions: the lowest eval_loss can be in expectation",
            ["eval_kl"] = "mean KL(generator || model) of the next-token distribution (nats), computed exactly from the generator's distribution at each position",
            ["closer_accuracy"] = "at positions with depth > 0: share where the model's probability of the closing bracket matching the innermost open one exceeds that of the other closing bracket",
            ["batches"] = "batch s holds batch_size fresh sequences drawn with a seed hashed from (seed, s); held-out sequences use their own seed",
        },
    };

    static void WriteCheckpoint(string folder, BracketTrainingOptions options, Gpt2Model model, AdamW decayed, AdamW plain, int step, double seconds)
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, value) in model.named_parameters()) tensors[$"model.{name}"] = value.detach().cpu();
        foreach (var (name, value) in decayed.StateTensors()) tensors[$"optimizer.decay.{name}"] = value.detach().cpu();
        foreach (var (name, value) in plain.StateTensors()) tensors[$"optimizer.plain.{name}"] = value.detach().cpu();
        Safetensors.Write(Path.Combine(folder, CheckpointFile), tensors, new Dictionary<string, string>
        {
            ["format"] = CheckpointFormat,
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
            ["optimizer_step"] = decayed.StepCount.ToString(CultureInfo.InvariantCulture),
            ["options"] = options.ToJson().ToJsonString(),
            ["train_seconds"] = seconds.ToString("R", CultureInfo.InvariantCulture),
        });
    }

    static BracketTrainingOptions ReadOptions(Safetensors.Header header, string path)
    {
        if (!header.Metadata.TryGetValue("format", out var format) || format != CheckpointFormat)
            throw new MechanistInputException($"{path}: not a bracket-language training checkpoint (metadata 'format' is {(format is null ? "missing" : $"'{format}'")}, expected '{CheckpointFormat}').");
        try
        {
            return header.Metadata.TryGetValue("options", out var text) && JsonNode.Parse(text) is JsonObject o
                ? BracketTrainingOptions.FromJson(o, path)
                : throw new MechanistInputException($"{path}: checkpoint metadata 'options' is missing or not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new MechanistInputException($"{path}: checkpoint metadata 'options' is not valid JSON ({e.Message}).", e);
        }
    }

    /// <summary>Checks, before anything is written, that <paramref name="options"/> may continue the run in <paramref name="folder"/>.</summary>
    public static int CheckResume(string folder, BracketTrainingOptions options)
    {
        var path = Path.Combine(folder, CheckpointFile);
        var header = Safetensors.ReadHeader(path);
        var (given, stored) = (options.ToJson(), ReadOptions(header, path).ToJson());
        foreach (var (key, value) in stored)
        {
            if (BracketTrainingOptions.Adjustable.Contains(key)) continue;
            if (!JsonNode.DeepEquals(value, given[key]))
                throw new MechanistInputException(
                    $"--{key.Replace('_', '-')} is {given[key]?.ToJsonString()} but the run in {folder} was started with {value?.ToJsonString()}; " +
                    $"a resumed run keeps every setting except {string.Join(", ", BracketTrainingOptions.Adjustable.Select(a => "--" + a.Replace('_', '-')))}.");
        }
        int step = header.Metadata.TryGetValue("step", out var s) && int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
            : throw new MechanistInputException($"{path}: checkpoint metadata 'step' is missing or not a non-negative integer.");
        if (step > options.Steps)
            throw new MechanistInputException($"--steps {options.Steps} is below the checkpoint's step {step} in {folder}; a run cannot be shortened.");
        return step;
    }

    static (int Step, double Seconds) RestoreCheckpoint(string folder, BracketTrainingOptions options, Gpt2Model model, AdamW decayed, AdamW plain)
    {
        var path = Path.Combine(folder, CheckpointFile);
        int step = CheckResume(folder, options);
        var header = Safetensors.ReadHeader(path);
        var modelState = model.named_parameters().ToDictionary(p => p.name, p => zeros_like(p.parameter, device: CPU));
        var decayState = decayed.StateTensors().ToDictionary(s => s.Name, s => zeros_like(s.Value, device: CPU));
        var plainState = plain.StateTensors().ToDictionary(s => s.Name, s => zeros_like(s.Value, device: CPU));
        try
        {
            var expected = modelState.Select(kv => new ExpectedTensor($"model.{kv.Key}", kv.Value, "the model's shape"))
                .Concat(decayState.Select(kv => new ExpectedTensor($"optimizer.decay.{kv.Key}", kv.Value, "the parameter's shape")))
                .Concat(plainState.Select(kv => new ExpectedTensor($"optimizer.plain.{kv.Key}", kv.Value, "the parameter's shape")))
                .ToList();
            WeightFile.Load(path, expected);
            using (no_grad())
                foreach (var (name, p) in model.named_parameters()) p.copy_(modelState[name]);
            decayed.LoadState(step, decayState);
            plain.LoadState(step, plainState);
        }
        finally
        {
            foreach (var t in modelState.Values.Concat(decayState.Values).Concat(plainState.Values)) t.Dispose();
        }
        double seconds = header.Metadata.TryGetValue("train_seconds", out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var sec) ? sec : 0;
        return (step, seconds);
    }
}
