using System.Globalization;
using Mechanist.Attribution;
using Mechanist.Host.Configuration;
using Mechanist.Models;
using Mechanist.Models.Text;
using static TorchSharp.torch;

namespace Mechanist.Host.Gate;

/// <summary>A behaviour ready for validators: the contract's <see cref="Attribution.Behaviour"/> plus what reports say about it.</summary>
public sealed record PreparedBehaviour(string Name, Behaviour Behaviour, string MetricKind, int Examples, string Inputs);

/// <summary>
/// Turns a <c>behaviours</c> entry into a <see cref="Behaviour"/>: its inputs (a dataset or file), its corrupted inputs
/// (a file of the same shape, or a rule), and its metric on the model's output at a position for a target. Every
/// problem is an input error at the key it comes from (a target outside the vocabulary, an unknown token, a position
/// outside the sequence, a corrupted file of another shape).
/// </summary>
public static class BehaviourBuilder
{
    /// <summary>Builds <paramref name="config"/>; problems go to <paramref name="problems"/> and null is returned.</summary>
    public static PreparedBehaviour? Build(BehaviourConfig config, ModelInputs? dataset, IHookedModel model, Device device, int seed,
        ProblemList problems, Func<DatasetConfig, ModelInputs> load)
    {
        ModelInputs inputs;
        try
        {
            inputs = config.Inputs is not null ? load(config.Inputs) : dataset!;
        }
        catch (MechanistInputException e)
        {
            problems.Input(config.Inputs?.Pointer ?? config.Pointer, $"behaviour '{config.Name}': {e.Message}");
            return null;
        }
        var what = $"behaviour '{config.Name}'";
        Tensor clean;
        try
        {
            clean = inputs.ToTensor(device, what);
        }
        catch (MechanistInputException e)
        {
            problems.Input(config.Inputs?.Pointer ?? config.Pointer, e.Message);
            return null;
        }
        long n = clean.shape[0], length = clean.shape[1];

        // The output's shape: one run on the first input.
        long[] outputShape;
        using (no_grad())
        {
            using var output = model.Run(clean.narrow(0, 0, 1));
            outputShape = output.shape;
        }
        if (outputShape.Length is not (2 or 3))
        {
            problems.Input(config.Pointer, $"{what}: the model's output has shape [{string.Join(", ", outputShape)}]; a metric needs logits [batch, classes] or [batch, positions, vocab].");
            return null;
        }
        long vocab = outputShape[^1];
        long position = config.Position;
        if (outputShape.Length == 3)
        {
            position = config.Position < 0 ? length + config.Position : config.Position;
            if (position < 0 || position >= length)
            {
                problems.Input(config.Pointer + "/position", $"{what}: position {config.Position} is outside the inputs' {length} positions (0 … {length - 1}, or -1 … -{length} from the end).");
                return null;
            }
        }

        // Corrupted inputs: a file of the same shape, or a rule.
        Tensor? corrupted = null;
        ModelInputs? corruptedInputs = null;
        if (config.Corrupted is { } c)
        {
            if (c.Inputs is { } file)
            {
                try
                {
                    corruptedInputs = load(file);
                    corrupted = corruptedInputs.ToTensor(device, $"the corrupted inputs of {what}");
                }
                catch (MechanistInputException e)
                {
                    problems.Input(c.Pointer, $"{what}: {e.Message}");
                    return null;
                }
                if (!corrupted.shape.SequenceEqual(clean.shape))
                {
                    problems.Input(c.Pointer, $"{what}: the corrupted inputs {corruptedInputs.Description} have shape [{string.Join(", ", corrupted.shape)}], the clean inputs [{string.Join(", ", clean.shape)}]; they must match.");
                    return null;
                }
            }
            else
            {
                long at = c.Position!.Value < 0 ? length + c.Position.Value : c.Position.Value;
                if (at < 0 || at >= length)
                {
                    problems.Input(c.Pointer + "/position", $"{what}: the resampled position {c.Position} is outside the inputs' {length} positions.");
                    return null;
                }
                if (n < 2)
                {
                    problems.Input(c.Pointer, $"{what}: resampling a position needs at least 2 inputs, got {n}.");
                    return null;
                }
                corrupted = Resample(clean, at, c.Seed ?? seed);
            }
        }

        // Targets, one per input.
        var target = Target(config.Target!, what, "target", inputs, clean, null, model, vocab, problems);
        if (target is null) return null;
        (Tensor Ids, string Text)? contrast = null;
        if (config.Contrast is { } contrastConfig)
        {
            contrast = Target(contrastConfig, what, "contrast", inputs, clean, corrupted, model, vocab, problems);
            if (contrast is null) return null;
        }
        var (targetTensor, targetText) = target.Value;
        var at2 = outputShape.Length == 3 ? $" at position {position}" : "";
        Tensor Logits(Tensor o) => o.ndim == 3 ? o.select(1, position) : o;
        // The metric of output rows given the target (and contrast) of each row: [R] ids.
        Func<Tensor, Tensor, Tensor?, Tensor> of;
        string description;
        switch (config.Metric)
        {
            case "logit":
                of = (o, t, _) => Logits(o).gather(1, t.unsqueeze(1)).squeeze(1);
                description = $"logit of {targetText}{at2}";
                break;
            case "logprob":
                of = (o, t, _) => Logits(o).log_softmax(1).gather(1, t.unsqueeze(1)).squeeze(1);
                description = $"log-probability of {targetText}{at2}";
                break;
            case "prob":
                of = (o, t, _) => Logits(o).softmax(1).gather(1, t.unsqueeze(1)).squeeze(1);
                description = $"probability of {targetText}{at2}";
                break;
            case "loss":
                of = (o, t, _) => -Logits(o).log_softmax(1).gather(1, t.unsqueeze(1)).squeeze(1);
                description = $"cross-entropy loss of {targetText}{at2}";
                break;
            case "accuracy":
                of = (o, t, _) => Logits(o).argmax(1).eq(t).to(ScalarType.Float32);
                description = $"accuracy (argmax is {targetText}){at2}";
                break;
            default:
                of = (o, t, c) => Logits(o).gather(1, t.unsqueeze(1)).squeeze(1) - Logits(o).gather(1, c!.unsqueeze(1)).squeeze(1);
                description = $"logit of {targetText} minus logit of {contrast!.Value.Text}{at2}";
                break;
        }
        var contrastTensor = contrast?.Ids;
        bool perExample = config.Target!.Value.Label || config.Contrast?.Value is { Label: true } or { CorruptedLabel: true };
        string metricDescription = description + $" on {inputs.Description}";
        Tensor Metric(Tensor o)
        {
            // Targets that are the same for every input fit any batch; a label per input needs the rows in order.
            long rows = o.shape[0];
            if (perExample && rows != n)
                throw new MechanistInputException(
                    $"the metric '{metricDescription}' reads each input's label and got {rows} output rows for {n} inputs; the method must pass the rows' example indices (ExampleMetric).");
            return of(o, Rows(targetTensor, rows), contrastTensor is null ? null : Rows(contrastTensor, rows));
        }
        Tensor ExampleMetric(Tensor o, Tensor examples) =>
            of(o, targetTensor.index_select(0, examples), contrastTensor?.index_select(0, examples));
        var behaviour = new Behaviour(clean, Metric, metricDescription) { Corrupted = corrupted, ExampleMetric = ExampleMetric };
        return new PreparedBehaviour(config.Name, behaviour, config.Metric, (int)n, inputs.Description);
    }

    /// <summary>The first <paramref name="rows"/> targets, or the constant target repeated when the batch differs.</summary>
    static Tensor Rows(Tensor targets, long rows) => rows == targets.shape[0] ? targets : targets.narrow(0, 0, 1).expand(rows);
    /// <summary>Each row's token at <paramref name="position"/> replaced by that of another row (a seeded derangement).</summary>
    public static Tensor Resample(Tensor clean, long position, int seed)
    {
        long n = clean.shape[0];
        var rng = new Random(seed);
        var order = Enumerable.Range(0, (int)n).OrderBy(_ => rng.Next()).ToArray();
        // Each row takes the token of the next row in a random cycle: no row keeps its own.
        var source = new long[n];
        for (int i = 0; i < n; i++) source[order[i]] = order[(i + 1) % n];
        var corrupted = clean.clone();
        using var index = tensor(source, device: clean.device);
        corrupted.select(1, position).copy_(clean.select(1, position).index_select(0, index));
        return corrupted;
    }

    static (Tensor Ids, string Text)? Target(Located<BehaviourTarget> located, string what, string key, ModelInputs inputs, Tensor clean,
        Tensor? corrupted, IHookedModel model, long vocab, ProblemList problems)
    {
        var target = located.Value;
        long n = clean.shape[0];
        if (target.Id is long id)
        {
            if (id >= vocab)
            {
                problems.Input(located.Pointer, $"{what}: {key} {id} is outside the model's {vocab} outputs (0 … {vocab - 1}).");
                return null;
            }
            return (full(n, id, ScalarType.Int64, device: clean.device), $"token {id}");
        }
        if (target.Token is { } token)
        {
            if (model is not ILanguageModel { VocabSize: Gpt2Tokenizer.VocabSize })
            {
                problems.Input(located.Pointer, $"{what}: {key} \"{token}\" is a token string, read with GPT-2's BPE; model '{model.ModelType}' does not use GPT-2's vocabulary, so give the token id.");
                return null;
            }
            var ids = Gpt2Tokenizer.Encode(token);
            if (ids.Count != 1)
            {
                problems.Input(located.Pointer, $"{what}: {key} \"{token}\" is {(ids.Count == 0 ? "no token" : $"{ids.Count} GPT-2 tokens ({string.Join(", ", ids)})")}, not one; give a single token (mind the leading space) or its id.");
                return null;
            }
            if (ids[0] >= vocab)
            {
                problems.Input(located.Pointer, $"{what}: {key} \"{token}\" is token {ids[0]}, outside the model's {vocab} outputs.");
                return null;
            }
            return (full(n, (long)ids[0], ScalarType.Int64, device: clean.device), $"\"{token}\" (token {ids[0]})");
        }
        var source = target.CorruptedLabel ? corrupted : clean;
        if (source is null)
        {
            problems.Input(located.Pointer, $"{what}: {key} \"corrupted-label\" needs corrupted inputs ('corrupted').");
            return null;
        }
        long[]? labels = null;
        if (!target.CorruptedLabel && inputs.Labels is not null) labels = inputs.Labels;
        else if (inputs.LabelOf is { } labelOf)
        {
            try
            {
                var rows = source.cpu().data<long>().ToArray();
                long length = source.shape[1];
                labels = Enumerable.Range(0, (int)n).Select(i => labelOf(rows[(int)(i * length)..(int)((i + 1) * length)])).ToArray();
            }
            catch (MechanistInputException e)
            {
                problems.Input(located.Pointer, $"{what}: {e.Message}");
                return null;
            }
        }
        else if (model is ITaskModel task)
        {
            try
            {
                using var answers = task.Answers(source).Labels;
                labels = answers.select(1, answers.shape[1] - 1).cpu().data<long>().ToArray();
            }
            catch (MechanistInputException e)
            {
                problems.Input(located.Pointer, $"{what}: {e.Message}");
                return null;
            }
        }
        if (labels is null)
        {
            problems.Input(located.Pointer, $"{what}: {key} \"{target}\" needs labelled inputs: a dataset 'task' (e.g. modular-addition) or a task model; {inputs.Description} has no labels and model '{model.ModelType}' defines none.");
            return null;
        }
        if (labels.Any(l => l < 0 || l >= vocab))
        {
            problems.Input(located.Pointer, $"{what}: the labels fall outside the model's {vocab} outputs.");
            return null;
        }
        return (tensor(labels, device: clean.device), target.CorruptedLabel ? "the corrupted input's label" : "the label (the correct answer)");
    }

    internal static string Format(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
}
