using System.Globalization;
using Mechanist.Attribution;
using Mechanist.Discovery;
using Mechanist.Options;
using static Mechanist.Methods.Attribution.AttributionCore;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>How feature attribution integrates the gradient from the reference to the clean state.</summary>
public enum FeatureAttributionMethod
{
    /// <summary>Gradient × activation difference at the clean run: first order, one backward pass.</summary>
    Gradient,

    /// <summary>Integrated gradients along the straight path in (latents, error) space: complete up to quadrature.</summary>
    Integrated,
}

/// <summary>
/// Feature attribution through a spliced SAE or transcoder with an error node: the metric's change from a reference
/// state (all latents off and no error, or the baseline run's state) to the clean state, split into one score per
/// latent plus the error node's score.
/// </summary>
[AttributionMethod("feature-attribution",
    Title = "Feature attribution through a spliced decomposition",
    Summary = "Splices a decomposition at a hook site (SAE) or between two sites (transcoder: output_site), writing the activation as Decode(f) + e with an error node e, and scores each latent: (f_i − f′_i) ∂M/∂f_i (gradient × activation; or integrated along the path for exact completeness), plus the error node's score Σ_d (e_d − e′_d) ∂M/∂e_d. Latent scores plus the error score sum to M(clean) − M(reference) up to the reported completeness error. Reference: all latents off and no error, or the baseline run's latents and error.",
    Reference = "Marks et al. 2024, Sparse Feature Circuits; Syed, Rager & Conmy 2023, Attribution Patching Outperforms Automated Circuit Discovery.",
    HelpLink = "docs/methods/feature-attribution.md")]
public sealed class FeatureAttribution : AttributionMethod<FeatureAttributionOptions>
{
    protected override AttributionResult Attribute(AttributionContext context, FeatureAttributionOptions options)
    {
        var site = RequireSite(context, "feature-attribution");
        var decomposition = context.Decomposition ?? throw new MechanistInputException(
            "feature-attribution needs a decomposition to splice (--decomposition DIR).");
        var splice = new FeatureSplice(context.Model, decomposition, site, options.OutputSite);
        using var scope = NewDisposeScope();
        var x = context.Input;
        long batch = BatchOf(x);
        var state = splice.State(x, out _);
        Tensor reference;
        if (context.Baseline is { } b)
        {
            reference = splice.State(b.to(x.device), out _);
            if (!reference.shape.Skip(1).SequenceEqual(state.shape.Skip(1)) || (reference.shape[0] != batch && reference.shape[0] != 1))
                throw new MechanistInputException(
                    $"the baseline run's spliced state has shape {Shape(reference)}, which does not match the input's {Shape(state)}.");
            reference = reference.expand(state.shape).contiguous();
        }
        else reference = FeatureSplice.ZeroState(state);

        Tensor gradientSum, mx;
        if (options.Method == FeatureAttributionMethod.Gradient)
        {
            using var grad = enable_grad();
            var z = state.clone().requires_grad_(true);
            var m = Metric(context, splice.Run(x, z), batch);
            gradientSum = Gradient(m.sum(), z);
            mx = m.detach();
        }
        else
        {
            var (alphas, weights) = IntegrationRules.Nodes(options.Rule, options.Steps);
            gradientSum = PathIntegrator.IntegrateGradients(batch, alphas, weights, options.InternalBatchSize,
                (example, alpha) => PathIntegrator.Interpolate(reference, state, example, alpha),
                (example, points) => Metric(context, splice.Run(x.index_select(0, example.to(x.device)), points), example.shape[0], example),
                context.CancellationToken);
            using (no_grad()) mx = Metric(context, splice.Run(x, state), batch);
        }
        var contribution = (state - reference) * gradientSum;
        var latents = splice.Latents(contribution).contiguous();
        var error = splice.Error(contribution).sum(dim: -1);
        Tensor mRef;
        using (no_grad()) mRef = Metric(context, splice.Run(x, reference), batch);
        var delta = contribution.reshape(batch, -1).sum(dim: 1) - (mx - mRef);

        var settings = new Dictionary<string, string>
        {
            ["method"] = OptionSchema.FormatValue(options.Method),
            ["site"] = site,
            ["output_site"] = splice.OutputSite,
            ["reference"] = context.Baseline is null ? "all latents off, no error (the site holds b_dec)" : "baseline run's latents and error",
            ["d_sae"] = decomposition.DSae.ToString(CultureInfo.InvariantCulture),
        };
        if (options.Method == FeatureAttributionMethod.Integrated)
        {
            settings["steps"] = options.Steps.ToString(CultureInfo.InvariantCulture);
            settings["rule"] = OptionSchema.FormatValue(options.Rule);
        }
        return new AttributionResult(latents.MoveToOuterDisposeScope(), context.MetricDescription, MaxAbs(delta))
        {
            ScoreDefinition = options.Method == FeatureAttributionMethod.Gradient
                ? "(f_i − f′_i) ∂M/∂f_i at the clean spliced run; Parts[\"error\"] = Σ_d (e_d − e′_d) ∂M/∂e_d"
                : "(f_i − f′_i) Σ_k w_k ∂M/∂f_i(z′ + α_k(z − z′)), z = [f, e]; Parts[\"error\"] likewise for e, summed over d",
            CompletenessDefinition = "δ_b = Σ latent scores + Σ error scores − (M(clean) − M(reference state)); completeness_error = max_b |δ_b|",
            ConvergenceDelta = delta.MoveToOuterDisposeScope(),
            MetricValue = mx.MoveToOuterDisposeScope(),
            ReferenceMetricValue = mRef.MoveToOuterDisposeScope(),
            Parts = new Dictionary<string, Tensor> { ["error"] = error.MoveToOuterDisposeScope() },
            Settings = settings,
        };
    }
}

public sealed record FeatureAttributionOptions : MethodOptions
{
    [Option("gradient (gradient × activation at the clean run, one backward pass) or integrated (path integral, complete up to quadrature)")]
    public FeatureAttributionMethod Method { get; init; } = FeatureAttributionMethod.Gradient;

    [Option("quadrature points for method=integrated")]
    public int Steps { get; init; } = 32;

    [Option("quadrature rule for method=integrated: gauss_legendre, riemann_left, riemann_right, riemann_middle or riemann_trapezoid")]
    public IntegrationRule Rule { get; init; } = IntegrationRule.GaussLegendre;

    [Option("rows per forward/backward pass for method=integrated; 0 evaluates all at once")]
    public int InternalBatchSize { get; init; }

    [Option("for a transcoder: the site its output replaces (the site option is then its input); empty for an SAE")]
    public string OutputSite { get; init; } = "";

    public override IEnumerable<OptionError> Validate()
    {
        if (Steps < 1) yield return new("steps", "must be at least 1");
        if (Rule == IntegrationRule.RiemannTrapezoid && Steps < 2) yield return new("steps", "riemann_trapezoid needs at least 2");
        if (InternalBatchSize < 0) yield return new("internal_batch_size", "must be 0 (all at once) or positive");
    }
}
