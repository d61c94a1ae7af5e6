using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Models.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Models.Training;

/// <summary>Loss and accuracy on the training and held-out pairs at one epoch.</summary>
public sealed record ModularAdditionEvaluation(double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy);

/// <summary>What a finished run reports (also written to <c>metrics.json</c>).</summary>
/// <param name="TrainAccuracy99Epoch">First epoch whose parameters reach ≥ 99% accuracy on the training pairs (every epoch is measured).</param>
/// <param name="TestAccuracy99Epoch">First evaluated epoch (a multiple of eval_every, or the last) with ≥ 99% held-out accuracy.</param>
/// <param name="TrainSeconds">Wall time spent training, summed over resumed segments (time after a run's last checkpoint before a kill is not counted).</param>
public sealed record ModularAdditionResult(
    int Epochs, int TrainPairs, int TestPairs, ModularAdditionEvaluation Final, int? TrainAccuracy99Epoch, int? TestAccuracy99Epoch,
    double TrainSeconds, int ResumedFromEpoch)
{
    /// <summary>Held-out accuracy reached 99% and stayed there at the end.</summary>
    public bool Generalised => TestAccuracy99Epoch is not null && Final.TestAccuracy >= ModularAdditionTrainer.Threshold;
}

/// <summary>
/// Trains <see cref="ModularAdditionTransformer"/> on modular addition (Nanda et al. 2023): full-batch AdamW on a
/// seeded fraction of the p² pairs, cross-entropy (in float64) on the logits at the "=" position, computed by the
/// model's last-position fast path. The run folder holds, as it goes, <c>checkpoint.safetensors</c> (model,
/// optimizer state, split, epoch and progress; written atomically every checkpoint_every epochs) and
/// <c>training_log.jsonl</c>; at the end, <c>config.json</c> + <c>model.safetensors</c> and <c>metrics.json</c>.
/// A killed run resumes from its checkpoint bit for bit: full-batch training draws no random numbers after the
/// initialisation and the split, both of which the checkpoint carries.
/// </summary>
public static class ModularAdditionTrainer
{
    public const string CheckpointFile = "checkpoint.safetensors";
    public const string MetricsFile = "metrics.json";
    public const string CheckpointFormat = "mechanist.checkpoint.modular-addition.v1";
    public const double Threshold = 0.99;

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    sealed record ProgressState(int Epoch, int? Train99, int? Test99, double Seconds);

    /// <summary>
    /// Checks the run folder before anything is written: a fresh run needs a missing or empty folder, a resumed
    /// run needs its checkpoint.
    /// </summary>
    public static void CheckFolder(string folder, bool resume)
    {
        if (File.Exists(folder))
            throw new MechanistInputException($"--out {folder}: is a file; a training run writes a folder.");
        var checkpoint = Path.Combine(folder, CheckpointFile);
        if (resume)
        {
            if (!File.Exists(checkpoint))
                throw new MechanistInputException($"{checkpoint}: file not found; --resume continues the run whose checkpoint is in --out.");
            return;
        }
        if (File.Exists(checkpoint))
            throw new MechanistInputException(
                $"--out {folder}: holds the checkpoint of an earlier run; pass --resume to continue it, or choose another --out.");
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new MechanistInputException($"--out {folder}: exists and is not empty; choose a new folder.");
    }

    /// <summary>The options recorded in the checkpoint of <paramref name="folder"/>.</summary>
    public static ModularAdditionTrainingOptions ReadCheckpointOptions(string folder)
    {
        var path = Path.Combine(folder, CheckpointFile);
        return ReadOptions(Safetensors.ReadHeader(path), path);
    }

    /// <summary>
    /// Runs (or, with <paramref name="resume"/>, continues) training into <paramref name="folder"/>. A resumed run
    /// must use the checkpoint's options except those in <see cref="ModularAdditionTrainingOptions.Adjustable"/>.
    /// Cancelling writes a checkpoint at the current epoch, then throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public static ModularAdditionResult Train(string folder, ModularAdditionTrainingOptions options, bool resume = false,
        Device? device = null, IProgress<ProgressReport>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        CheckFolder(folder, resume);
        device ??= CPU;
        if (resume) RequireRoomFor(folder, options);
        var config = options.Model;
        int p = config.P, nTrain = ModularAdditionData.TrainCount(p, options.TrainFraction), nTest = p * p - nTrain;

        using var model = ModularAdditionTransformer.Create(config, options.Seed, device);
        var trainable = model.Weights.Where(w => options.TrainBiases || !ModularAdditionTransformer.IsBias(w.Name)).ToList();
        foreach (var (name, value) in model.Weights)
            if (ModularAdditionTransformer.IsBias(name)) value.requires_grad_(options.TrainBiases);
        using var adam = new AdamW(trainable, new AdamWSettings(options.Lr, options.Beta1, options.Beta2, 1e-8, options.WeightDecay));
        using var permutation = ModularAdditionData.SplitPermutation(p, options.Seed + 1);
        var state = new ProgressState(0, null, null, 0);
        if (resume) state = RestoreCheckpoint(folder, options, model, adam, permutation);
        int resumedFrom = state.Epoch;

        Directory.CreateDirectory(folder);
        using var allTokens = ModularAdditionData.Tokens(p, device);
        using var allLabels = ModularAdditionData.Labels(p, device);
        using var perm = permutation.to(device);
        using var trainIdx = perm.narrow(0, 0, nTrain);
        using var testIdx = perm.narrow(0, nTrain, nTest);
        using var trainTokens = allTokens.index_select(0, trainIdx);
        using var trainLabels = allLabels.index_select(0, trainIdx);
        using var testTokens = allTokens.index_select(0, testIdx);
        using var testLabels = allLabels.index_select(0, testIdx);

        using var log = TrainingLog.Open(folder, state.Epoch);
        var clock = Stopwatch.StartNew();
        double Seconds() => state.Seconds + clock.Elapsed.TotalSeconds;
        void Checkpoint(int epoch) => WriteCheckpoint(folder, options, model, adam, permutation, state with { Epoch = epoch, Seconds = Seconds() });

        int? train99 = state.Train99, test99 = state.Test99;
        for (int epoch = state.Epoch; epoch < options.Epochs; epoch++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                state = state with { Train99 = train99, Test99 = test99 };
                Checkpoint(epoch);
                cancellationToken.ThrowIfCancellationRequested();
            }
            using var scope = NewDisposeScope();
            var logits = model.LastPositionLogits(trainTokens);
            var loss = nn.functional.cross_entropy(logits.to(ScalarType.Float64), trainLabels);
            double trainAccuracy = logits.argmax(-1).eq(trainLabels).sum().item<long>() / (double)nTrain;
            if (train99 is null && trainAccuracy >= Threshold) train99 = epoch;
            if (epoch % options.EvalEvery == 0)
            {
                var (testLoss, testAccuracy) = Evaluate(model, testTokens, testLabels);
                if (test99 is null && testAccuracy >= Threshold) test99 = epoch;
                var evaluation = new ModularAdditionEvaluation(loss.item<double>(), trainAccuracy, testLoss, testAccuracy);
                Record(log, progress, epoch, options.Epochs, evaluation, Seconds(), Source(folder, resume));
            }
            adam.ZeroGrad();
            loss.backward();
            adam.Step();
            state = state with { Train99 = train99, Test99 = test99 };
            if ((epoch + 1) % options.CheckpointEvery == 0 && epoch + 1 < options.Epochs) Checkpoint(epoch + 1);
        }

        var (finalTrainLoss, finalTrainAccuracy) = Evaluate(model, trainTokens, trainLabels);
        var (finalTestLoss, finalTestAccuracy) = Evaluate(model, testTokens, testLabels);
        var final = new ModularAdditionEvaluation(finalTrainLoss, finalTrainAccuracy, finalTestLoss, finalTestAccuracy);
        if (train99 is null && finalTrainAccuracy >= Threshold) train99 = options.Epochs;
        if (test99 is null && finalTestAccuracy >= Threshold) test99 = options.Epochs;
        Record(log, progress, options.Epochs, options.Epochs, final, Seconds(), Source(folder, resume));
        state = state with { Epoch = options.Epochs, Train99 = train99, Test99 = test99 };

        var result = new ModularAdditionResult(options.Epochs, nTrain, nTest, final, train99, test99, Seconds(), resumedFrom);
        model.WriteInto(folder);
        Checkpoint(options.Epochs);
        AtomicFile.WriteText(Path.Combine(folder, MetricsFile), Metrics(options, result).ToJsonString(Indented) + "\n");
        return result;
    }

    /// <summary>Loss (mean cross-entropy, float64) and accuracy of the last-position predictions.</summary>
    public static (double Loss, double Accuracy) Evaluate(ModularAdditionTransformer model, Tensor tokens, Tensor labels)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logits = model.LastPositionLogits(tokens);
        double loss = nn.functional.cross_entropy(logits.to(ScalarType.Float64), labels).item<double>();
        double accuracy = logits.argmax(-1).eq(labels).sum().item<long>() / (double)labels.shape[0];
        return (loss, accuracy);
    }

    /// <summary>What a diverged run blames: the checkpoint it resumed from, or the run's settings.</summary>
    static string Source(string folder, bool resume) => resume
        ? $"{Path.Combine(folder, CheckpointFile)}: the run resumed from this checkpoint diverged; its weights or optimizer state are corrupt"
        : $"--out {folder}: the run diverged; lower --lr";

    static void Record(TrainingLog log, IProgress<ProgressReport>? progress, int epoch, int total, ModularAdditionEvaluation e, double seconds, string source)
    {
        foreach (var (name, value) in new[] { ("train loss", e.TrainLoss), ("test loss", e.TestLoss), ("train accuracy", e.TrainAccuracy), ("test accuracy", e.TestAccuracy) })
            if (!double.IsFinite(value))
                throw new MechanistInputException($"{source} (the {name} at epoch {epoch} is {value.ToString(CultureInfo.InvariantCulture)}).");
        log.Append(new JsonObject
        {
            ["epoch"] = epoch, ["train_loss"] = e.TrainLoss, ["train_accuracy"] = e.TrainAccuracy,
            ["test_loss"] = e.TestLoss, ["test_accuracy"] = e.TestAccuracy, ["seconds"] = Math.Round(seconds, 3),
        });
        progress?.Report(new ProgressReport(epoch, total, new Dictionary<string, double>
        {
            ["train_loss"] = e.TrainLoss, ["train_accuracy"] = e.TrainAccuracy, ["test_loss"] = e.TestLoss,
            ["test_accuracy"] = e.TestAccuracy, ["seconds"] = seconds,
        }));
    }

    static JsonObject Metrics(ModularAdditionTrainingOptions options, ModularAdditionResult r) => new()
    {
        ["task"] = ModularAdditionTransformer.ModelTypeId,
        ["epochs"] = r.Epochs,
        ["train_pairs"] = r.TrainPairs,
        ["test_pairs"] = r.TestPairs,
        ["final"] = new JsonObject
        {
            ["train_loss"] = r.Final.TrainLoss, ["train_accuracy"] = r.Final.TrainAccuracy,
            ["test_loss"] = r.Final.TestLoss, ["test_accuracy"] = r.Final.TestAccuracy,
        },
        ["train_accuracy_99_epoch"] = r.TrainAccuracy99Epoch,
        ["test_accuracy_99_epoch"] = r.TestAccuracy99Epoch,
        ["generalised"] = r.Generalised,
        ["train_seconds"] = Math.Round(r.TrainSeconds, 1),
        ["options"] = options.ToJson(),
        ["definitions"] = new JsonObject
        {
            ["epoch"] = "number of full-batch AdamW steps taken; metrics at epoch e are those of the parameters after e steps",
            ["loss"] = "mean cross-entropy of the logits at the '=' position against (a + b) mod p, computed in float64",
            ["accuracy"] = "fraction of pairs whose argmax logit at the '=' position is (a + b) mod p",
            ["train_accuracy_99_epoch"] = "first epoch with train accuracy >= 0.99 (measured every epoch)",
            ["test_accuracy_99_epoch"] = "first evaluated epoch (every eval_every epochs, and the last) with held-out accuracy >= 0.99",
            ["generalised"] = "test_accuracy_99_epoch is set and the final held-out accuracy is >= 0.99",
            ["train_seconds"] = "wall time spent training, summed over resumed segments",
            ["split"] = "a permutation of the p^2 pairs drawn with seed + 1; the first floor(train_fraction * p^2) train",
        },
    };

    /// <summary>
    /// Before anything is allocated for a resumed run: its checkpoint must be large enough to hold the model, and the
    /// split of the p² pairs (8 bytes each) that <paramref name="options"/> describe.
    /// </summary>
    static void RequireRoomFor(string folder, ModularAdditionTrainingOptions options)
    {
        int p = options.Model.P;
        var weights = options.Model.ParameterCount;
        long? elements = weights is long w ? WeightFile.CountElements([w], [2, (long)p * p]) : null;
        WeightFile.RequireRoomFor(Path.Combine(folder, CheckpointFile), elements, 4, $"{Path.Combine(folder, CheckpointFile)}: options");
    }

    static void WriteCheckpoint(string folder, ModularAdditionTrainingOptions options, ModularAdditionTransformer model, AdamW adam,
        Tensor permutation, ProgressState state)
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, value) in model.Weights) tensors[$"model.{name}"] = value.detach().cpu();
        foreach (var (name, value) in adam.StateTensors()) tensors[$"optimizer.{name}"] = value.detach().cpu();
        tensors["data.permutation"] = permutation.cpu();
        Safetensors.Write(Path.Combine(folder, CheckpointFile), tensors, new Dictionary<string, string>
        {
            ["format"] = CheckpointFormat,
            ["epoch"] = state.Epoch.ToString(CultureInfo.InvariantCulture),
            ["optimizer_step"] = adam.StepCount.ToString(CultureInfo.InvariantCulture),
            ["options"] = options.ToJson().ToJsonString(),
            ["progress"] = new JsonObject
            {
                ["train_accuracy_99_epoch"] = state.Train99, ["test_accuracy_99_epoch"] = state.Test99, ["train_seconds"] = state.Seconds,
            }.ToJsonString(),
        });
    }

    static ModularAdditionTrainingOptions ReadOptions(Safetensors.Header header, string path)
    {
        if (!header.Metadata.TryGetValue("format", out var format) || format != CheckpointFormat)
            throw new MechanistInputException($"{path}: not a modular-addition training checkpoint (metadata 'format' is {(format is null ? "missing" : $"'{format}'")}, expected '{CheckpointFormat}').");
        return ModularAdditionTrainingOptions.FromJson(ParseObject(header, path, "options"), path);
    }

    static JsonObject ParseObject(Safetensors.Header header, string path, string key)
    {
        return header.Metadata.TryGetValue(key, out var text)
            ? JsonFile.ParseObject(text, $"{path}: checkpoint metadata '{key}'")
            : throw new MechanistInputException($"{path}: checkpoint metadata '{key}' is missing or not a JSON object.");
    }

    static int MetadataInt(Safetensors.Header header, string path, string key) =>
        header.Metadata.TryGetValue(key, out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
            : throw new MechanistInputException($"{path}: checkpoint metadata '{key}' is missing or not a non-negative integer.");

    /// <summary>
    /// Checks, before anything is written, that <paramref name="options"/> may continue the run whose checkpoint
    /// is in <paramref name="folder"/>: same settings except the adjustable ones, and no fewer epochs than done.
    /// </summary>
    public static void CheckResume(string folder, ModularAdditionTrainingOptions options)
    {
        var path = Path.Combine(folder, CheckpointFile);
        CheckResume(folder, options, Safetensors.ReadHeader(path), path);
    }

    static (int Epoch, int Step) CheckResume(string folder, ModularAdditionTrainingOptions options, Safetensors.Header header, string path)
    {
        var saved = ReadOptions(header, path);
        var (given, stored) = (options.ToJson(), saved.ToJson());
        foreach (var (key, value) in stored)
        {
            if (ModularAdditionTrainingOptions.Adjustable.Contains(key)) continue;
            if (!JsonNode.DeepEquals(value, given[key]))
                throw new MechanistInputException(
                    $"--{key.Replace('_', '-')} is {given[key]?.ToJsonString()} but the run in {folder} was started with {value?.ToJsonString()}; " +
                    $"a resumed run keeps every setting except {string.Join(", ", ModularAdditionTrainingOptions.Adjustable.Select(a => "--" + a.Replace('_', '-')))}.");
        }
        int epoch = MetadataInt(header, path, "epoch");
        int step = MetadataInt(header, path, "optimizer_step");
        if (step != epoch)
            throw new MechanistInputException($"{path}: checkpoint metadata 'optimizer_step' ({step}) differs from 'epoch' ({epoch}); the file is inconsistent.");
        if (epoch > options.Epochs)
            throw new MechanistInputException($"--epochs {options.Epochs} is below the checkpoint's epoch {epoch} in {folder}; a run cannot be shortened.");
        return (epoch, step);
    }

    static ProgressState RestoreCheckpoint(string folder, ModularAdditionTrainingOptions options, ModularAdditionTransformer model, AdamW adam, Tensor permutation)
    {
        var path = Path.Combine(folder, CheckpointFile);
        var header = Safetensors.ReadHeader(path);
        var (epoch, step) = CheckResume(folder, options, header, path);
        var progress = ParseObject(header, path, "progress");

        var adamState = adam.StateTensors().ToDictionary(s => s.Name, s => zeros_like(s.Value, device: CPU));
        var modelState = model.Weights.ToDictionary(w => w.Name, w => zeros_like(w.Value, device: CPU));
        using var perm = zeros(permutation.shape, ScalarType.Int64);
        try
        {
            var expected = modelState.Select(kv => new ExpectedTensor($"model.{kv.Key}", kv.Value, "the model's shape"))
                .Concat(adamState.Select(kv => new ExpectedTensor($"optimizer.{kv.Key}", kv.Value, "the parameter's shape")))
                .Append(new ExpectedTensor("data.permutation", perm, "p^2"))
                .ToList();
            WeightFile.Load(path, expected);
            using (NewDisposeScope())
            {
                if (!perm.sort().Values.equal(arange(perm.shape[0], ScalarType.Int64)).all().item<bool>())
                    throw new MechanistInputException($"{path}: tensor 'data.permutation' is not a permutation of 0 … {perm.shape[0] - 1}.");
            }
            model.LoadWeights(modelState);
            adam.LoadState(step, adamState);
            permutation.copy_(perm);
        }
        finally
        {
            foreach (var t in adamState.Values.Concat(modelState.Values)) t.Dispose();
        }
        int? Epoch(string key) => progress[key] is JsonValue v && v.TryGetValue<int>(out var e) ? e : null;
        double seconds = progress["train_seconds"] is JsonValue s && s.TryGetValue<double>(out var sec) ? sec : 0;
        return new ProgressState(epoch, Epoch("train_accuracy_99_epoch"), Epoch("test_accuracy_99_epoch"), seconds);
    }
}
