using Mechanist.Attribution;
using static Mechanist.Methods.Attribution.AttributionCore;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>One forward and one backward pass: the gradient of Σ_b M_b at the input or at a hook site.</summary>
internal static class GradientProbe
{
    /// <summary>
    /// Returns the value differentiated against (the input, or the activation at <paramref name="site"/>), its
    /// gradient and the metric [batch]. Hooks are removed before this returns.
    /// </summary>
    public static (Tensor Value, Tensor Gradient, Tensor Metric) Compute(AttributionContext context, string? site, string methodId)
    {
        long batch = BatchOf(context.Input);
        using var grad = enable_grad();
        if (site is null)
        {
            RequireFloatInput(context.Input, methodId);
            var x = context.Input.detach().clone().requires_grad_(true);
            var m = Metric(context, context.Model.Run(x), batch);
            var g = Gradient(m.sum(), x);
            return (x.detach(), g, m.detach());
        }
        RequireSite(context.Model, site);
        return AtSite(context.Model, context.Input, site, o => Metric(context, o, batch));
    }

    /// <summary>The activation at <paramref name="site"/>, ∂(Σ metric)/∂activation, and the metric, from one run.</summary>
    public static (Tensor Value, Tensor Gradient, Tensor Metric) AtSite(Mechanist.Models.IHookedModel model, Tensor input, string site, Func<Tensor, Tensor> metric)
    {
        using var grad = enable_grad();
        Tensor? delta = null, value = null;
        int fired = 0;
        Tensor m;
        using (var hooks = new HookSet(model))
        {
            hooks.Add(site, a =>
            {
                if (++fired > 1) throw new InvalidOperationException($"hook site {site} fired more than once in one run.");
                value = a.detach().clone();
                delta = zeros_like(a).requires_grad_(true);
                return a + delta;
            });
            m = metric(model.Run(input));
        }
        if (delta is null || value is null)
            throw new InvalidOperationException($"hook site {site} did not fire during the run.");
        var g = Gradient(m.sum(), delta);
        return (value, g, m.detach());
    }
}
