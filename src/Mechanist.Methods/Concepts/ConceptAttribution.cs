using Mechanist.Concepts;
using Mechanist.Decomposers;
using Mechanist.Methods.Attribution;
using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Methods.Concepts;

/// <summary>What replaces a component's activation when it is ablated.</summary>
public enum ComponentAblation
{
    /// <summary>Its mean over every token of the data (heads and neurons; the usual choice).</summary>
    Mean,

    /// <summary>Zero (a decomposition's latents are always zero-ablated: a latent that is off).</summary>
    Zero,
}

/// <summary>One component's share in carrying a concept.</summary>
/// <param name="Unit">"head 3", "neuron 17", "latent 42".</param>
/// <param name="Effect">M(clean) − M(unit ablated): how much ablating the unit lowers the probe's mean log-odds on the concept's tokens.</param>
/// <param name="Estimate">The attribution-patching estimate of the same: −Σ (ablated value − a) · ∂M/∂a over the unit's elements.</param>
/// <param name="Fraction">Effect / (M(clean) − mean log-odds on the other tokens): the share of the concept's margin the unit carries.</param>
/// <param name="Active">Tokens on which the unit's activation differs from its ablated value.</param>
public sealed record ComponentScore(string Unit, int Index, double Effect, double Estimate, double Fraction, long Active);

/// <summary>The outcome of attributing a concept probe to a site's components.</summary>
/// <param name="CleanLogOdds">M(clean): the probe's mean log-odds of the class on the class's tokens.</param>
/// <param name="OtherLogOdds">The probe's mean log-odds of the class on the other tokens (the level M would fall to if the concept were gone).</param>
/// <param name="ProbeAccuracy">The probe's accuracy on a balanced held-out sample of the probe site's clean activations.</param>
public sealed record ConceptAttributionResult(string ComponentSite, string ProbeSite, string Concept, string Class, string Units,
    double CleanLogOdds, double OtherLogOdds, double ProbeAccuracy, IReadOnlyList<ComponentScore> Scores);

/// <summary>
/// Concept → component attribution: which heads, neurons or latents carry a concept. A binary L2 logistic probe
/// for one class of the concept is trained on the probe site's clean activations (balanced, by sequence); its mean
/// log-odds over the class's tokens, M, is the metric. Each unit of the component site — a head of a
/// [batch, pos, head, d_head] site, a neuron of a [batch, pos, d] site, or a latent of a decomposition spliced at
/// the site with its error term — is ablated at every position (mean or zero; latents set to zero), the model
/// rerun, and the fall of M recorded (ablation, exact); the attribution-patching estimate −Σ (ablated − a)·∂M/∂a
/// from one backward pass is recorded beside it.
/// </summary>
public static class ConceptAttribution
{
    public sealed record Settings
    {
        public ComponentAblation Ablation { get; init; } = ComponentAblation.Mean;
        public double L2 { get; init; } = 1e-2;
        public int MaxProbeRows { get; init; } = 4000;

        /// <summary>Units to score (all when null).</summary>
        public IReadOnlyList<int>? Units { get; init; }

        /// <summary>Skip exact ablation of units (estimates only).</summary>
        public bool EstimateOnly { get; init; }
    }

    public static ConceptAttributionResult Run(IHookedModel model, Tensor tokens, Concept concept, int classIndex, string componentSite, string probeSite,
        Decomposition? decomposition, Settings settings, int seed, CancellationToken cancellation = default)
    {
        SiteActivations.RequireSite(model, componentSite);
        SiteActivations.RequireSite(model, probeSite);
        if (tokens.numel() != concept.Rows)
            throw new MechanistInputException(
                $"concept '{concept.Name}' has {concept.Rows} labels but the token ids [{string.Join(", ", tokens.shape)}] give {tokens.numel()} rows; labels and tokens must describe the same tokens.");
        using var scope = NewDisposeScope();
        long nSeq = tokens.shape[0], seqLen = tokens.shape[1];
        var positive = tensor(concept.Labels.Select(l => l == classIndex).ToArray());
        long nPositive = positive.sum().item<long>();
        if (nPositive == 0 || nPositive == concept.Rows)
            throw new MechanistInputException($"concept '{concept.Name}' class '{concept.Classes[classIndex]}' labels {(nPositive == 0 ? "no" : "every")} token; attribution needs tokens of the class and others.");

        // The probe, on clean activations at the probe site.
        var acts = SiteActivations.Harvest(model, tokens, [probeSite, componentSite], cancellation: cancellation);
        var probeRows = acts[probeSite].MoveToOuterDisposeScope();
        var componentRows = acts[componentSite];
        var split = RowSplit.BySequence(nSeq, seqLen, 0.25, seed);
        var indicator = concept.Labels.Select(l => l == classIndex ? 1L : 0L).ToArray();
        var (trainRows, trainY) = RowSplit.Balanced(split.Train, indicator, settings.MaxProbeRows, seed);
        var (testRows, testY) = RowSplit.Balanced(split.Test, indicator, settings.MaxProbeRows, seed + 1);
        if (trainRows.Length < 4 || testRows.Length < 2)
            throw new MechanistInputException(
                $"concept '{concept.Name}' class '{concept.Classes[classIndex]}': too few tokens of the class, or of the others, for a balanced probe ({trainRows.Length} training, {testRows.Length} held-out rows).");
        using var probe = SoftmaxRegression.Fit(probeRows.index_select(0, tensor(trainRows)), tensor(trainY), 2, settings.L2);
        double probeAccuracy = probe.Accuracy(probeRows.index_select(0, tensor(testRows)), tensor(testY));
        var w = probe.Direction(1, 0).to(ScalarType.Float32);                 // log-odds = x · w + c
        var c = (probe.Bias[1] - probe.Bias[0] - (probe.Mean / probe.Scale).matmul(probe.Weight[.., 1] - probe.Weight[.., 0])).to(ScalarType.Float32);
        var mask = positive.to(ScalarType.Float32);
        double Mean(Tensor values, Tensor weights) => (values * weights).sum().to(ScalarType.Float64).item<double>() / weights.sum().to(ScalarType.Float64).item<double>();
        double clean = Mean(probeRows.matmul(w) + c, mask);
        double other = Mean(probeRows.matmul(w) + c, 1 - mask);

        // The units and how each is ablated.
        string unitName;
        int units;
        Func<Tensor, int, Tensor> ablate;          // activation [b, pos, …] → with unit u ablated
        Tensor? unitMean = null;
        if (decomposition is not null)
        {
            if (componentRows.shape[1] != decomposition.DIn)
                throw new MechanistInputException(
                    $"the decomposition's d_in is {decomposition.DIn} but {componentSite} has width {componentRows.shape[1]}.");
            unitName = "latent";
            units = decomposition.DSae;
            ablate = (a, u) =>
            {
                var flat = a.reshape(-1, a.shape[^1]);
                var f = decomposition.Encode(flat);
                var column = f.narrow(1, u, 1);
                var off = f.clone();
                off.narrow(1, u, 1).zero_();
                var change = decomposition.Decode(off, flat) - decomposition.Decode(f, flat);
                return (flat + change.to(a.dtype)).reshape(a.shape);
            };
        }
        else
        {
            var full = SiteActivations.HarvestShape(model, tokens.narrow(0, 0, 1), componentSite);
            if (full.Length == 4) { unitName = "head"; units = (int)full[2]; }
            else if (full.Length == 3) { unitName = full[2] == probeRows.shape[1] && componentSite.Contains("resid") ? "dimension" : "neuron"; units = (int)full[2]; }
            else throw new MechanistInputException($"hook site {componentSite} gives [{string.Join(", ", full)}]; component attribution needs [batch, pos, d] (neurons) or [batch, pos, head, d_head] (heads).");
            var perToken = componentRows.reshape([componentRows.shape[0], .. full.Skip(2)]);
            unitMean = settings.Ablation == ComponentAblation.Mean ? perToken.mean([0]) : zeros(full.Skip(2).ToArray());
            var meanValue = unitMean;
            ablate = (a, u) =>
            {
                var patched = a.clone();
                patched.narrow(2, u, 1).copy_(meanValue.narrow(0, u, 1).to(a.dtype).expand(patched.narrow(2, u, 1).shape));
                return patched;
            };
        }
        var chosen = settings.Units ?? Enumerable.Range(0, units).ToList();
        foreach (var u in chosen)
            if (u < 0 || u >= units) throw new MechanistInputException($"{unitName} {u} is out of range: {componentSite} has {units} {unitName}s (0 … {units - 1}).");

        // Attribution-patching estimates from one backward pass: −Σ (ablated − a) · ∂M/∂a per unit.
        var estimates = new double[units];
        {
            using var inner = NewDisposeScope();
            using var grad = enable_grad();
            Tensor? delta = null, value = null, probeAct = null;
            var handles = new List<IDisposable>();
            try
            {
                handles.Add(model.AddHook(componentSite, a =>
                {
                    if (decomposition is not null)
                    {
                        var flat = a.reshape(-1, a.shape[^1]);
                        var f = decomposition.Encode(flat).detach();
                        value = f;
                        delta = zeros_like(f).requires_grad_(true);
                        return (flat + (decomposition.Decode(f + delta, flat) - decomposition.Decode(f, flat).detach()).to(a.dtype)).reshape(a.shape);
                    }
                    value = a.detach();
                    delta = zeros_like(a).requires_grad_(true);
                    return a + delta;
                }));
                handles.Add(model.AddHook(probeSite, a => { probeAct = a; return null; }));
                model.Run(tokens);
            }
            finally
            {
                foreach (var h in handles) h.Dispose();
            }
            if (delta is null || probeAct is null || value is null) throw new InvalidOperationException("a hook site did not fire.");
            var m = ((probeAct.reshape(-1, w.shape[0]).matmul(w) + c) * mask).sum() / mask.sum();
            var g = AttributionCore.Gradient(m, delta);
            Tensor change;
            if (decomposition is not null) change = (value.neg() * g).sum(dim: 0);                                       // ablated latent = 0
            else
            {
                var diff = (unitMean!.to(value.dtype).unsqueeze(0).unsqueeze(0) - value) * g;                             // [b, pos, units, …]
                change = diff.reshape(diff.shape[0] * diff.shape[1], units, -1).sum([0, 2]);
            }
            var values = change.to(ScalarType.Float64).data<double>().ToArray();
            for (int u = 0; u < units; u++) estimates[u] = -values[u];
        }

        // Exact ablation, one rerun per unit.
        double margin = clean - other;
        var scores = new List<ComponentScore>();
        using var noGrad = no_grad();
        foreach (var u in chosen)
        {
            cancellation.ThrowIfCancellationRequested();
            using var inner = NewDisposeScope();
            long active = 0;
            double effect = double.NaN;
            if (!settings.EstimateOnly)
            {
                Tensor? probeAct = null;
                var handles = new List<IDisposable>();
                try
                {
                    handles.Add(model.AddHook(componentSite, a =>
                    {
                        var patched = ablate(a, u);
                        active += patched.ne(a).reshape(a.shape[0] * a.shape[1], -1).any(1).sum().item<long>();
                        return patched;
                    }));
                    handles.Add(model.AddHook(probeSite, a => { probeAct = a.detach(); return null; }));
                    model.Run(tokens);
                }
                finally
                {
                    foreach (var h in handles) h.Dispose();
                }
                effect = clean - Mean(probeAct!.reshape(-1, w.shape[0]).matmul(w) + c, mask);
            }
            scores.Add(new ComponentScore($"{unitName} {u}", u, effect, estimates[u], margin == 0 ? double.NaN : effect / margin, active));
        }
        return new ConceptAttributionResult(componentSite, probeSite, concept.Name, concept.Classes[classIndex], unitName + "s", clean, other, probeAccuracy, scores);
    }
}
