using System.Globalization;
using Mechanist.IO;
using Mechanist.Models.Architectures;
using Mechanist.Models.Training;

namespace Mechanist.Fuzzing.Targets;

/// <summary>
/// A modular-addition training checkpoint (<c>checkpoint.safetensors</c>: model, optimizer state, split, options and
/// progress in the metadata) resumed for one more epoch with the options it records.
/// </summary>
public sealed class TrainingCheckpointTarget : FuzzTarget
{
    public override string Name => "training-checkpoint";

    public override string Summary => "modular-addition training checkpoints (ModularAdditionTrainer.ReadCheckpointOptions, Train --resume)";

    public override IReadOnlyList<string> Files => [ModularAdditionTrainer.CheckpointFile];

    public override void Run(FuzzInput input)
    {
        var options = ModularAdditionTrainer.ReadCheckpointOptions(input.Folder);
        // One epoch past the checkpoint's (when its metadata says which); the reader judges the rest.
        var header = Safetensors.ReadHeader(input.Path);
        if (header.Metadata.TryGetValue("epoch", out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch) && epoch < int.MaxValue)
            options = options with { Epochs = epoch + 1, EvalEvery = 1 };
        var result = ModularAdditionTrainer.Train(input.Folder, options, resume: true);
        Check.That(result.Epochs == options.Epochs, $"trained to epoch {result.Epochs}, asked {options.Epochs}");
    }

    public override IEnumerable<Seed> Seeds(SeedContext context)
    {
        foreach (var (name, options) in new[]
        {
            ("p5", new ModularAdditionTrainingOptions { Model = new ModularAdditionConfig { P = 5, DModel = 4, NHeads = 2, DHead = 2, DMlp = 8 }, Epochs = 2, CheckpointEvery = 1, TrainFraction = 0.5 }),
            ("p3-gelu-biases", new ModularAdditionTrainingOptions { Model = new ModularAdditionConfig { P = 3, DModel = 2, NHeads = 1, DHead = 2, DMlp = 3, ActFn = "gelu" }, Epochs = 1, CheckpointEvery = 1, TrainFraction = 0.5, TrainBiases = true }),
        })
        {
            var folder = Path.Combine(context.NewFolder("training"), name);
            ModularAdditionTrainer.Train(folder, options);
            yield return new(name, [File.ReadAllBytes(Path.Combine(folder, ModularAdditionTrainer.CheckpointFile))]);
        }
    }

    public override IEnumerable<string> Dictionary =>
    [
        "\"format\"", "\"mechanist.checkpoint.modular-addition.v1\"", "\"epoch\"", "\"optimizer_step\"", "\"options\"", "\"progress\"",
        "\\\"p\\\"", "\\\"d_model\\\"", "\\\"n_heads\\\"", "\\\"d_head\\\"", "\\\"d_mlp\\\"", "\\\"act_fn\\\"", "\\\"train_fraction\\\"",
        "\\\"epochs\\\"", "\\\"lr\\\"", "\\\"weight_decay\\\"", "\\\"seed\\\"", "\\\"train_biases\\\"", "\\\"train_seconds\\\"",
        "\"model.W_E\"", "\"optimizer.\"", "\"data.permutation\"", "\"F32\"", "\"I64\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"",
        "0", "-1", "46341", "2147483647", "1e400", "NaN",
    ];
}
