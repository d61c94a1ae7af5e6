using System.Globalization;
using System.Text.Json.Nodes;
using Mechanist.Models.Tasks;

namespace Mechanist.Models.Training;

/// <summary>
/// Settings of a bracket-language training run: the language, a GPT-2-layout model (Hugging Face names), and
/// AdamW on fresh batches with a linear warm-up and a cosine decay to a tenth of the learning rate.
/// </summary>
public sealed record BracketTrainingOptions
{
    public BracketLanguageSettings Language { get; init; } = new();

    public int Layers { get; init; } = 3;
    public int DModel { get; init; } = 64;
    public int Heads { get; init; } = 4;
    public int DMlp { get; init; } = 256;

    /// <summary>Optimizer steps, each on a fresh batch of generated sequences.</summary>
    public int Steps { get; init; } = 6000;

    public int BatchSize { get; init; } = 64;
    public double Lr { get; init; } = 3e-3;
    public int WarmupSteps { get; init; } = 200;

    /// <summary>Decoupled weight decay of the matrices and embeddings (not of biases and LayerNorm gains).</summary>
    public double WeightDecay { get; init; } = 0.01;

    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.99;

    /// <summary>Seeds the initialisation, the batches and the evaluation sequences.</summary>
    public int Seed { get; init; }

    /// <summary>Held-out sequences evaluated every <see cref="EvalEvery"/> steps (drawn once, from their own seed).</summary>
    public int EvalSequences { get; init; } = 256;

    public int CheckpointEvery { get; init; } = 500;
    public int EvalEvery { get; init; } = 100;

    /// <summary>The options a resumed run may change; every other one must match the checkpoint.</summary>
    public static readonly string[] Adjustable = ["steps", "checkpoint_every", "eval_every"];

    public void Validate()
    {
        Language.Validate();
        foreach (var (option, value) in new[] { ("layers", Layers), ("d-model", DModel), ("heads", Heads), ("d-mlp", DMlp), ("steps", Steps), ("batch-size", BatchSize), ("eval-sequences", EvalSequences), ("checkpoint-every", CheckpointEvery), ("eval-every", EvalEvery) })
            if (value < 1) throw new MechanistInputException($"--{option} must be at least 1, got {value}.");
        if (DModel % Heads != 0) throw new MechanistInputException($"--d-model {DModel} must be divisible by --heads {Heads}.");
        if (WarmupSteps < 0) throw new MechanistInputException($"--warmup-steps must be 0 or more, got {WarmupSteps}.");
        if (!(Lr > 0) || !double.IsFinite(Lr)) throw new MechanistInputException($"--lr must be positive, got {Lr.ToString(CultureInfo.InvariantCulture)}.");
        if (!(WeightDecay >= 0) || Lr * WeightDecay >= 1)
            throw new MechanistInputException($"--weight-decay must be non-negative with lr x weight_decay below 1, got {WeightDecay.ToString(CultureInfo.InvariantCulture)}.");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new MechanistInputException($"--beta1 must be in [0, 1), got {Beta1.ToString(CultureInfo.InvariantCulture)}.");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new MechanistInputException($"--beta2 must be in [0, 1), got {Beta2.ToString(CultureInfo.InvariantCulture)}.");
    }

    /// <summary>The learning-rate multiplier at <paramref name="step"/>: linear warm-up, then cosine from 1 to 0.1.</summary>
    public double LrScale(int step)
    {
        if (step < WarmupSteps) return (step + 1.0) / WarmupSteps;
        double progress = Steps <= WarmupSteps ? 1 : (step - WarmupSteps) / (double)(Steps - WarmupSteps);
        return 0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, progress)));
    }

    public JsonObject ToJson() => new()
    {
        ["length"] = Language.Length, ["max_depth"] = Language.MaxDepth, ["layers"] = Layers, ["d_model"] = DModel,
        ["heads"] = Heads, ["d_mlp"] = DMlp, ["steps"] = Steps, ["batch_size"] = BatchSize, ["lr"] = Lr,
        ["warmup_steps"] = WarmupSteps, ["weight_decay"] = WeightDecay, ["beta1"] = Beta1, ["beta2"] = Beta2, ["seed"] = Seed,
        ["eval_sequences"] = EvalSequences, ["checkpoint_every"] = CheckpointEvery, ["eval_every"] = EvalEvery,
    };

    public static BracketTrainingOptions FromJson(JsonObject o, string source)
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
        return new BracketTrainingOptions
        {
            Language = new BracketLanguageSettings(Get<int>("length"), Get<int>("max_depth")),
            Layers = Get<int>("layers"), DModel = Get<int>("d_model"), Heads = Get<int>("heads"), DMlp = Get<int>("d_mlp"),
            Steps = Get<int>("steps"), BatchSize = Get<int>("batch_size"), Lr = Get<double>("lr"), WarmupSteps = Get<int>("warmup_steps"),
            WeightDecay = Get<double>("weight_decay"), Beta1 = Get<double>("beta1"), Beta2 = Get<double>("beta2"), Seed = Get<int>("seed"),
            EvalSequences = Get<int>("eval_sequences"), CheckpointEvery = Get<int>("checkpoint_every"), EvalEvery = Get<int>("eval_every"),
        };
    }
}
