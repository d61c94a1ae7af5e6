using System.Text.Json.Nodes;
using Mechanist.Models.Architectures;
using Mechanist.Models.Serialization;
using Mechanist.Models.Training;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

public class ModularAdditionTrainerTests
{
    /// <summary>
    /// A reduced setting that still groks within seconds: p = 23, 60% of the pairs, a quarter of the paper's widths,
    /// lr 1e-2 (weight decay 1 as in the paper). Train accuracy reaches 99% within ~30 epochs, held-out accuracy
    /// only after several hundred.
    /// </summary>
    public static readonly ModularAdditionTrainingOptions Grokking = new()
    {
        Model = new ModularAdditionConfig { P = 23, DModel = 64, NHeads = 4, DHead = 16, DMlp = 256 },
        TrainFraction = 0.6, Lr = 1e-2, Epochs = 1000, EvalEvery = 10, CheckpointEvery = 10_000,
    };

    /// <summary>A tiny setting for the checkpoint and resume tests (no need to generalise).</summary>
    static readonly ModularAdditionTrainingOptions Tiny = new()
    {
        Model = new ModularAdditionConfig { P = 11, DModel = 16, NHeads = 2, DHead = 8, DMlp = 32 },
        TrainFraction = 0.5, Lr = 1e-2, Epochs = 60, EvalEvery = 5, CheckpointEvery = 20, Seed = 3,
    };

    sealed class SyncProgress(Action<ProgressReport> report) : IProgress<ProgressReport>
    {
        public void Report(ProgressReport value) => report(value);
    }

    sealed class SimulatedKill : Exception;

    [Fact]
    public void Reduced_setting_groks_test_accuracy_follows_train_accuracy()
    {
        using var temp = new TempDir();
        var folder = temp.File("run");
        var result = ModularAdditionTrainer.Train(folder, Grokking);

        Assert.True(result.Final.TrainAccuracy >= 0.99, $"train accuracy {result.Final.TrainAccuracy}");
        Assert.True(result.Final.TestAccuracy >= 0.99, $"held-out accuracy {result.Final.TestAccuracy}");
        Assert.True(result.Generalised);
        int train99 = result.TrainAccuracy99Epoch!.Value, test99 = result.TestAccuracy99Epoch!.Value;
        Assert.True(test99 >= train99 + 100, $"held-out 99% at epoch {test99}, train 99% at {train99}");
        var log = TrainingLog.Read(Path.Combine(folder, TrainingLog.FileName));
        // Grokking: when the training pairs were fitted, the held-out pairs were far from it.
        var atMemorisation = log.First(r => (int)r["epoch"]! >= train99);
        Assert.True((double)atMemorisation["test_accuracy"]! < 0.9, atMemorisation.ToJsonString());
        Assert.Equal(Enumerable.Range(0, 101).Select(i => i * 10), log.Select(r => (int)r["epoch"]!));

        Assert.Equal(["run", "run/checkpoint.safetensors", "run/config.json", "run/metrics.json", "run/model.safetensors", "run/training_log.jsonl"],
            temp.Entries());
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")))!;
        Assert.Equal(train99, (int)metrics["train_accuracy_99_epoch"]!);
        Assert.Equal(test99, (int)metrics["test_accuracy_99_epoch"]!);
        Assert.Equal(317, (int)metrics["train_pairs"]!);
        Assert.Equal(529 - 317, (int)metrics["test_pairs"]!);

        // The saved model, through the full forward pass (not the training fast path), adds mod 23 on every pair.
        using var model = ModularAdditionTransformer.Load(folder);
        using var tokens = ModularAdditionData.Tokens(23);
        using var labels = ModularAdditionData.Labels(23);
        using var predictions = model.Run(tokens).select(1, 2).argmax(-1);
        Assert.True(predictions.eq(labels).to(ScalarType.Float64).mean().item<double>() >= 0.99);
    }

    static byte[] Weights(string folder) => File.ReadAllBytes(ModelFolderLayout.WeightsPath(folder));

    static List<string> LogWithoutTimes(string folder) =>
        TrainingLog.Read(Path.Combine(folder, TrainingLog.FileName)).Select(r => { r.Remove("seconds"); return r.ToJsonString(); }).ToList();

    static string MetricsWithoutTime(string folder)
    {
        var m = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "metrics.json")))!.AsObject();
        m.Remove("train_seconds");
        ((JsonObject)m["options"]!).Remove("checkpoint_every");
        ((JsonObject)m["options"]!).Remove("eval_every");
        return m.ToJsonString();
    }

    [Fact]
    public void A_killed_run_resumes_bit_for_bit()
    {
        using var temp = new TempDir();
        var straight = temp.File("straight");
        ModularAdditionTrainer.Train(straight, Tiny);

        // Killed at epoch 35: the last checkpoint is epoch 20, and epochs 20-35 are lost and redone.
        var killed = temp.File("killed");
        Assert.Throws<SimulatedKill>(() => ModularAdditionTrainer.Train(killed, Tiny,
            progress: new SyncProgress(r => { if (r.Step == 35) throw new SimulatedKill(); })));
        Assert.False(File.Exists(ModelFolderLayout.WeightsPath(killed)));
        Assert.Equal("20", ReadEpoch(killed));
        Assert.Contains(LogWithoutTimes(killed), r => r.Contains("\"epoch\":35"));
        var resumed = ModularAdditionTrainer.Train(killed, Tiny, resume: true);
        Assert.Equal(20, resumed.ResumedFromEpoch);

        Assert.Equal(Weights(straight), Weights(killed));
        Assert.Equal(LogWithoutTimes(straight), LogWithoutTimes(killed));
        Assert.Equal(MetricsWithoutTime(straight), MetricsWithoutTime(killed));
        Assert.DoesNotContain(temp.Entries(), e => e.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void Cancelling_writes_a_checkpoint_and_a_finished_run_can_be_extended()
    {
        using var temp = new TempDir();
        var straight = temp.File("straight");
        ModularAdditionTrainer.Train(straight, Tiny);

        var cancelled = temp.File("cancelled");
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => ModularAdditionTrainer.Train(cancelled, Tiny,
            progress: new SyncProgress(r => { if (r.Step == 25) cts.Cancel(); }), cancellationToken: cts.Token));
        Assert.Equal("26", ReadEpoch(cancelled));
        ModularAdditionTrainer.Train(cancelled, Tiny, resume: true);
        Assert.Equal(Weights(straight), Weights(cancelled));

        // A run finished at 30 epochs and extended to 60 ends where a 60-epoch run ends.
        var extended = temp.File("extended");
        ModularAdditionTrainer.Train(extended, Tiny with { Epochs = 30 });
        ModularAdditionTrainer.Train(extended, Tiny, resume: true);
        Assert.Equal(Weights(straight), Weights(extended));
        Assert.Equal(LogWithoutTimes(straight), LogWithoutTimes(extended));
        Assert.Equal(MetricsWithoutTime(straight), MetricsWithoutTime(extended));
    }

    static string ReadEpoch(string folder) =>
        IO.Safetensors.ReadHeader(Path.Combine(folder, ModularAdditionTrainer.CheckpointFile)).Metadata["epoch"];

    [Fact]
    public void Output_folder_and_resume_mistakes_are_input_errors()
    {
        using var temp = new TempDir();
        var run = temp.File("run");
        ModularAdditionTrainer.Train(run, Tiny with { Epochs = 10 });

        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(run, Tiny), "holds the checkpoint of an earlier run", "--resume");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(run, Tiny with { Lr = 0.02 }, resume: true),
            "--lr is 0.02", "started with 0.01", "--epochs");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(run, Tiny with { Model = Tiny.Model with { DMlp = 64 } }, resume: true),
            "--d-mlp is 64");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(run, Tiny with { Epochs = 5 }, resume: true),
            "--epochs 5 is below the checkpoint's epoch 10");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(temp.File("none"), Tiny, resume: true),
            "checkpoint.safetensors: file not found", "--resume");

        var other = temp.File("other");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "notes.txt"), "mine");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(other, Tiny), "exists and is not empty");
        Assert.Equal(["notes.txt"], Directory.EnumerateFileSystemEntries(other).Select(Path.GetFileName));

        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(temp.File("a"), Tiny with { TrainFraction = 1.0 }), "--train-fraction");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(temp.File("b"), Tiny with { Epochs = 0 }), "--epochs must be at least 1");
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(temp.File("c"), Tiny with { Model = Tiny.Model with { P = 1 } }), "--p must be at least 2");
        Assert.False(Directory.Exists(temp.File("a")) || Directory.Exists(temp.File("b")) || Directory.Exists(temp.File("c")));

        // A damaged checkpoint is named, and nothing is changed.
        var checkpoint = Path.Combine(run, ModularAdditionTrainer.CheckpointFile);
        var bytes = File.ReadAllBytes(checkpoint);
        File.WriteAllBytes(checkpoint, bytes[..^100]);
        var before = Directory.EnumerateFiles(run).Select(f => (f, File.GetLastWriteTimeUtc(f))).ToList();
        ModelFolderFixtures.AssertRejected(() => ModularAdditionTrainer.Train(run, Tiny, resume: true), checkpoint, "truncated");
        Assert.Equal(before, Directory.EnumerateFiles(run).Select(f => (f, File.GetLastWriteTimeUtc(f))).ToList());
    }
}
