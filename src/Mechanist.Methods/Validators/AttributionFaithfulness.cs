using System.Collections.Immutable;
using Mechanist.Attribution;
using Mechanist.Discovery;
using Mechanist.Methods.Attribution;
using Mechanist.Methods.Evaluation;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Methods.Validators;

/// <summary>
/// Whether attributions can be trusted on a behaviour: integrated gradients' completeness, attribution patching's
/// agreement with activation patching (the causal ground truth), and finite values throughout.
/// Needs a model and a behaviour (inputs, metric, and for MECH2002 corrupted inputs); reports nothing without them.
/// </summary>
[Validator("attribution.faithfulness",
    Title = "Attribution faithfulness",
    Summary = "Checks attributions on a behaviour: integrated-gradients completeness (MECH2001), rank agreement of attribution patching with activation patching (MECH2002), and NaN/Inf in the model's weights, the site's activations, the metric or the attributions (MECH2003). Needs a model and a behaviour; MECH2002 needs corrupted inputs.",
    Reference = "Sundararajan et al. 2017 (completeness); Nanda 2023 and Kramár et al. 2024 (attribution patching and its failure modes).",
    HelpLink = "docs/methods/attribution.faithfulness.md",
    Requires = ValidationInputs.Model | ValidationInputs.Behaviour | ValidationInputs.DifferentiableMetric)]
public sealed class AttributionFaithfulness : Validator<AttributionFaithfulnessOptions>
{
    public static readonly CheckDescriptor IncompleteIntegratedGradients = new(
        "MECH2001", "Integrated gradients incomplete",
        "integrated gradients at {0} miss completeness by {1:0.####} of the metric's change (|ΔM| mean {2:0.####}), above the threshold {3:0.####}",
        "Attribution", Severity.Warning, CheckDescriptor.DocPath("MECH2001"),
        "max_b |Σ_i IG_{b,i} − (F_b(1) − F_b(0))| / (mean_b |F_b(1) − F_b(0)| + 1e-12), IG from the corrupted input (zeros when none) to the input with the configured steps and rule; F the metric along the path",
        DefaultThreshold: 0.05, Direction: MetricDirection.LowerIsBetter);

    public static readonly CheckDescriptor PatchingDisagreement = new(
        "MECH2002", "Attribution patching disagrees with activation patching",
        "attribution patching ranks {0} units with Spearman ρ = {1:0.###} against activation patching, below the threshold {2:0.###} (top unit by activation patching: {3}; by attribution patching: {4})",
        "Attribution", Severity.Warning, CheckDescriptor.DocPath("MECH2002"),
        "Spearman rank correlation over units u (site × position, or as configured) of mean_b AtP_{b,u} and mean_b AP_{b,u}, denoising; AtP_u = Σ (a_clean − a_corrupt) ⊙ ∂M/∂a|corrupt, AP_u = M(corrupt with u clean) − M(corrupt)",
        DefaultThreshold: 0.6, Requires: ValidationInputs.CorruptedInputs, Direction: MetricDirection.HigherIsBetter);

    public static readonly CheckDescriptor NonFinite = new(
        "MECH2003", "Non-finite values",
        "{0} contains {1} NaN or infinite values",
        "Attribution", Severity.Error, CheckDescriptor.DocPath("MECH2003"),
        "count of elements e with isfinite(e) false in the model's parameters, the activation at the site and the metric on the behaviour's inputs and corrupted inputs, and the attribution scores (any count above 0 is reported)",
        Direction: MetricDirection.LowerIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [IncompleteIntegratedGradients, PatchingDisagreement, NonFinite];

    protected override void Validate(ValidationContext context, AttributionFaithfulnessOptions options)
    {
        if (context.Model is not { } model || context.Behaviour is not { } behaviour)
        {
            context.CannotRun("it needs a model and a behaviour (inputs and a metric).");
            return;
        }
        long nonFinite = CountNonFinite(context, model, behaviour);
        context.Measure(NonFinite, nonFinite);
        if (nonFinite > 0)
        {
            context.Logger.LogWarning("non-finite values (MECH2003): MECH2001 and MECH2002 were not run.");
            return;
        }

        var site = context.Site;
        if (site is null && !behaviour.Input.is_floating_point())
            site = model.HookSites.FirstOrDefault(s => s == "hook_embed");
        if (context.ThresholdOf(IncompleteIntegratedGradients) is double completenessThreshold)
        {
            if (site is null && !behaviour.Input.is_floating_point())
                context.CannotRun("the inputs are token ids, which have no gradient, and there is no site to integrate at (the model has no hook_embed; give the validation a 'site').", IncompleteIntegratedGradients);
            else CheckCompleteness(context, model, behaviour, site, options, completenessThreshold);
        }
        if (context.ThresholdOf(PatchingDisagreement) is double agreementThreshold && context.IsEnabled(PatchingDisagreement))
        {
            if (behaviour.Corrupted is null) context.CannotRun("it needs the behaviour's corrupted inputs.", PatchingDisagreement);
            else CheckPatchingAgreement(context, model, behaviour, options, agreementThreshold);
        }
    }

    static long CountNonFinite(ValidationContext context, Mechanist.Models.IHookedModel model, Behaviour behaviour)
    {
        long total = 0;
        using var scope = NewDisposeScope();
        if (model is nn.Module module)
            foreach (var (name, p) in module.named_parameters())
            {
                long bad = isfinite(p).logical_not().sum().item<long>();
                if (bad > 0) context.Report(NonFinite, [$"parameter '{name}'", bad], bad);
                total += bad;
            }
        using (no_grad())
        {
            foreach (var (what, input) in new[] { ("the behaviour's inputs", behaviour.Input), ("the corrupted inputs", behaviour.Corrupted) })
            {
                if (input is null) continue;
                Tensor? activation = null;
                Tensor output;
                using (context.Site is { } site && model.HookSites.Contains(site) ? model.AddHook(site, a => { activation = a.detach().clone(); return null; }) : null)
                    output = model.Run(input);
                if (activation is not null)
                {
                    long badActivation = isfinite(activation).logical_not().sum().item<long>();
                    if (badActivation > 0) context.Report(NonFinite, [$"the activation at {context.Site} on {what}", badActivation], badActivation);
                    total += badActivation;
                }
                long bad = isfinite(behaviour.Metric(output)).logical_not().sum().item<long>();
                if (bad > 0) context.Report(NonFinite, [$"the metric on {what}", bad], bad);
                total += bad;
            }
        }
        return total;
    }

    static void CheckCompleteness(ValidationContext context, Mechanist.Models.IHookedModel model, Behaviour behaviour, string? site,
        AttributionFaithfulnessOptions options, double threshold)
    {
        using var scope = NewDisposeScope();
        var igOptions = new IntegratedGradientsOptions { Steps = options.Steps, Rule = options.Rule, InternalBatchSize = options.InternalBatchSize };
        var attribution = new AttributionContext
        {
            Model = model, Input = behaviour.Input, Baseline = behaviour.Corrupted, Metric = behaviour.Metric, ExampleMetric = behaviour.ExampleMetric,
            MetricDescription = behaviour.Description, Site = site, Options = igOptions, Seed = context.Seed,
            Device = context.Device, CancellationToken = context.CancellationToken,
        };
        AttributionMethod method = site is null ? new IntegratedGradients() : new LayerIntegratedGradients();
        var result = method.Attribute(attribution);
        long bad = isfinite(result.Scores).logical_not().sum().item<long>();
        if (bad > 0)
        {
            context.Report(NonFinite, [$"the integrated-gradients scores at {site ?? "the input"}", bad], bad);
            return;
        }
        var change = (result.MetricValue! - result.ReferenceMetricValue!).abs().mean().to(ScalarType.Float64).item<double>();
        var relative = AttributionCore.MaxAbs(result.ConvergenceDelta!) / (change + 1e-12);
        context.Measure(IncompleteIntegratedGradients, relative);
        if (relative > threshold)
            context.Report(IncompleteIntegratedGradients, [site ?? "the input", relative, change, threshold], relative);
    }

    static void CheckPatchingAgreement(ValidationContext context, Mechanist.Models.IHookedModel model, Behaviour behaviour,
        AttributionFaithfulnessOptions options, double threshold)
    {
        using var scope = NewDisposeScope();
        AttributionContext Context(MethodOptions o) => new()
        {
            Model = model, Input = behaviour.Input, Baseline = behaviour.Corrupted, Metric = behaviour.Metric, ExampleMetric = behaviour.ExampleMetric,
            MetricDescription = behaviour.Description, Site = context.Site, Options = o, Seed = context.Seed,
            Device = context.Device, CancellationToken = context.CancellationToken,
        };
        var ap = new ActivationPatching().Attribute(Context(new ActivationPatchingOptions { Granularity = options.Granularity }));
        var atp = new AttributionPatching().Attribute(Context(new PatchingOptions { Granularity = options.Granularity }));
        var apMean = ap.Scores.mean([0]).to(ScalarType.Float64).data<double>().ToArray();
        var atpMean = atp.Scores.mean([0]).to(ScalarType.Float64).data<double>().ToArray();
        if (atpMean.Any(v => !double.IsFinite(v)))
        {
            context.Report(NonFinite, ["the attribution-patching scores", atpMean.Count(v => !double.IsFinite(v))], atpMean.Count(v => !double.IsFinite(v)));
            return;
        }
        if (apMean.Length < 3)
        {
            context.CannotRun($"a rank correlation needs at least 3 units, and granularity '{OptionSchema.FormatValue(options.Granularity)}' gives {apMean.Length}; use a finer granularity.", PatchingDisagreement);
            return;
        }
        var rho = RankCorrelation.Spearman(atpMean, apMean);
        if (double.IsNaN(rho)) rho = 0;
        context.Measure(PatchingDisagreement, rho);
        var labels = ap.UnitLabels!;
        string TopOf(double[] v) => labels[Array.IndexOf(v, v.MaxBy(Math.Abs))];
        if (rho < threshold)
            context.Report(PatchingDisagreement, [apMean.Length, rho, threshold, TopOf(apMean), TopOf(atpMean)], rho);
    }
}

public sealed record AttributionFaithfulnessOptions : MethodOptions
{
    [Option("integrated-gradients steps for the completeness check (MECH2001)")]
    public int Steps { get; init; } = 50;

    [Option("integrated-gradients quadrature rule: gauss_legendre, riemann_left, riemann_right, riemann_middle or riemann_trapezoid")]
    public IntegrationRule Rule { get; init; } = IntegrationRule.GaussLegendre;

    [Option("integrated-gradients rows per forward/backward pass; 0 evaluates all at once")]
    public int InternalBatchSize { get; init; }

    [Option("units compared by MECH2002: site, position or element")]
    public PatchGranularity Granularity { get; init; } = PatchGranularity.Position;

    public override IEnumerable<OptionError> Validate()
    {
        if (Steps < 2) yield return new("steps", "must be at least 2");
        if (InternalBatchSize < 0) yield return new("internal_batch_size", "must be 0 (all at once) or positive");
    }
}
