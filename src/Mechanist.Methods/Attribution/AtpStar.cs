using System.Globalization;
using System.Text.RegularExpressions;
using Mechanist.Attribution;
using Mechanist.Discovery;
using Mechanist.Options;
using static Mechanist.Methods.Attribution.AttributionCore;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>
/// AtP* (Kramár et al. 2024): attribution patching with its two failure modes fixed. The QK fix: for attention
/// queries and keys, the linear approximation through the softmax (which vanishes when attention is saturated) is
/// replaced by the exact attention pattern of the patched scores, and only the rest of the model is linearised:
/// ĉ(n) = Σ (softmax(s + Δs(n)) − softmax(s)) · ∂M/∂pattern, with Δs(n) = scale · q · Δk(n)ᵀ (keys) or
/// scale · Δq(n) · kᵀ (queries). GradDrop: the estimate is taken L times, each with the gradient through one
/// layer's residual contributions (its attention and MLP outputs) zeroed, and ĉ_GD(n) = (1/(L − 1)) Σ_ℓ |ĉ_ℓ(n)|,
/// which keeps a node whose gradient cancels across paths from looking irrelevant.
/// </summary>
[AttributionMethod("atp-star",
    Title = "AtP* (attribution patching with the QK fix and GradDrop)",
    Summary = "Attribution patching corrected for its two known failure modes (Kramár et al. 2024). QK fix: for blocks.L.attn.hook_q and hook_k units the patched attention pattern is computed exactly from the patched scores (scale · q · kᵀ, the scale read off the run) and only the path after the pattern is linearised, so saturated attention no longer hides a key or query's effect. GradDrop (grad_drop=true, the paper's full AtP*): the estimate is repeated with the gradient through each layer's residual contributions (hook_attn_out, hook_mlp_out) cut, and the scores are (1/(L − 1)) Σ_ℓ |estimate_ℓ|: unsigned magnitudes robust to cancellation between paths. Other units are attribution patching. Granularity site, position or head for queries and keys.",
    Reference = "Kramár, Lieberum, Shah & Nanda 2024, AtP*: An efficient and scalable method for localizing LLM behaviour to components.",
    HelpLink = "docs/methods/atp-star.md")]
public sealed partial class AtpStar : AttributionMethod<AtpStarOptions>
{
    [GeneratedRegex(@"^(blocks\.\d+\.attn\.)hook_(q|k)$")]
    private static partial Regex QueryOrKey();

    [GeneratedRegex(@"^blocks\.(\d+)\.hook_(attn_out|mlp_out)$")]
    private static partial Regex LayerOutput();

    protected override AttributionResult Attribute(AttributionContext context, AtpStarOptions options)
    {
        var corrupted = RequireBaseline(context, "atp-star");
        var sites = SitesOf(context);
        var model = context.Model;
        foreach (var site in sites)
            if (QueryOrKey().Match(site) is { Success: true } m)
            {
                if (options.Granularity == PatchGranularity.Element)
                    throw new MechanistInputException($"atp-star: granularity element is not available for {site}: the QK fix patches a query or key per position and head (use head, position or site).");
                foreach (var part in new[] { "hook_q", "hook_k", "hook_attn_scores", "hook_pattern" })
                    RequireSite(model, m.Groups[1].Value + part);
            }
        var dropLayers = options.GradDrop
            ? model.HookSites.Select(s => LayerOutput().Match(s)).Where(m => m.Success).GroupBy(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
                .OrderBy(g => g.Key).Select(g => g.Select(m => m.Value).ToList()).ToList()
            : [];
        if (options.GradDrop && dropLayers.Count < 2)
            throw new MechanistInputException(
                $"atp-star: GradDrop needs at least two layers with residual outputs (blocks.L.hook_attn_out / hook_mlp_out); model '{model.ModelType}' has {dropLayers.Count}. Set grad_drop=false.");

        using var scope = NewDisposeScope();
        var clean = context.Input;
        long batch = BatchOf(clean);
        bool denoise = options.Direction == PatchDirection.Denoising;
        var gradInput = denoise ? corrupted : clean;
        var otherInput = denoise ? clean : corrupted;
        var extra = sites.Select(s => QueryOrKey().Match(s)).Where(m => m.Success)
            .SelectMany(m => new[] { m.Groups[1].Value + "hook_q", m.Groups[1].Value + "hook_k" }).ToList();
        Dictionary<string, Tensor> other;
        Tensor otherOut;
        using (no_grad()) other = Cache(model, otherInput, sites.Concat(extra).Distinct(), out otherOut);
        var scales = sites.Select(s => QueryOrKey().Match(s)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct()
            .ToDictionary(prefix => prefix, prefix => ScoreScale(model, gradInput, prefix));

        Tensor scores;
        List<string> labels;
        Dictionary<string, Tensor> parts;
        Tensor mRun;
        if (!options.GradDrop)
            (scores, labels, parts, mRun) = Estimate(context, options, sites, gradInput, other, scales, batch, null);
        else
        {
            Tensor? sum = null;
            Dictionary<string, Tensor>? sumParts = null;
            labels = [];
            mRun = null!;
            foreach (var layer in dropLayers)
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                var (s, l, p, m) = Estimate(context, options, sites, gradInput, other, scales, batch, layer);
                sum = sum is null ? s.abs() : sum + s.abs();
                sumParts = sumParts is null ? p.ToDictionary(kv => kv.Key, kv => kv.Value.abs()) : sumParts.ToDictionary(kv => kv.Key, kv => kv.Value + p[kv.Key].abs());
                labels = l;
                mRun = m;
            }
            double norm = dropLayers.Count - 1;
            scores = sum! / norm;
            parts = sumParts!.ToDictionary(kv => kv.Key, kv => kv.Value / norm);
        }
        Tensor mOther;
        using (no_grad()) mOther = Metric(context, otherOut, batch);
        var settings = PatchingUnits.Describe(options.Granularity, options.Direction, sites);
        settings["qk_fix"] = "true";
        settings["grad_drop"] = options.GradDrop ? $"true ({dropLayers.Count} layers)" : "false";
        return new AttributionResult(scores.MoveToOuterDisposeScope(), context.MetricDescription)
        {
            ScoreDefinition = (options.GradDrop ? "(1/(L − 1)) Σ_ℓ |AtP*_ℓ(u)|, AtP*_ℓ with the gradient through layer ℓ's hook_attn_out and hook_mlp_out cut; " : "")
                + (denoise
                    ? "AtP*(u): queries and keys Σ (softmax(s + Δs) − softmax(s)) · ∂M/∂pattern with Δs from the clean q or k patched into the corrupted run; other units Σ_unit (a_clean − a_corrupted) ⊙ ∂M/∂a, at the corrupted run"
                    : "AtP*(u): queries and keys Σ (softmax(s + Δs) − softmax(s)) · ∂M/∂pattern with Δs from the corrupted q or k patched into the clean run; other units Σ_unit (a_corrupted − a_clean) ⊙ ∂M/∂a, at the clean run"),
            UnitLabels = labels,
            Parts = parts.ToDictionary(kv => kv.Key, kv => kv.Value.MoveToOuterDisposeScope()),
            MetricValue = (denoise ? mOther : mRun).MoveToOuterDisposeScope(),
            ReferenceMetricValue = (denoise ? mRun : mOther).MoveToOuterDisposeScope(),
            Settings = settings,
        };
    }

    /// <summary>One forward and backward pass at the run being patched, with the gradient through <paramref name="drop"/>'s sites cut when given.</summary>
    static (Tensor Scores, List<string> Labels, Dictionary<string, Tensor> Parts, Tensor Metric) Estimate(AttributionContext context, AtpStarOptions options,
        IReadOnlyList<string> sites, Tensor input, Dictionary<string, Tensor> other, Dictionary<string, double> scales, long batch, IReadOnlyList<string>? drop)
    {
        var model = context.Model;
        var qk = sites.Select(s => QueryOrKey().Match(s)).Where(m => m.Success).ToList();
        var patternSites = qk.Select(m => m.Groups[1].Value + "hook_pattern").Distinct().ToList();
        var readSites = qk.SelectMany(m => new[] { m.Groups[1].Value + "hook_q", m.Groups[1].Value + "hook_k", m.Groups[1].Value + "hook_attn_scores" })
            .Concat(sites).Distinct().ToList();
        var values = new Dictionary<string, Tensor>();
        var deltas = new Dictionary<string, Tensor>();
        Tensor m;
        using (enable_grad())
        {
            using (var hooks = new HookSet(model))
            {
                foreach (var site in readSites.Concat(patternSites).Distinct())
                {
                    bool needsGradient = sites.Contains(site) || patternSites.Contains(site);
                    hooks.Add(site, a =>
                    {
                        if (values.ContainsKey(site)) throw new InvalidOperationException($"hook site {site} fired more than once in one run.");
                        values[site] = a.detach().clone();
                        if (!needsGradient) return null;
                        var d = zeros_like(a).requires_grad_(true);
                        deltas[site] = d;
                        return a + d;
                    });
                }
                if (drop is not null)
                    foreach (var site in drop) hooks.Add(site, a => a.detach());
                m = Metric(context, model.Run(input), batch);
            }
            var missing = readSites.Concat(patternSites).FirstOrDefault(s => !values.ContainsKey(s));
            if (missing is not null) throw new InvalidOperationException($"hook site {missing} did not fire during the run.");
            var gradSites = deltas.Keys.ToList();
            var grads = Gradients(m.sum(), gradSites.Select(s => deltas[s]).ToList());
            var gradOf = gradSites.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => grads[p.i].detach());

            var perSite = new List<(PatchingUnits, Tensor)>();
            foreach (var site in sites)
            {
                var units = PatchingUnits.For(site, options.Granularity, values[site]);
                Tensor unitScores;
                if (QueryOrKey().Match(site) is { Success: true } match)
                {
                    var prefix = match.Groups[1].Value;
                    unitScores = QkFix(units, match.Groups[2].Value == "k", scales[prefix], values[prefix + "hook_q"], values[prefix + "hook_k"],
                        other[site], values[prefix + "hook_attn_scores"], gradOf[prefix + "hook_pattern"]);
                }
                else
                    unitScores = units.Reduce(((other[site].to(values[site].dtype) - values[site]) * gradOf[site]).detach());
                perSite.Add((units, unitScores));
            }
            var (all, labels, parts) = PatchingUnits.Join(perSite);
            return (all, labels, parts, m.detach());
        }
    }

    /// <summary>
    /// The factor between attention scores and q · kᵀ at the layer <paramref name="prefix"/> (1/√d_head in GPT-2,
    /// with any per-layer factor), measured by one run with every query and key set to ones: an unmasked score is
    /// then scale · d_head.
    /// </summary>
    static double ScoreScale(Mechanist.Models.IHookedModel model, Tensor input, string prefix)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor? scores = null;
        long dHead = 0;
        using (var hooks = new HookSet(model))
        {
            hooks.Add(prefix + "hook_q", a => { dHead = a.shape[^1]; return ones_like(a); });
            hooks.Add(prefix + "hook_k", a => ones_like(a));
            hooks.Add(prefix + "hook_attn_scores", a => { scores = a.detach().clone(); return null; });
            model.Run(input.narrow(0, 0, 1));
        }
        if (scores is null || dHead == 0) throw new InvalidOperationException($"hook sites of {prefix} did not fire.");
        // Query position pos − 1 may see key 0 in a causal model.
        return scores[0, 0, -1, 0].to(ScalarType.Float64).item<double>() / dHead;
    }

    /// <summary>
    /// The QK-fixed estimates of a query or key site's units [batch, units]. q, k [b, pos, head, d_head] and
    /// scores, ∂M/∂pattern [b, head, q, k] are the patched run's; <paramref name="patch"/> the other run's q or k.
    /// </summary>
    static Tensor QkFix(PatchingUnits units, bool isKey, double scale, Tensor q, Tensor k, Tensor patch, Tensor scores, Tensor patternGrad)
    {
        using var scope = NewDisposeScope();
        var qd = q.to(ScalarType.Float64).permute(0, 2, 1, 3);                 // [b, h, pos, dh]
        var kd = k.to(ScalarType.Float64).permute(0, 2, 1, 3);
        var s = scores.to(ScalarType.Float64);                                  // [b, h, q, k]
        var g = patternGrad.to(ScalarType.Float64);
        var finite = s.isfinite();
        var qk = qd.matmul(kd.transpose(2, 3));
        double residual = ((s.nan_to_num(0, 0, 0) - scale * qk) * finite).abs().max().item<double>();
        double magnitude = (s.nan_to_num(0, 0, 0) * finite).abs().max().item<double>();
        if (residual > 1e-3 * Math.Max(1, magnitude))
            throw new MechanistInputException($"atp-star: the attention scores are not scale · q · kᵀ (residual {residual:G3}); the QK fix needs that form.");
        var p = s.softmax(-1);
        var expected = (p * g).sum(-1, keepdim: true);                         // G = Σ_j P_j g_j, [b, h, q, 1]
        var change = (patch.to(ScalarType.Float64).permute(0, 2, 1, 3) - (isKey ? kd : qd));   // [b, h, pos, dh]
        Tensor perUnit;                                                          // [b, h, pos]: the estimate of patching position pos of head h
        if (units.Granularity == PatchGranularity.Site)
        {
            var patched = isKey ? s + scale * qd.matmul(change.transpose(2, 3)) : s + scale * change.matmul(kd.transpose(2, 3));
            var total = ((patched.softmax(-1) - p) * g).sum([1, 2, 3]);         // [b]
            return total.unsqueeze(1).to(ScalarType.Float32).MoveToOuterDisposeScope();
        }
        if (isKey)
        {
            // Changing one key t changes one logit per query row: Δs[q, t] = scale · q_q · Δk_t. With P_t the old
            // weight and w = σ(Δs + logit P_t) the new one, Σ_j P'_j g_j = w g_t + (1 − w)(G − P_t g_t)/(1 − P_t).
            var delta = scale * qd.matmul(change.transpose(2, 3));               // [b, h, q, t]
            var logitP = p.clamp_min(0).log() - (-p).log1p();
            var w = (delta + logitP).sigmoid();
            w = where(finite, w, zeros_like(w));
            var rest = 1 - p;
            var others = where(rest.gt(1e-12), (expected - p * g) / rest.clamp_min(1e-300), g);
            var after = w * g + (1 - w) * others;
            perUnit = ((after - expected) * finite).sum(2);                      // sum over query rows → [b, h, t]
        }
        else
        {
            // Changing query q_s changes row s alone: its new softmax, exactly.
            var patched = s + scale * change.matmul(kd.transpose(2, 3));          // row s uses the patched query of position s
            perUnit = ((patched.softmax(-1) - p) * g).sum(-1);                  // [b, h, q]
        }
        var result = units.Granularity == PatchGranularity.Head
            ? perUnit.permute(0, 2, 1).reshape(perUnit.shape[0], -1)             // unit = (pos, head), pos-major
            : perUnit.sum(1);                                                   // position: summed over heads
        return result.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}

/// <summary>Options of AtP*: the patching options plus GradDrop.</summary>
public sealed record AtpStarOptions : PatchingOptions
{
    [Option("GradDrop (the full AtP* of the paper): average the absolute estimates over runs that each cut the gradient through one layer's residual outputs, giving unsigned scores; false (the default) keeps signed estimates with the QK fix only, on any model")]
    public bool GradDrop { get; init; }
}
