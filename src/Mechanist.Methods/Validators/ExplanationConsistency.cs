using System.Collections.Immutable;
using System.Globalization;
using Mechanist.Discovery;
using Mechanist.Methods.Evaluation;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// The interpretability-illusion check: an explanation built from a feature's top-activating examples on one split
/// of the data must predict the feature's activations on the other split. With tokens the explanation is the set
/// of tokens at the top examples (each weighted by its mean activation there); without, the mean direction of the
/// top examples' activations. The prediction is scored by Pearson correlation with the held-out activations.
/// </summary>
[Validator("explanation.consistency",
    Title = "Held-out explanation consistency",
    Summary = "Splits the activations in two (by sequence when tokens are given, seeded), builds each sampled feature's explanation from its top-k examples on split A (the tokens at those positions, or their mean activation direction), and correlates the explanation's prediction with the feature's activations on split B (MECH4001). A story read off top examples that does not hold on held-out data is an interpretability illusion.",
    Reference = "Bolukbasi et al. 2021, An Interpretability Illusion for BERT; Bills et al. 2023, Language models can explain neurons in language models (held-out scoring).",
    HelpLink = "docs/methods/explanation.consistency.md",
    Requires = ValidationInputs.Decomposition | ValidationInputs.Activations)]
public sealed class ExplanationConsistency : Validator<ExplanationConsistencyOptions>
{
    public static readonly CheckDescriptor InconsistentExplanation = new(
        "MECH4001", "Explanation does not hold on held-out data",
        "feature {0}: the {1} explanation from its top {2} examples on split A correlates {3:0.###} with its activations on held-out split B (in-sample {4:0.###}), below the threshold {5:0.###}",
        "Interpretation", Severity.Warning, CheckDescriptor.DocPath("MECH4001"),
        "Pearson r over held-out rows between the explanation's prediction and the feature's activation. Token explanation: prediction(row) = mean activation of the top-k split-A examples whose token equals the row's token, 0 for other tokens. Direction explanation: prediction(row) = (x_row − mean x)·u, u the unit mean of (x − mean x) over the top-k split-A examples",
        DefaultThreshold: 0.3, Direction: MetricDirection.HigherIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [InconsistentExplanation];

    protected override void Validate(ValidationContext context, ExplanationConsistencyOptions options)
    {
        if (context.Decomposition is not { } decomposition || context.Activations is not { } source)
        {
            context.CannotRun("it needs a decomposition and its activations.");
            return;
        }
        if (context.ThresholdOf(InconsistentExplanation) is not double threshold) return;
        if (options.Explanation == ExplanationKind.Token && context.Tokens is null)
        {
            context.CannotRun("explanation=token needs the token ids the activations were harvested from; harvest them from the model (omit 'activations'), or use explanation=direction.");
            return;
        }
        var scores = Evaluate(decomposition, source, context.Tokens, options, context.Seed, context.CancellationToken);
        if (scores.Count == 0)
        {
            context.CannotRun($"no feature fires on at least {options.MinActive} rows of each split, so no explanation can be tested; lower min_active or give more data.");
            return;
        }
        context.Measure(InconsistentExplanation, scores.Average(r => r.HeldOut));
        foreach (var r in scores)
        {
            context.Measure(InconsistentExplanation, r.HeldOut, r.Feature);
            if (!(r.HeldOut >= threshold))
                context.Report(InconsistentExplanation, [r.Feature, r.Kind, options.TopK, r.HeldOut, r.InSample, threshold], r.HeldOut, r.Feature);
        }
        context.Logger.LogInformation("{Count} features checked; held-out correlation mean {Mean:0.###}, min {Min:0.###}",
            scores.Count, scores.Average(r => r.HeldOut), scores.Min(r => r.HeldOut));
    }

    /// <summary>One feature's scores.</summary>
    public sealed record FeatureScore(int Feature, string Kind, string Explanation, double InSample, double HeldOut);

    /// <summary>Scores the sampled features (see the class summary). Tokens [n_seq, seq_len] must cover the activation rows.</summary>
    public static IReadOnlyList<FeatureScore> Evaluate(Mechanist.Decomposers.Decomposition decomposition, IActivationSource source, Tensor? tokens,
        ExplanationConsistencyOptions options, int seed, CancellationToken cancellation = default)
    {
        long n = source.Count;
        if (decomposition.DIn != source.Dimension)
            throw new MechanistInputException($"{source.Name}: activations have dimension {source.Dimension} but the decomposition's d_in is {decomposition.DIn}.");
        long[]? rowTokens = null;
        long seqLen = 1;
        if (tokens is not null)
        {
            if (tokens.ndim != 2 || tokens.numel() != n)
                throw new MechanistInputException(
                    $"tokens of shape [{string.Join(", ", tokens.shape)}] do not cover the {n} activation rows of {source.Name} (expected [n_sequences, seq_len] with n_sequences × seq_len = {n}).");
            rowTokens = tokens.to(ScalarType.Int64).reshape(-1).data<long>().ToArray();
            seqLen = tokens.shape[1];
        }

        // Split: whole sequences (or rows) to A or B by a seeded permutation.
        long units = n / seqLen;
        var perm = new Random(seed).Shuffle(units);
        var inA = new bool[n];
        for (long i = 0; i < units / 2; i++)
            for (long p = 0; p < seqLen; p++) inA[perm[i] * seqLen + p] = true;

        // Pass 1: firing counts per split and the mean activation.
        int dSae = decomposition.DSae;
        var countA = new long[dSae];
        var countB = new long[dSae];
        var sum = zeros(source.Dimension, ScalarType.Float64);
        long row = 0;
        foreach (var batch in source.ReadBatches(options.BatchSize))
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var fired = decomposition.Encode(batch).gt(0);
            var mask = tensor(inA.AsSpan((int)row, (int)batch.shape[0]).ToArray()).unsqueeze(1);
            var a = (fired & mask).sum(dim: 0).data<long>().ToArray();
            var b = (fired & mask.logical_not()).sum(dim: 0).data<long>().ToArray();
            for (int f = 0; f < dSae; f++) { countA[f] += a[f]; countB[f] += b[f]; }
            sum.add_(batch.to(ScalarType.Float64).sum(dim: 0));
            row += batch.shape[0];
        }
        var mean = (sum / n).to(ScalarType.Float32);
        var eligible = Enumerable.Range(0, dSae).Where(f => countA[f] >= options.MinActive && countB[f] >= options.MinActive).ToList();
        var rng = new Random(seed + 1);
        var chosen = eligible.Count <= options.MaxFeatures ? eligible : eligible.OrderBy(_ => rng.Next()).Take(options.MaxFeatures).Order().ToList();
        if (chosen.Count == 0) { sum.Dispose(); mean.Dispose(); return []; }

        // Pass 2: the chosen features' activations on every row.
        var index = tensor(chosen.Select(f => (long)f).ToArray());
        var acts = new float[chosen.Count][];
        for (int j = 0; j < chosen.Count; j++) acts[j] = new float[n];
        row = 0;
        foreach (var batch in source.ReadBatches(options.BatchSize))
        {
            using var scope = NewDisposeScope();
            var f = decomposition.Encode(batch).index_select(1, index).t().contiguous();
            var values = f.data<float>().ToArray();
            long b = batch.shape[0];
            for (int j = 0; j < chosen.Count; j++) Array.Copy(values, j * b, acts[j], row, b);
            row += b;
        }

        var rowsA = Enumerable.Range(0, (int)n).Where(r => inA[r]).ToArray();
        var rowsB = Enumerable.Range(0, (int)n).Where(r => !inA[r]).ToArray();
        var top = chosen.Select((_, j) => rowsA.OrderByDescending(r => acts[j][r]).Take(options.TopK).Where(r => acts[j][r] > 0).ToArray()).ToList();
        bool byToken = rowTokens is not null && options.Explanation != ExplanationKind.Direction;
        var predictions = byToken
            ? TokenPredictions(acts, top, rowTokens!, out var explanations)
            : DirectionPredictions(source, mean, top, options.BatchSize, out explanations);
        sum.Dispose();
        mean.Dispose();
        index.Dispose();

        var results = new List<FeatureScore>();
        for (int j = 0; j < chosen.Count; j++)
        {
            double Score(int[] rows) => RankCorrelationOrZero(rows.Select(r => predictions[j][r]).ToArray(), rows.Select(r => (double)acts[j][r]).ToArray());
            results.Add(new FeatureScore(chosen[j], byToken ? "token" : "direction", explanations[j], Score(rowsA), Score(rowsB)));
        }
        return results;
    }

    static double RankCorrelationOrZero(double[] prediction, double[] actual)
    {
        var r = RankCorrelation.Pearson(prediction, actual);
        return double.IsNaN(r) ? 0 : r;
    }

    static double[][] TokenPredictions(float[][] acts, List<int[]> top, long[] rowTokens, out string[] explanations)
    {
        var predictions = new double[acts.Length][];
        explanations = new string[acts.Length];
        for (int j = 0; j < acts.Length; j++)
        {
            var weights = top[j].GroupBy(r => rowTokens[r]).ToDictionary(g => g.Key, g => g.Average(r => (double)acts[j][r]));
            predictions[j] = rowTokens.Select(t => weights.TryGetValue(t, out var w) ? w : 0).ToArray();
            explanations[j] = "tokens {" + string.Join(", ", weights.OrderByDescending(kv => kv.Value).Take(8)
                .Select(kv => kv.Key.ToString(CultureInfo.InvariantCulture))) + (weights.Count > 8 ? ", …" : "") + "}";
        }
        return predictions;
    }

    static double[][] DirectionPredictions(IActivationSource source, Tensor mean, List<int[]> top, int batchSize, out string[] explanations)
    {
        int features = top.Count;
        var needed = top.SelectMany(t => t).ToHashSet();
        var gathered = new Dictionary<int, Tensor>();
        long row = 0;
        foreach (var batch in source.ReadBatches(batchSize))
        {
            for (int i = 0; i < batch.shape[0]; i++)
                if (needed.Contains((int)(row + i))) gathered[(int)(row + i)] = (batch[i] - mean).DetachFromDisposeScope();
            row += batch.shape[0];
        }
        var directions = new List<Tensor>();
        explanations = new string[features];
        for (int j = 0; j < features; j++)
        {
            var d = top[j].Length == 0 ? zeros_like(mean) : stack(top[j].Select(r => gathered[r])).mean([0]);
            var norm = d.norm().item<float>();
            directions.Add(norm > 0 ? d / norm : d);
            explanations[j] = $"mean direction of {top[j].Length} top examples";
        }
        foreach (var t in gathered.Values) t.Dispose();
        var u = stack(directions).t();
        var predictions = new double[features][];
        for (int j = 0; j < features; j++) predictions[j] = new double[source.Count];
        row = 0;
        foreach (var batch in source.ReadBatches(batchSize))
        {
            using var scope = NewDisposeScope();
            var p = (batch - mean).matmul(u).t().contiguous().to(ScalarType.Float64).data<double>().ToArray();
            long b = batch.shape[0];
            for (int j = 0; j < features; j++) Array.Copy(p, j * b, predictions[j], row, b);
            row += b;
        }
        u.Dispose();
        foreach (var d in directions) d.Dispose();
        return predictions;
    }
}

file static class RandomExtensions
{
    public static long[] Shuffle(this Random rng, long n)
    {
        var a = new long[n];
        for (long i = 0; i < n; i++) a[i] = i;
        for (long i = n - 1; i > 0; i--)
        {
            long j = rng.NextInt64(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
        return a;
    }
}

/// <summary>What an explanation is built from: the tokens at the top examples, or their mean activation direction.</summary>
public enum ExplanationKind
{
    /// <summary>Tokens when the token ids are known, else the direction.</summary>
    Auto,
    Token,
    Direction,
}

public sealed record ExplanationConsistencyOptions : MethodOptions
{
    [Option("the explanation: auto (tokens when the token ids are known, else the direction), token or direction; the split is by sequence whenever token ids are known")]
    public ExplanationKind Explanation { get; init; } = ExplanationKind.Auto;

    [Option("top-activating examples on split A an explanation is built from")]
    public int TopK { get; init; } = 20;

    [Option("features checked (a seeded sample of the eligible ones when there are more)")]
    public int MaxFeatures { get; init; } = 64;

    [Option("a feature is checked only when it fires on at least this many rows of each split")]
    public int MinActive { get; init; } = 10;

    [Option("activation rows encoded per batch")]
    public int BatchSize { get; init; } = 4096;

    public override IEnumerable<OptionError> Validate()
    {
        if (TopK < 1) yield return new("top_k", "must be at least 1");
        if (MaxFeatures < 1) yield return new("max_features", "must be at least 1");
        if (MinActive < 1) yield return new("min_active", "must be at least 1");
        if (BatchSize < 1) yield return new("batch_size", "must be at least 1");
    }
}
