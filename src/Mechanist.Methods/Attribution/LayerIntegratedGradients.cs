using Mechanist.Attribution;
using Mechanist.Discovery;
using static Mechanist.Methods.Attribution.AttributionCore;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>
/// Integrated gradients at a hook site: the activation a at the site is replaced along the straight path from the
/// reference activation a′ (the baseline run's activation, or zeros) to a, the rest of the input unchanged.
/// Works at any site, token embeddings included (the way to attribute a token model's output to its tokens).
/// </summary>
[AttributionMethod("layer-integrated-gradients",
    Title = "Layer integrated gradients",
    Summary = "Integrated gradients in the activation space of a hook site (any site, token embeddings included): IG_i = (a_i − a′_i) ∫₀¹ ∂M/∂a_i(a′ + α(a − a′)) dα, where a is the site's activation on the input and a′ on the baseline input (zeros when none is given). Same rules, batching and completeness check as integrated-gradients, against F(1) − F(0) of the patched path.",
    Reference = "Sundararajan, Taly & Yan 2017, Axiomatic Attribution for Deep Networks; Captum's LayerIntegratedGradients.",
    HelpLink = "docs/methods/layer-integrated-gradients.md")]
public sealed class LayerIntegratedGradients : AttributionMethod<IntegratedGradientsOptions>
{
    protected override AttributionResult Attribute(AttributionContext context, IntegratedGradientsOptions options)
    {
        var site = RequireSite(context, "layer-integrated-gradients");
        using var scope = NewDisposeScope();
        var model = context.Model;
        long batch = BatchOf(context.Input);
        var x = context.Input.detach();
        Tensor a, reference, mx;
        using (no_grad())
        {
            var cache = Cache(model, x, [site], out var output);
            a = cache[site];
            mx = Metric(context, output, batch);
            if (context.Baseline is { } b)
            {
                if (b.shape[0] != batch && b.shape[0] != 1)
                    throw new MechanistInputException($"the baseline has {b.shape[0]} examples; the input has {batch}.");
                reference = Cache(model, b.to(x.device), [site], out _)[site];
                reference = BaselineLike(a, reference, $"baseline's activation at {site}");
            }
            else reference = zeros_like(a);
        }

        var (alphas, weights) = IntegrationRules.Nodes(options.Rule, options.Steps);
        var integral = PathIntegrator.IntegrateGradients(batch, alphas, weights, options.InternalBatchSize,
            (example, alpha) => PathIntegrator.Interpolate(reference, a, example, alpha),
            (example, points) => Metric(context, RunPatched(model, x.index_select(0, example.to(x.device)), site, points), example.shape[0], example),
            context.CancellationToken);
        var scores = (a - reference) * integral;

        Tensor mRef;
        using (no_grad())
            mRef = Metric(context, RunPatched(model, x, site, reference), batch);
        var delta = scores.reshape(batch, -1).sum(dim: 1) - (mx - mRef);
        var settings = options.Describe(context.Baseline is null ? "zero activation" : "baseline run's activation");
        settings["site"] = site;
        return new AttributionResult(scores.MoveToOuterDisposeScope(), context.MetricDescription, MaxAbs(delta))
        {
            ScoreDefinition = $"IG_i = (a_i − a′_i) Σ_k w_k ∂M/∂a_i(a′ + α_k(a − a′)), a = activation at {site}",
            CompletenessDefinition = "δ_b = Σ_i IG_{b,i} − (F_b(1) − F_b(0)), F(α) = M with the site set to a′ + α(a − a′); completeness_error = max_b |δ_b|",
            ConvergenceDelta = delta.MoveToOuterDisposeScope(),
            MetricValue = mx.MoveToOuterDisposeScope(),
            ReferenceMetricValue = mRef.MoveToOuterDisposeScope(),
            Settings = settings,
        };
    }

    /// <summary>Runs <paramref name="input"/> with the activation at <paramref name="site"/> replaced by <paramref name="value"/>.</summary>
    internal static Tensor RunPatched(Mechanist.Models.IHookedModel model, Tensor input, string site, Tensor value)
    {
        using var hooks = new HookSet(model);
        hooks.Add(site, _ => value);
        return model.Run(input);
    }
}
