using Mechanist.Decomposers;
using Mechanist.Models;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Attribution;

/// <summary>
/// Extension point: scores inputs, sites or features for a target metric. Every hook a method adds is removed before
/// it returns, also when it throws (<see cref="IHookedModel.ActiveHookCount"/> is back where it was).
/// </summary>
public abstract class AttributionMethod
{
    public abstract AttributionResult Attribute(AttributionContext context);
}

/// <summary>An attribution method with typed options.</summary>
public abstract class AttributionMethod<TOptions> : AttributionMethod where TOptions : MethodOptions, new()
{
    public sealed override AttributionResult Attribute(AttributionContext context) => Attribute(context, context.GetOptions<TOptions>());

    protected abstract AttributionResult Attribute(AttributionContext context, TOptions options);
}

public sealed class AttributionContext : MethodContext
{
    public required IHookedModel Model { get; init; }

    /// <summary>The model input being explained, [batch, …] (the clean run for patching).</summary>
    public required Tensor Input { get; init; }

    /// <summary>
    /// Reference input, same shape as <see cref="Input"/> (or broadcastable to it): integrated gradients' baseline,
    /// the corrupted run of activation and attribution patching, feature attribution's reference run.
    /// </summary>
    public Tensor? Baseline { get; init; }

    /// <summary>The target metric: model output → one scalar per example [batch]. Must be differentiable for gradient methods.</summary>
    public required Func<Tensor, Tensor> Metric { get; init; }

    /// <summary>
    /// The metric for outputs whose rows are given examples: <c>(output [R, …], examples [R]) → [R]</c>, examples[r] being
    /// the index into <see cref="Input"/> of the input that produced output row r. Needed when the metric depends on
    /// which example a row is (a label per example, as in "logit of the correct answer"); methods that run subsets or
    /// repetitions of the examples (integration steps, patched copies) call it with the rows' example indices. Null when
    /// the metric is the same function for every row.
    /// </summary>
    public Func<Tensor, Tensor, Tensor>? ExampleMetric { get; init; }

    /// <summary>Human description of the metric, recorded with the result (e.g. "logit of token 42 at the last position").</summary>
    public required string MetricDescription { get; init; }

    /// <summary>Hook site to attribute to; inputs when null.</summary>
    public string? Site { get; init; }

    /// <summary>Several hook sites, for methods that score many sites at once (patching); <see cref="Site"/> when null.</summary>
    public IReadOnlyList<string>? Sites { get; init; }

    /// <summary>A decomposition spliced at <see cref="Site"/> (feature attribution): its latents are what get scored.</summary>
    public Decomposition? Decomposition { get; init; }
}

/// <summary>
/// Scores with the metric they explain and, where the method has one, its completeness error
/// (max over examples of |Σ scores + error node − ΔM|). The tensors belong to the caller.
/// </summary>
public sealed record AttributionResult(Tensor Scores, string Metric, double? CompletenessError = null)
{
    /// <summary>What one score is, as a formula (e.g. "(x − x′) ⊙ ∫ ∂M/∂x dα").</summary>
    public string ScoreDefinition { get; init; } = "";

    /// <summary>What <see cref="CompletenessError"/> and <see cref="ConvergenceDelta"/> compare, as a formula.</summary>
    public string? CompletenessDefinition { get; init; }

    /// <summary>Per example [batch]: Σ scores (+ error node) − (M(x) − M(x′)), for methods with a completeness property.</summary>
    public Tensor? ConvergenceDelta { get; init; }

    /// <summary>The metric on the explained run, [batch].</summary>
    public Tensor? MetricValue { get; init; }

    /// <summary>The metric on the reference run (baseline, corrupted, or ablated), [batch].</summary>
    public Tensor? ReferenceMetricValue { get; init; }

    /// <summary>Names of the entries along the last axis of <see cref="Scores"/> when they are units (patching: "site@pos3").</summary>
    public IReadOnlyList<string>? UnitLabels { get; init; }

    /// <summary>Named parts: per-site scores (patching), the error node (feature attribution).</summary>
    public IReadOnlyDictionary<string, Tensor> Parts { get; init; } = new Dictionary<string, Tensor>();

    /// <summary>Settings that shaped the numbers (steps, rule, granularity, …), for the record.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}
