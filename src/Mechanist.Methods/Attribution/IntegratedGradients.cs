using System.Globalization;
using Mechanist.Attribution;
using Mechanist.Discovery;
using Mechanist.Options;
using static Mechanist.Methods.Attribution.AttributionCore;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>
/// Integrated gradients on the input: IG_i = (x_i − x′_i) ∫₀¹ ∂M(x′ + α(x − x′))/∂x_i dα, the integral taken with a
/// quadrature rule whose steps are evaluated in batches. Reports the per-example convergence delta
/// Σ_i IG_i − (M(x) − M(x′)), which completeness says is zero.
/// </summary>
[AttributionMethod("integrated-gradients",
    Title = "Integrated gradients",
    Summary = "Path-integrated gradients from a baseline x′ (zeros unless given) to the input x: IG_i = (x_i − x′_i) ∫₀¹ ∂M(x′ + α(x − x′))/∂x_i dα, with Gauss–Legendre or Riemann (left, right, middle, trapezoid) quadrature. Steps run in batches of internal_batch_size rows. Completeness (Σ IG = M(x) − M(x′)) is checked and the per-example convergence delta reported.",
    Reference = "Sundararajan, Taly & Yan 2017, Axiomatic Attribution for Deep Networks; Captum's IntegratedGradients.",
    HelpLink = "docs/methods/integrated-gradients.md")]
public sealed class IntegratedGradients : AttributionMethod<IntegratedGradientsOptions>
{
    public const string Completeness = "δ_b = Σ_i IG_{b,i} − (M(x_b) − M(x′_b)); completeness_error = max_b |δ_b|";

    protected override AttributionResult Attribute(AttributionContext context, IntegratedGradientsOptions options)
    {
        if (context.Site is not null)
            throw new MechanistInputException(
                $"integrated-gradients attributes to the input; for the hook site '{context.Site}' use layer-integrated-gradients.");
        RequireFloatInput(context.Input, "integrated-gradients");
        using var scope = NewDisposeScope();
        var model = context.Model;
        long batch = BatchOf(context.Input);
        var x = context.Input.detach();
        var baseline = BaselineLike(x, context.Baseline?.detach(), "baseline");
        var (alphas, weights) = IntegrationRules.Nodes(options.Rule, options.Steps);

        var integral = PathIntegrator.IntegrateGradients(batch, alphas, weights, options.InternalBatchSize,
            (example, alpha) => PathIntegrator.Interpolate(baseline, x, example, alpha),
            (example, points) => Metric(context, model.Run(points), example.shape[0], example),
            context.CancellationToken);
        var scores = (x - baseline) * integral;

        Tensor mx, mb;
        using (no_grad())
        {
            mx = Metric(context, model.Run(x), batch);
            mb = Metric(context, model.Run(baseline), batch);
        }
        var delta = scores.reshape(batch, -1).sum(dim: 1) - (mx - mb);
        return new AttributionResult(scores.MoveToOuterDisposeScope(), context.MetricDescription, MaxAbs(delta))
        {
            ScoreDefinition = "IG_i = (x_i − x′_i) Σ_k w_k ∂M/∂x_i(x′ + α_k(x − x′))",
            CompletenessDefinition = Completeness,
            ConvergenceDelta = delta.MoveToOuterDisposeScope(),
            MetricValue = mx.MoveToOuterDisposeScope(),
            ReferenceMetricValue = mb.MoveToOuterDisposeScope(),
            Settings = options.Describe(context.Baseline is null ? "zeros" : "given"),
        };
    }
}

public sealed record IntegratedGradientsOptions : MethodOptions
{
    [Option("number of quadrature points along the path from the baseline to the input")]
    public int Steps { get; init; } = 50;

    [Option("quadrature rule: gauss_legendre, riemann_left, riemann_right, riemann_middle or riemann_trapezoid")]
    public IntegrationRule Rule { get; init; } = IntegrationRule.GaussLegendre;

    [Option("rows (steps × examples) per forward/backward pass; 0 evaluates them all in one pass")]
    public int InternalBatchSize { get; init; }

    public override IEnumerable<OptionError> Validate()
    {
        if (Steps < 1) yield return new("steps", "must be at least 1");
        if (Rule == IntegrationRule.RiemannTrapezoid && Steps < 2) yield return new("steps", "riemann_trapezoid needs at least 2");
        if (Steps > 100_000) yield return new("steps", "must be at most 100000");
        if (InternalBatchSize < 0) yield return new("internal_batch_size", "must be 0 (all at once) or positive");
    }

    internal Dictionary<string, string> Describe(string baseline) => new()
    {
        ["steps"] = Steps.ToString(CultureInfo.InvariantCulture),
        ["rule"] = OptionSchema.FormatValue(Rule),
        ["internal_batch_size"] = InternalBatchSize.ToString(CultureInfo.InvariantCulture),
        ["baseline"] = baseline,
    };
}
