using System.Globalization;
using Mechanist.Cli.CommandLine;
using Mechanist.Models.Architectures;
using Mechanist.Models.Training;

namespace Mechanist.Cli.Commands;

/// <summary><c>mechanist train modular-addition</c>: the grokking run of Nanda et al. (2023), checkpointed and resumable.</summary>
public sealed class TrainModularAdditionCommand : ICommand
{
    public string Name => "train modular-addition";
    public string Summary => "train the one-layer modular-addition transformer until it groks (checkpoints; --resume continues a killed run)";
    public string Usage => "--out DIR [--seed S] [--epochs N] [--p P] [--train-fraction F] [--lr LR] [--weight-decay WD] [--checkpoint-every N] [--resume]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        CommonOptions.Out,
        new("epochs", "full-batch epochs (default 25000)", ValueName: "N"),
        new("p", "the modulus (default 113)", ValueName: "P"),
        new("train-fraction", "fraction of the p^2 pairs used for training (default 0.3)", ValueName: "F"),
        new("lr", "AdamW learning rate (default 0.001)", ValueName: "LR"),
        new("weight-decay", "AdamW weight decay (default 1)", ValueName: "WD"),
        new("beta1", "AdamW beta1 (default 0.9)", ValueName: "B1"),
        new("beta2", "AdamW beta2 (default 0.98)", ValueName: "B2"),
        new("d-model", "residual width (default 128)", ValueName: "D"),
        new("n-heads", "attention heads (default 4)", ValueName: "H"),
        new("d-head", "width of each head (default d_model / n_heads)", ValueName: "E"),
        new("d-mlp", "MLP width (default 512)", ValueName: "M"),
        new("train-biases", "train the biases too (the paper freezes them at zero)", TakesValue: false),
        new("checkpoint-every", "write a checkpoint every N epochs (default 500)", ValueName: "N"),
        new("eval-every", "evaluate the held-out pairs and log every N epochs (default 10)", ValueName: "N"),
        new("resume", "continue the run whose checkpoint is in --out (settings other than --epochs, --checkpoint-every and --eval-every must match)", TakesValue: false),
        CommonOptions.Seed, CommonOptions.Device, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var folder = args.Require("out");
        bool resume = args.Has("resume");
        var device = CommonOptions.ParseDevice(args);
        ModularAdditionTrainer.CheckFolder(folder, resume);
        var start = resume ? ModularAdditionTrainer.ReadCheckpointOptions(folder) : new ModularAdditionTrainingOptions();
        var options = Apply(args, start);
        options.Validate();
        if (resume) ModularAdditionTrainer.CheckResume(folder, options);

        MallocTuning.ConfigureForTraining();
        // Ctrl-C and SIGTERM stop at the next epoch boundary after writing a checkpoint (a second signal is not intercepted).
        using var stop = new StopSignals();
        try
        {
            var m = options.Model;
            env.Error.WriteLine(
                $"{(resume ? "resuming" : "training")} modular addition mod {m.P}: d_model {m.DModel}, {m.NHeads} heads of {m.DHead}, d_mlp {m.DMlp}; " +
                $"{ModularAdditionData.TrainCount(m.P, options.TrainFraction)} of {m.P * m.P} pairs train; {options.Epochs} epochs into {Path.GetFullPath(folder)}");
            var result = ModularAdditionTrainer.Train(folder, options, resume, device, Progress(env.Error), stop.Token);
            var f = result.Final;
            env.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {result.Epochs}: train loss {f.TrainLoss:G4} accuracy {f.TrainAccuracy:P2}, test loss {f.TestLoss:G4} accuracy {f.TestAccuracy:P2}"));
            env.Out.WriteLine(
                $"train accuracy >= 99% from epoch {Show(result.TrainAccuracy99Epoch)}, test accuracy >= 99% from epoch {Show(result.TestAccuracy99Epoch)}" +
                $"{(result.Generalised ? " (grokked)" : " (not generalised yet: train longer with --resume --epochs N)")}");
            env.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.TrainSeconds:F1} s; wrote {Path.GetFullPath(folder)}"));
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (stop.Requested)
        {
            env.Error.WriteLine($"mechanist: interrupted; checkpoint written to {Path.Combine(Path.GetFullPath(folder), ModularAdditionTrainer.CheckpointFile)} (continue with --resume).");
            return 130;
        }
    }

    static string Show(int? epoch) => epoch?.ToString(CultureInfo.InvariantCulture) ?? "never";

    /// <summary>The options given on the command line, on top of the defaults or the checkpoint's.</summary>
    static ModularAdditionTrainingOptions Apply(ParsedArguments args, ModularAdditionTrainingOptions o)
    {
        var m = o.Model;
        int dModel = args.GetInt("d-model", m.DModel), nHeads = args.GetInt("n-heads", m.NHeads);
        bool shapeGiven = args.Has("d-model") || args.Has("n-heads");
        if (shapeGiven && !args.Has("d-head") && (nHeads < 1 || dModel % nHeads != 0))
            throw new UsageException($"--d-model {dModel} is not divisible by --n-heads {nHeads}; give --d-head explicitly.");
        int dHead = args.GetInt("d-head", shapeGiven ? dModel / Math.Max(1, nHeads) : m.DHead);
        return o with
        {
            Model = m with { P = args.GetInt("p", m.P), DModel = dModel, NHeads = nHeads, DHead = dHead, DMlp = args.GetInt("d-mlp", m.DMlp) },
            Epochs = args.GetInt("epochs", o.Epochs),
            TrainFraction = args.GetDouble("train-fraction", o.TrainFraction),
            Lr = args.GetDouble("lr", o.Lr),
            WeightDecay = args.GetDouble("weight-decay", o.WeightDecay),
            Beta1 = args.GetDouble("beta1", o.Beta1),
            Beta2 = args.GetDouble("beta2", o.Beta2),
            Seed = args.Has("seed") ? CommonOptions.ParseSeed(args) : o.Seed,
            TrainBiases = args.Has("train-biases") || o.TrainBiases,
            CheckpointEvery = args.GetInt("checkpoint-every", o.CheckpointEvery),
            EvalEvery = args.GetInt("eval-every", o.EvalEvery),
        };
    }

    /// <summary>Progress lines on stderr, at most one every few seconds (and the last).</summary>
    static IntervalProgress Progress(TextWriter error) => new(error, TimeSpan.FromSeconds(5), r => string.Create(CultureInfo.InvariantCulture,
        $"epoch {r.Step}/{r.Total}  train loss {r.Values["train_loss"]:G4} acc {r.Values["train_accuracy"]:F4}  test loss {r.Values["test_loss"]:G4} acc {r.Values["test_accuracy"]:F4}  {r.Values["seconds"]:F0} s"));
}
