using Mechanist.Models;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Attribution;

/// <summary>Extension point: scores inputs, sites or features for a target metric.</summary>
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

    /// <summary>The model input being explained.</summary>
    public required Tensor Input { get; init; }

    /// <summary>Reference input (integrated gradients' baseline, patching's corrupted run), when the method takes one.</summary>
    public Tensor? Baseline { get; init; }

    /// <summary>The target metric: model output → one scalar per example [batch].</summary>
    public required Func<Tensor, Tensor> Metric { get; init; }

    /// <summary>Human description of the metric, recorded with the result (e.g. "logit of token 42 at the last position").</summary>
    public required string MetricDescription { get; init; }

    /// <summary>Hook site to attribute to; inputs when null.</summary>
    public string? Site { get; init; }
}

/// <summary>Scores with the metric they explain and, where the method has one, its completeness error.</summary>
public sealed record AttributionResult(Tensor Scores, string Metric, double? CompletenessError = null);
