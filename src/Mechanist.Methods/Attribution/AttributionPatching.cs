using Mechanist.Attribution;
using Mechanist.Discovery;
using static Mechanist.Methods.Attribution.AttributionCore;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>
/// Attribution patching: the first-order estimate of activation patching for every unit of every site at once,
/// from two forward passes and one backward pass: ΔM ≈ (a_clean − a_corrupt) · ∂M/∂a at the corrupted run.
/// </summary>
[AttributionMethod("attribution-patching",
    Title = "Attribution patching (AtP)",
    Summary = "A linear estimate of activation patching for every unit at once: score = Σ_unit (a_clean − a_corrupted) ⊙ ∂M/∂a, the gradient taken on the corrupted run (denoising) or, for noising, (a_corrupted − a_clean) ⊙ ∂M/∂a on the clean run. Two forward passes and one backward pass for all sites. Exact when M is linear in the activation; often poor for large activations such as the residual stream, so check it against activation-patching.",
    Reference = "Nanda 2023, Attribution Patching: Activation Patching At Industrial Scale; Kramár et al. 2024, AtP*.",
    HelpLink = "docs/methods/attribution-patching.md")]
public sealed class AttributionPatching : AttributionMethod<PatchingOptions>
{
    protected override AttributionResult Attribute(AttributionContext context, PatchingOptions options)
    {
        var corrupted = RequireBaseline(context, "attribution-patching");
        var sites = SitesOf(context);
        using var scope = NewDisposeScope();
        var model = context.Model;
        var clean = context.Input;
        long batch = BatchOf(clean);
        bool denoise = options.Direction == PatchDirection.Denoising;

        // The run the gradient is taken on (the one being patched) and the run the patch values come from.
        var gradInput = denoise ? corrupted : clean;
        var otherInput = denoise ? clean : corrupted;
        Dictionary<string, Tensor> other;
        Tensor otherOut;
        using (no_grad()) other = Cache(model, otherInput, sites, out otherOut);

        var values = new Dictionary<string, Tensor>();
        var deltas = new Dictionary<string, Tensor>();
        Tensor m;
        using (enable_grad())
        {
            using (var hooks = new HookSet(model))
            {
                foreach (var site in sites)
                    hooks.Add(site, a =>
                    {
                        if (deltas.ContainsKey(site)) throw new InvalidOperationException($"hook site {site} fired more than once in one run.");
                        values[site] = a.detach().clone();
                        var d = zeros_like(a).requires_grad_(true);
                        deltas[site] = d;
                        return a + d;
                    });
                m = Metric(context, model.Run(gradInput), batch);
            }
            var missing = sites.FirstOrDefault(s => !deltas.ContainsKey(s));
            if (missing is not null) throw new InvalidOperationException($"hook site {missing} did not fire during the run.");
            var grads = Gradients(m.sum(), sites.Select(s => deltas[s]).ToList());
            var perSite = new List<(PatchingUnits, Tensor)>();
            for (int i = 0; i < sites.Count; i++)
            {
                var site = sites[i];
                var units = PatchingUnits.For(site, options.Granularity, values[site]);
                var contribution = (other[site].to(values[site].dtype) - values[site]) * grads[i];
                perSite.Add((units, units.Reduce(contribution.detach())));
            }
            var (all, labels, parts) = PatchingUnits.Join(perSite);
            Tensor mOther;
            using (no_grad()) mOther = Metric(context, otherOut, batch);
            var mClean = denoise ? mOther : m.detach();
            var mCorrupt = denoise ? m.detach() : mOther;
            return new AttributionResult(all.MoveToOuterDisposeScope(), context.MetricDescription)
            {
                ScoreDefinition = denoise
                    ? "Σ_unit (a_clean − a_corrupted) ⊙ ∂M/∂a |corrupted run (first-order estimate of denoising activation patching)"
                    : "Σ_unit (a_corrupted − a_clean) ⊙ ∂M/∂a |clean run (first-order estimate of noising activation patching)",
                UnitLabels = labels,
                Parts = parts.ToDictionary(kv => kv.Key, kv => kv.Value.MoveToOuterDisposeScope()),
                MetricValue = mClean.MoveToOuterDisposeScope(),
                ReferenceMetricValue = mCorrupt.MoveToOuterDisposeScope(),
                Settings = PatchingUnits.Describe(options.Granularity, options.Direction, sites),
            };
        }
    }
}
