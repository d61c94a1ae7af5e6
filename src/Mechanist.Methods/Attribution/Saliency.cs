using Mechanist.Attribution;
using Mechanist.Discovery;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>Saliency (Simonyan et al.): the gradient of the metric at the input or at a hook site, by default its magnitude.</summary>
[AttributionMethod("saliency",
    Title = "Saliency (gradient magnitude)",
    Summary = "The gradient of the target metric with respect to the input, or to the activation at a hook site: |∂M/∂x| (or the signed gradient). One forward and one backward pass; a local, first-order signal, not a causal one.",
    Reference = "Simonyan, Vedaldi & Zisserman 2014, Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency Maps.",
    HelpLink = "docs/methods/saliency.md")]
public sealed class Saliency : AttributionMethod<SaliencyOptions>
{
    protected override AttributionResult Attribute(AttributionContext context, SaliencyOptions options)
    {
        using var scope = NewDisposeScope();
        var (_, gradient, metric) = GradientProbe.Compute(context, context.Site, "saliency");
        var scores = options.Abs ? gradient.abs() : gradient;
        string of = context.Site is null ? "x" : $"a[{context.Site}]";
        return new AttributionResult(scores.MoveToOuterDisposeScope(), context.MetricDescription)
        {
            ScoreDefinition = options.Abs ? $"|∂M/∂{of}|" : $"∂M/∂{of}",
            MetricValue = metric.MoveToOuterDisposeScope(),
            Settings = new Dictionary<string, string> { ["abs"] = options.Abs ? "true" : "false", ["site"] = context.Site ?? "input" },
        };
    }
}

public sealed record SaliencyOptions : MethodOptions
{
    [Option("report the gradient's magnitude |∂M/∂x| (true) or the signed gradient (false)")]
    public bool Abs { get; init; } = true;
}
