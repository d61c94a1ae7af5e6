using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Models.Architectures;

namespace Mechanist.Models.Training;

/// <summary>
/// Settings of a modular-addition training run. The defaults are Nanda et al.'s (2023): p = 113, the paper's
/// architecture, 30% of the pairs for training, full-batch AdamW with lr 1e-3, weight decay 1, betas (0.9, 0.98),
/// biases frozen at zero.
/// </summary>
public sealed record ModularAdditionTrainingOptions
{
    public ModularAdditionConfig Model { get; init; } = new();

    /// <summary>Fraction of the p² pairs used for training.</summary>
    public double TrainFraction { get; init; } = 0.3;

    /// <summary>Full-batch epochs (one AdamW step each) to train for.</summary>
    public int Epochs { get; init; } = 25_000;

    public double Lr { get; init; } = 1e-3;

    public double WeightDecay { get; init; } = 1.0;

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.98;

    /// <summary>Seeds the initialisation (seed) and the train/test split (seed + 1).</summary>
    public int Seed { get; init; }

    /// <summary>Train the biases too (the paper freezes them at zero).</summary>
    public bool TrainBiases { get; init; }

    /// <summary>Write a checkpoint every this many epochs (and at the end).</summary>
    public int CheckpointEvery { get; init; } = 500;

    /// <summary>Evaluate on the held-out pairs and log every this many epochs.</summary>
    public int EvalEvery { get; init; } = 10;

    /// <summary>The options a resumed run may change; every other one must match the checkpoint.</summary>
    public static readonly string[] Adjustable = ["epochs", "checkpoint_every", "eval_every"];

    /// <summary>Largest modulus: p² must fit a 32-bit integer.</summary>
    public const int MaxP = 46340;

    public void Validate()
    {
        foreach (var (option, value, min) in new[] { ("p", Model.P, 2), ("d-model", Model.DModel, 1), ("n-heads", Model.NHeads, 1), ("d-head", Model.DHead, 1), ("d-mlp", Model.DMlp, 1) })
            if (value < min) throw new MechanistInputException($"--{option} must be at least {min}, got {value}.");
        Model.Validate();
        if (Model.P > MaxP) throw new MechanistInputException($"--p must be at most {MaxP} (p² pairs are indexed with 32-bit integers), got {Model.P}.");
        int train = ModularAdditionData.TrainCount(Model.P, TrainFraction);
        if (!(TrainFraction > 0 && TrainFraction < 1) || train < 1 || train >= Model.P * Model.P)
            throw new MechanistInputException(
                $"--train-fraction must leave at least one training and one held-out pair of the {Model.P * Model.P}, got {TrainFraction.ToString(CultureInfo.InvariantCulture)}.");
        if (Epochs < 1) throw new MechanistInputException($"--epochs must be at least 1, got {Epochs}.");
        if (!(Lr > 0)) throw new MechanistInputException($"--lr must be positive, got {Lr.ToString(CultureInfo.InvariantCulture)}.");
        if (WeightDecay < 0) throw new MechanistInputException($"--weight-decay must be non-negative, got {WeightDecay.ToString(CultureInfo.InvariantCulture)}.");
        if (Lr * WeightDecay >= 1)
            throw new MechanistInputException($"--lr x --weight-decay must be below 1 (AdamW shrinks weights by 1 - lr x weight_decay each step), got {(Lr * WeightDecay).ToString(CultureInfo.InvariantCulture)}.");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new MechanistInputException($"--beta1 must be in [0, 1), got {Beta1.ToString(CultureInfo.InvariantCulture)}.");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new MechanistInputException($"--beta2 must be in [0, 1), got {Beta2.ToString(CultureInfo.InvariantCulture)}.");
        if (CheckpointEvery < 1) throw new MechanistInputException($"--checkpoint-every must be at least 1, got {CheckpointEvery}.");
        if (EvalEvery < 1) throw new MechanistInputException($"--eval-every must be at least 1, got {EvalEvery}.");
    }

    /// <summary>The options as JSON (snake_case keys), as recorded in checkpoints and <c>metrics.json</c>.</summary>
    public JsonObject ToJson() => new()
    {
        ["p"] = Model.P, ["d_model"] = Model.DModel, ["n_heads"] = Model.NHeads, ["d_head"] = Model.DHead,
        ["d_mlp"] = Model.DMlp, ["act_fn"] = Model.ActFn, ["train_fraction"] = TrainFraction, ["epochs"] = Epochs,
        ["lr"] = Lr, ["weight_decay"] = WeightDecay, ["beta1"] = Beta1, ["beta2"] = Beta2, ["seed"] = Seed,
        ["train_biases"] = TrainBiases, ["checkpoint_every"] = CheckpointEvery, ["eval_every"] = EvalEvery,
    };

    /// <summary>Reads <see cref="ToJson"/>'s output (from a checkpoint); errors name <paramref name="source"/>.</summary>
    public static ModularAdditionTrainingOptions FromJson(JsonObject o, string source)
    {
        T Get<T>(string key)
        {
            try
            {
                return o[key] is JsonValue v ? v.GetValue<T>() : throw new FormatException("missing");
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new MechanistInputException($"{source}: training option '{key}' is missing or not a {typeof(T).Name} in the checkpoint metadata.");
            }
        }
        var options = new ModularAdditionTrainingOptions
        {
            Model = new ModularAdditionConfig
            {
                P = Get<int>("p"), DModel = Get<int>("d_model"), NHeads = Get<int>("n_heads"), DHead = Get<int>("d_head"),
                DMlp = Get<int>("d_mlp"), ActFn = Get<string>("act_fn"),
            },
            TrainFraction = Get<double>("train_fraction"), Epochs = Get<int>("epochs"), Lr = Get<double>("lr"),
            WeightDecay = Get<double>("weight_decay"), Beta1 = Get<double>("beta1"), Beta2 = Get<double>("beta2"),
            Seed = Get<int>("seed"), TrainBiases = Get<bool>("train_biases"), CheckpointEvery = Get<int>("checkpoint_every"),
            EvalEvery = Get<int>("eval_every"),
        };
        try
        {
            options.Validate();
        }
        catch (MechanistInputException e)
        {
            throw new MechanistInputException($"{source}: the training options in the checkpoint metadata are invalid: {e.Message}", e);
        }
        return options;
    }
}
