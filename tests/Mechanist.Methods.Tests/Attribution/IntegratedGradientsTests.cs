using Mechanist.Attribution;
using Mechanist.Methods.Attribution;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Attribution;

public class IntegratedGradientsTests
{
    static AttributionContext Context(HookedModel model, Tensor input, IntegratedGradientsOptions options, Tensor? baseline = null, string? site = null) => new()
    {
        Model = model, Input = input, Baseline = baseline, Metric = o => o.select(1, 0), MetricDescription = "output 0",
        Site = site, Options = options,
    };

    static (double Error, double Change) Completeness(HookedModel model, Tensor x, IntegrationRule rule, int steps)
    {
        using var scope = NewDisposeScope();
        var r = new IntegratedGradients().Attribute(Context(model, x, new() { Steps = steps, Rule = rule }));
        var change = (r.MetricValue! - r.ReferenceMetricValue!).abs().mean().item<double>();
        return (r.CompletenessError!.Value, change);
    }

    static Tensor Inputs() => randn(5, 4, ScalarType.Float64, generator: new Generator(17)) * 1.5;

    [Fact]
    public void Completeness_holds_within_tolerance_at_50_steps_on_a_smooth_model()
    {
        using var model = new SmoothModel();
        using var x = Inputs();
        foreach (var rule in Enum.GetValues<IntegrationRule>())
        {
            var (error, change) = Completeness(model, x, rule, 50);
            Assert.True(change > 0.5, $"the metric changes along the path ({change})");
            // Relative to the mean |ΔM|: left/right sums are first order, middle/trapezoid second, Gauss–Legendre spectral.
            double tolerance = rule == IntegrationRule.GaussLegendre ? 1e-10 : rule is IntegrationRule.RiemannLeft or IntegrationRule.RiemannRight ? 0.1 : 1e-3;
            Assert.True(error / change < tolerance, $"{rule}: relative completeness error {error / change} at 50 steps exceeds {tolerance}");
        }
    }

    [Theory]
    [InlineData(IntegrationRule.RiemannLeft)]
    [InlineData(IntegrationRule.RiemannRight)]
    [InlineData(IntegrationRule.RiemannMiddle)]
    [InlineData(IntegrationRule.RiemannTrapezoid)]
    [InlineData(IntegrationRule.GaussLegendre)]
    public void Completeness_error_falls_as_steps_grow(IntegrationRule rule)
    {
        using var model = new SmoothModel();
        using var x = Inputs();
        var errors = new[] { 4, 8, 16, 32 }.Select(steps => Completeness(model, x, rule, steps).Error).ToArray();
        for (int i = 1; i < errors.Length; i++)
            Assert.True(errors[i] < errors[i - 1] || errors[i] < 1e-12, $"{rule}: errors {string.Join(", ", errors)} do not fall");
        Assert.True(errors[^1] < errors[0] / 3 || errors[^1] < 1e-12, $"{rule}: errors {string.Join(", ", errors)}");
    }

    [Fact]
    public void Gauss_legendre_beats_every_riemann_rule_at_the_same_steps()
    {
        using var model = new SmoothModel();
        using var x = Inputs();
        foreach (var steps in new[] { 8, 20 })
        {
            var gl = Completeness(model, x, IntegrationRule.GaussLegendre, steps).Error;
            foreach (var rule in new[] { IntegrationRule.RiemannLeft, IntegrationRule.RiemannRight, IntegrationRule.RiemannMiddle, IntegrationRule.RiemannTrapezoid })
                Assert.True(gl < Completeness(model, x, rule, steps).Error / 10, $"{steps} steps: Gauss–Legendre {gl} vs {rule}");
        }
    }

    [Fact]
    public void Matches_the_closed_form_of_a_quadratic_and_a_custom_baseline()
    {
        // M(x) = Σ_i c_i x_i²: IG_i = c_i (x_i² − x′_i²) exactly (Gauss–Legendre is exact for polynomials).
        using var scope = NewDisposeScope();
        using var model = new ReadoutModel(eye(3, dtype: ScalarType.Float64));
        var c = tensor(new[] { 1.0, -2.0, 0.5 }, ScalarType.Float64);
        var x = tensor(new[] { 1.0, 2.0, -1.0, 0.3, -0.7, 2.5 }, ScalarType.Float64).view(2, 3);
        var baseline = tensor(new[] { 0.5, -1.0, 1.0 }, ScalarType.Float64).view(1, 3);
        var r = new IntegratedGradients().Attribute(new AttributionContext
        {
            Model = model, Input = x, Baseline = baseline, Metric = o => (o.pow(2) * c).sum(dim: 1), MetricDescription = "Σ c x²",
            Options = new IntegratedGradientsOptions { Steps = 4 },
        });
        var expected = c * (x.pow(2) - baseline.pow(2));
        Assert.True((r.Scores - expected).abs().max().item<double>() < 1e-12);
        Assert.Equal([2L], r.ConvergenceDelta!.shape);
        Assert.True(r.CompletenessError < 1e-12);
    }

    [Fact]
    public void Internal_batching_gives_the_same_attributions_and_a_per_example_delta()
    {
        using var scope = NewDisposeScope();
        using var model = new SmoothModel();
        var x = Inputs();
        var baseline = x * 0.25;
        var all = new IntegratedGradients().Attribute(Context(model, x, new() { Steps = 30, Rule = IntegrationRule.RiemannMiddle }, baseline));
        var chunked = new IntegratedGradients().Attribute(Context(model, x, new() { Steps = 30, Rule = IntegrationRule.RiemannMiddle, InternalBatchSize = 7 }, baseline));
        Assert.True((all.Scores - chunked.Scores).abs().max().item<double>() < 1e-12);

        // The delta is Σ IG − (M(x) − M(x′)) with M recomputed independently here.
        var change = model.Run(x).select(1, 0) - model.Run(baseline).select(1, 0);
        var expected = all.Scores.sum(dim: 1) - change;
        Assert.True((all.ConvergenceDelta! - expected).abs().max().item<double>() < 1e-12);
        Assert.Equal(all.ConvergenceDelta!.abs().max().item<double>(), all.CompletenessError!.Value, 12);
    }

    [Fact]
    public void Integer_inputs_and_a_site_are_refused_with_a_pointer_to_layer_integrated_gradients()
    {
        using var model = new TinyTokenModel();
        using var tokens = tensor(new long[] { 1, 2, 3 }).view(1, 3);
        var e = Assert.Throws<MechanistInputException>(() => new IntegratedGradients().Attribute(new AttributionContext
        {
            Model = model, Input = tokens, Metric = o => o[.., -1, 0], MetricDescription = "logit", Options = new IntegratedGradientsOptions(),
        }));
        Assert.Contains("hook_embed", e.Message);
        using var smooth = new SmoothModel();
        using var x = Inputs();
        e = Assert.Throws<MechanistInputException>(() => new IntegratedGradients().Attribute(Context(smooth, x, new(), site: "hook_out")));
        Assert.Contains("layer-integrated-gradients", e.Message);
        Assert.Equal(0, model.ActiveHookCount);
    }
}

public class LayerIntegratedGradientsTests
{
    [Fact]
    public void Completeness_at_an_inner_site_is_against_the_patched_path()
    {
        using var scope = NewDisposeScope();
        using var model = new SmoothModel();
        var x = randn(3, 4, ScalarType.Float64, generator: new Generator(2));
        var baseline = randn(3, 4, ScalarType.Float64, generator: new Generator(3));
        var r = new LayerIntegratedGradients().Attribute(new AttributionContext
        {
            Model = model, Input = x, Baseline = baseline, Metric = o => o.select(1, 1), MetricDescription = "output 1",
            Site = "mlp.hook_pre", Options = new IntegratedGradientsOptions { Steps = 50 },
        });
        Assert.Equal([3L, 6L], r.Scores.shape);
        Assert.True(r.CompletenessError < 1e-9, $"completeness error {r.CompletenessError}");
        // F(0): the input run with hook_pre set to the baseline run's hook_pre (the sin(x) path still sees x).
        var (_, cache) = model.RunWithCache(baseline, ["mlp.hook_pre"]);
        var f0 = model.RunPatched(x, "mlp.hook_pre", _ => cache["mlp.hook_pre"]).select(1, 1);
        Assert.True((r.ReferenceMetricValue! - f0).abs().max().item<double>() < 1e-12);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Attributes_a_token_model_to_its_token_embeddings()
    {
        using var scope = NewDisposeScope();
        using var model = new TinyTokenModel();
        var tokens = tensor(new long[] { 1, 4, 2, 7, 3, 5, 9, 0 }).view(2, 4);
        var pad = zeros_like(tokens);
        var r = new LayerIntegratedGradients().Attribute(new AttributionContext
        {
            Model = model, Input = tokens, Baseline = pad, Metric = o => o[.., -1, 3], MetricDescription = "logit 3 at the last position",
            Site = "hook_embed", Options = new IntegratedGradientsOptions { Steps = 64, InternalBatchSize = 40 },
        });
        Assert.Equal([2L, 4L, 8L], r.Scores.shape);
        var change = (r.MetricValue! - r.ReferenceMetricValue!).abs().max().item<float>();
        Assert.True(r.CompletenessError < 2e-3 * Math.Max(1, change), $"completeness error {r.CompletenessError} for a change of {change}");
        // hook_embed is a cut of this model: F(0) is the model on the baseline tokens.
        var direct = model.Run(pad)[.., -1, 3];
        Assert.True((r.ReferenceMetricValue! - direct).abs().max().item<float>() < 1e-4);
    }

    [Fact]
    public void A_missing_or_unknown_site_is_an_input_error_naming_the_closest()
    {
        using var model = new SmoothModel();
        using var x = randn(2, 4, ScalarType.Float64);
        var e = Assert.Throws<MechanistInputException>(() => new LayerIntegratedGradients().Attribute(new AttributionContext
        {
            Model = model, Input = x, Metric = o => o.select(1, 0), MetricDescription = "m", Site = "mlp.hook_psot",
            Options = new IntegratedGradientsOptions(),
        }));
        Assert.Contains("mlp.hook_post", e.Message);
        e = Assert.Throws<MechanistInputException>(() => new LayerIntegratedGradients().Attribute(new AttributionContext
        {
            Model = model, Input = x, Metric = o => o.select(1, 0), MetricDescription = "m", Options = new IntegratedGradientsOptions(),
        }));
        Assert.Contains("needs a hook site", e.Message);
    }
}
