using System.Collections.Immutable;
using Mechanist.Models;
using Mechanist.Models.Architectures;
using Mechanist.Models.Training;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Host.Gate;

/// <summary>Model inputs a task generated: token sequences [n, T], their labels at the answer position, and how to label others.</summary>
public sealed record GeneratedTask(string Description, long[][] Sequences, long[] Labels, int AnswerPosition, Func<long[], long> Label);

/// <summary>
/// The tasks a <c>dataset</c> can generate (<c>"task": "modular-addition"</c>), each with typed options bound like a
/// method's (<c>"options": { "split": "held_out" }</c>; an unknown option names the closest valid one).
/// </summary>
public static class DatasetTasks
{
    sealed record TaskInfo(string Id, Type OptionsType, string Summary, Func<MethodOptions, ILanguageModel?, int, GeneratedTask> Generate)
    {
        public ImmutableArray<OptionDescriptor> Options { get; } = OptionSchema.Describe(OptionsType);
    }

    static readonly TaskInfo[] All =
    [
        new(ModularAdditionTransformer.ModelTypeId, typeof(ModularAdditionTaskOptions),
            "pairs \"a b =\" = [a, b, p] labelled (a + b) mod p; split all, train or held_out as the trainer splits them",
            (o, model, seed) => ModularAddition((ModularAdditionTaskOptions)o, model, seed)),
    ];

    public static IReadOnlyList<string> Ids => All.Select(t => t.Id).ToList();

    /// <summary>Whether <paramref name="task"/> names a known task.</summary>
    public static bool IsKnown(string task) => All.Any(t => t.Id == task);

    /// <summary>Binds the options of <paramref name="task"/> (input errors name the option and the closest valid one).</summary>
    public static MethodOptions Bind(string task, IReadOnlyDictionary<string, string> options)
    {
        var info = All.Single(t => t.Id == task);
        try
        {
            return OptionBinder.Bind(task, info.OptionsType, info.Options, options);
        }
        catch (MechanistInputException e)
        {
            throw new MechanistInputException(e.Message.Replace($"method '{task}'", $"task '{task}'", StringComparison.Ordinal));
        }
    }

    public static GeneratedTask Generate(string task, MethodOptions options, ILanguageModel? model, int seed) =>
        All.Single(t => t.Id == task).Generate(options, model, seed);

    static GeneratedTask ModularAddition(ModularAdditionTaskOptions o, ILanguageModel? model, int seed)
    {
        int p = o.P;
        if (p == 0)
        {
            if (model is ModularAdditionTransformer m) p = m.Config.P;
            else throw new MechanistInputException(
                $"task 'modular-addition' needs its modulus: set option 'p', or release a modular-addition model (its p is read from config.json).");
        }
        if (model is ModularAdditionTransformer mt && mt.Config.P != p)
            throw new MechanistInputException($"task 'modular-addition' has p = {p}, but the model was trained mod {mt.Config.P}.");
        int nTrain = ModularAdditionData.TrainCount(p, o.TrainFraction);
        using var permutation = ModularAdditionData.SplitPermutation(p, o.TrainingSeed + 1);
        var order = permutation.data<long>().ToArray();
        long[] pairs = o.Split switch
        {
            ModularAdditionSplit.Train => order[..nTrain],
            ModularAdditionSplit.HeldOut => order[nTrain..],
            _ => Enumerable.Range(0, p * p).Select(i => (long)i).ToArray(),
        };
        if (o.Samples > 0 && o.Samples < pairs.Length)
        {
            var rng = new Random(seed);
            pairs = pairs.OrderBy(_ => rng.Next()).Take(o.Samples).Order().ToArray();
        }
        var sequences = pairs.Select(i => new long[] { i / p, i % p, p }).ToArray();
        var labels = pairs.Select(i => (i / p + i % p) % p).ToArray();
        var split = OptionSchema.FormatValue(o.Split);
        return new GeneratedTask(
            $"modular-addition pairs mod {p} ({split}{(o.Split == ModularAdditionSplit.All ? "" : $" of a {o.TrainFraction:0.##} training split drawn with seed {o.TrainingSeed + 1}")}, {sequences.Length} pairs)",
            sequences, labels, 2, s => s.Length == 3 && s[0] < p && s[1] < p && s[2] == p ? (s[0] + s[1]) % p
                : throw new MechanistInputException($"modular-addition labels only inputs [a, b, {p}] with a, b < {p}, not [{string.Join(", ", s)}]."));
    }
}

public enum ModularAdditionSplit
{
    All,
    Train,
    HeldOut,
}

/// <summary>Options of the <c>modular-addition</c> task. The split defaults are the trainer's (<c>mechanist train modular-addition</c>).</summary>
public sealed record ModularAdditionTaskOptions : MethodOptions
{
    [Option("the modulus; 0 takes the released model's p")]
    public int P { get; init; }

    [Option("which pairs: all, train (those the model trained on) or held_out (those it never saw)")]
    public ModularAdditionSplit Split { get; init; } = ModularAdditionSplit.All;

    [Option("the training run's train_fraction (the trainer's default 0.3)")]
    public double TrainFraction { get; init; } = 0.3;

    [Option("the training run's seed (the split is drawn with seed + 1; the trainer's default 0)")]
    public int TrainingSeed { get; init; }

    [Option("a seeded random subset of this many pairs (seeded with the config's seed), in pair order; 0 takes them all")]
    public int Samples { get; init; }

    public override IEnumerable<OptionError> Validate()
    {
        if (P is 1 or < 0) yield return new("p", "must be 0 (the model's) or at least 2");
        if (!(TrainFraction > 0 && TrainFraction < 1)) yield return new("train_fraction", "must be between 0 and 1");
        if (TrainingSeed < 0) yield return new("training_seed", "must be 0 or more");
        if (Samples < 0) yield return new("samples", "must be 0 (all) or more");
    }
}
