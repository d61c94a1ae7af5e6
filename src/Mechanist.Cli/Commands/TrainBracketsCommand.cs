using System.Globalization;
using Mechanist.Cli.CommandLine;
using Mechanist.Models.Tasks;
using Mechanist.Models.Training;

namespace Mechanist.Cli.Commands;

/// <summary>
/// <c>mechanist train brackets</c>: a small GPT-2-layout transformer on the bracket language, whose latent variables
/// (depth, innermost bracket type) are known at every token; checkpointed and resumable.
/// </summary>
public sealed class TrainBracketsCommand : ICommand
{
    public string Name => "train brackets";
    public string Summary => "train a GPT-2-layout transformer on the bracket language (known per-token concepts; checkpoints; --resume continues a killed run)";
    public string Usage => "--out DIR [--seed S] [--steps N] [--layers L] [--d-model D] [--heads H] [--d-mlp M] [--length L] [--max-depth D] [--batch-size B] [--lr LR] [--checkpoint-every N] [--resume]";
    public IReadOnlyList<OptionSpec> Options { get; } =
    [
        CommonOptions.Out,
        new("steps", "optimizer steps, each on a fresh batch (default 6000)", ValueName: "N"),
        new("layers", "transformer blocks (default 3)", ValueName: "L"),
        new("d-model", "residual width (default 64)", ValueName: "D"),
        new("heads", "attention heads (default 4)", ValueName: "H"),
        new("d-mlp", "MLP width (default 256)", ValueName: "M"),
        new("length", "tokens per sequence, <bos> included; also the model's positions (default 48)", ValueName: "L"),
        new("max-depth", "deepest nesting of the language (default 4)", ValueName: "D"),
        new("batch-size", "sequences per step (default 64)", ValueName: "B"),
        new("lr", "peak AdamW learning rate (default 0.003)", ValueName: "LR"),
        new("warmup-steps", "linear warm-up steps before the cosine decay (default 200)", ValueName: "N"),
        new("weight-decay", "AdamW weight decay of matrices and embeddings (default 0.01)", ValueName: "WD"),
        new("eval-sequences", "held-out sequences scored every --eval-every steps (default 256)", ValueName: "N"),
        new("checkpoint-every", "write a checkpoint every N steps (default 500)", ValueName: "N"),
        new("eval-every", "evaluate and log every N steps (default 100)", ValueName: "N"),
        new("resume", "continue the run whose checkpoint is in --out (settings other than --steps, --checkpoint-every and --eval-every must match)", TakesValue: false),
        CommonOptions.Seed, CommonOptions.Device, CommonOptions.Verbose, CommonOptions.Help,
    ];

    public int Run(ParsedArguments args, CommandEnvironment env)
    {
        var folder = args.Require("out");
        bool resume = args.Has("resume");
        var device = CommonOptions.ParseDevice(args);
        BracketTrainer.CheckFolder(folder, resume);
        var start = resume ? BracketTrainer.ReadCheckpointOptions(folder) : new BracketTrainingOptions();
        var options = Apply(args, start);
        options.Validate();
        if (resume) BracketTrainer.CheckResume(folder, options);

        MallocTuning.ConfigureForTraining();
        using var stop = new StopSignals();
        try
        {
            env.Error.WriteLine(
                $"{(resume ? "resuming" : "training")} brackets (length {options.Language.Length}, max depth {options.Language.MaxDepth}): " +
                $"{options.Layers} layers, d_model {options.DModel}, {options.Heads} heads, d_mlp {options.DMlp}; {options.Steps} steps of {options.BatchSize} sequences into {Path.GetFullPath(folder)}");
            var r = BracketTrainer.Train(folder, options, resume, device, Progress(env.Error), stop.Token);
            env.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"step {r.Steps}: held-out loss {r.Final.Loss:F4} nats (generator entropy {r.EntropyFloor:F4}, KL {r.Final.Kl:F4}), closing-bracket accuracy {r.Final.CloserAccuracy:P2}"));
            env.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.TrainSeconds:F1} s; wrote {Path.GetFullPath(folder)}"));
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (stop.Requested)
        {
            env.Error.WriteLine($"mechanist: interrupted; checkpoint written to {Path.Combine(Path.GetFullPath(folder), BracketTrainer.CheckpointFile)} (continue with --resume).");
            return 130;
        }
    }

    static BracketTrainingOptions Apply(ParsedArguments args, BracketTrainingOptions o) => o with
    {
        Language = new BracketLanguageSettings(args.GetInt("length", o.Language.Length), args.GetInt("max-depth", o.Language.MaxDepth)),
        Layers = args.GetInt("layers", o.Layers),
        DModel = args.GetInt("d-model", o.DModel),
        Heads = args.GetInt("heads", o.Heads),
        DMlp = args.GetInt("d-mlp", o.DMlp),
        Steps = args.GetInt("steps", o.Steps),
        BatchSize = args.GetInt("batch-size", o.BatchSize),
        Lr = args.GetDouble("lr", o.Lr),
        WarmupSteps = args.GetInt("warmup-steps", o.WarmupSteps),
        WeightDecay = args.GetDouble("weight-decay", o.WeightDecay),
        EvalSequences = args.GetInt("eval-sequences", o.EvalSequences),
        Seed = args.Has("seed") ? CommonOptions.ParseSeed(args) : o.Seed,
        CheckpointEvery = args.GetInt("checkpoint-every", o.CheckpointEvery),
        EvalEvery = args.GetInt("eval-every", o.EvalEvery),
    };

    /// <summary>Progress lines on stderr, at most one every few seconds (and the last).</summary>
    static IntervalProgress Progress(TextWriter error) => new(error, TimeSpan.FromSeconds(5), r => string.Create(CultureInfo.InvariantCulture,
        $"step {r.Step}/{r.Total}  train loss {r.Values["train_loss"]:F4}  held-out loss {r.Values["eval_loss"]:F4} (floor {r.Values["entropy_floor"]:F4}, KL {r.Values["eval_kl"]:F4})  closer acc {r.Values["closer_accuracy"]:F4}  {r.Values["seconds"]:F0} s"));
}
