using Mechanist.Attribution;
using Mechanist.Discovery;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>Input × gradient: x ⊙ ∂M/∂x, at the input or at a hook site (gradient × activation).</summary>
[AttributionMethod("input-x-gradient",
    Title = "Input × gradient",
    Summary = "The input (or the activation at a hook site) times the gradient of the target metric: x ⊙ ∂M/∂x. Exact for a function linear in x with a zero reference (Σ scores = M(x) − M(0)); a first-order estimate otherwise.",
    Reference = "Shrikumar et al. 2016, Not Just a Black Box: Learning Important Features Through Propagating Activation Differences.",
    HelpLink = "docs/methods/input-x-gradient.md")]
public sealed class InputXGradient : AttributionMethod
{
    public override AttributionResult Attribute(AttributionContext context)
    {
        using var scope = NewDisposeScope();
        var (value, gradient, metric) = GradientProbe.Compute(context, context.Site, "input-x-gradient");
        string of = context.Site is null ? "x" : $"a[{context.Site}]";
        return new AttributionResult((value * gradient).MoveToOuterDisposeScope(), context.MetricDescription)
        {
            ScoreDefinition = $"{of} ⊙ ∂M/∂{of}",
            MetricValue = metric.MoveToOuterDisposeScope(),
            Settings = new Dictionary<string, string> { ["site"] = context.Site ?? "input" },
        };
    }
}
