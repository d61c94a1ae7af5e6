using Mechanist.Attribution;
using Mechanist.Decomposers;
using Mechanist.Methods.Attribution;
using Mechanist.Methods.Validators;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Attribution;

/// <summary>
/// A hand-built model with a planted feature: activations x = Σ_j c_j q_j over an orthonormal dictionary Q, read out
/// by r = 3 q_p. The dictionary is the SAE, so its latent p is the planted feature and the behaviour M = x·r = 3 c_p.
/// </summary>
sealed class PlantedFeature : IDisposable
{
    public const int D = 6;
    public const int Planted = 2;

    public PlantedFeature(double readoutWeight = 3, bool spread = false)
    {
        var g = new Generator(21);
        var (q, _) = linalg.qr(randn(D, D, ScalarType.Float64, generator: g));
        Q = q.t().contiguous().DetachFromDisposeScope(); // rows are the orthonormal directions
        var r = spread ? Q.sum(dim: 0) : Q[Planted] * readoutWeight;
        Model = new ReadoutModel(stack([r, Q[0]], 1));
        Sae = StandardSae.FromSignedLinear(Q.to(ScalarType.Float32), Q.to(ScalarType.Float32), zeros(D));
        Codes = (rand(8, D, ScalarType.Float64, generator: g) + 0.5).DetachFromDisposeScope();
        Input = Codes.matmul(Q).DetachFromDisposeScope();
    }

    public Tensor Q { get; }
    public ReadoutModel Model { get; }
    public StandardSae Sae { get; }
    public Tensor Codes { get; }
    public Tensor Input { get; }

    public Behaviour Behaviour => new(Input, o => o.select(1, 0), "readout r·x");

    public void Dispose()
    {
        Model.Dispose(); Sae.Dispose(); Q.Dispose(); Codes.Dispose(); Input.Dispose();
    }
}

public class FeatureAttributionTests
{
    static AttributionContext Context(Mechanist.Models.IHookedModel model, Tensor input, Decomposition sae, string site, FeatureAttributionOptions options,
        Func<Tensor, Tensor> metric, Tensor? baseline = null) => new()
    {
        Model = model, Input = input, Baseline = baseline, Metric = metric, MetricDescription = "metric", Site = site,
        Decomposition = sae, Options = options,
    };

    [Fact]
    public void Ablating_the_planted_feature_removes_exactly_its_effect()
    {
        using var scope = NewDisposeScope();
        using var planted = new PlantedFeature();
        var splice = new FeatureSplice(planted.Model, planted.Sae, "hook_mid");
        using var noGrad = no_grad();
        var state = splice.State(planted.Input, out var output);
        var clean = output.select(1, 0);
        Assert.True((splice.Run(planted.Input, state).select(1, 0) - clean).abs().max().item<double>() < 1e-12, "the spliced run reproduces the clean run");
        var ablated = state.clone();
        splice.Latents(ablated)[.., PlantedFeature.Planted].zero_();
        var removed = clean - splice.Run(planted.Input, ablated).select(1, 0);
        // Its effect is exactly 3 c_p per example (float32 dictionary: the error node absorbs rounding).
        Assert.True((removed - 3 * planted.Codes[.., PlantedFeature.Planted]).abs().max().item<double>() < 1e-5);
        for (int j = 0; j < 2 * PlantedFeature.D; j++)
        {
            if (j == PlantedFeature.Planted) continue;
            var other = state.clone();
            splice.Latents(other)[.., j].zero_();
            Assert.True((clean - splice.Run(planted.Input, other).select(1, 0)).abs().max().item<double>() < 1e-5, $"feature {j} has no effect");
        }
    }

    [Fact]
    public void Feature_attributions_plus_the_error_sum_to_the_change_on_a_linear_readout()
    {
        using var scope = NewDisposeScope();
        using var planted = new PlantedFeature();
        var r = new FeatureAttribution().Attribute(Context(planted.Model, planted.Input, planted.Sae, "hook_mid", new FeatureAttributionOptions(), o => o.select(1, 0)));
        Assert.Equal([8L, 2L * PlantedFeature.D], r.Scores.shape);
        Assert.True(r.CompletenessError < 1e-5, $"completeness error {r.CompletenessError}");
        // All credit goes to the planted latent: 3 c_p; the others get zero.
        var expected = 3 * planted.Codes[.., PlantedFeature.Planted];
        Assert.True((r.Scores[.., PlantedFeature.Planted].to(ScalarType.Float64) - expected).abs().max().item<double>() < 1e-5);
        var others = r.Scores.clone();
        others[.., PlantedFeature.Planted].zero_();
        Assert.True(Num.MaxAbs(others) < 1e-5);
        Assert.True(Num.MaxAbs(r.Parts["error"]) < 1e-5);
    }

    [Fact]
    public void On_a_nonlinear_model_integrated_feature_attribution_is_complete_and_the_gradient_estimate_is_not()
    {
        using var scope = NewDisposeScope();
        using var model = new TinyTokenModel();
        var g = new Generator(4);
        using var sae = new StandardSae(randn(8, 24, generator: g) * 0.5, randn(24, generator: g) * 0.1, randn(24, 8, generator: g) * 0.3, zeros(8));
        var tokens = tensor(new long[] { 1, 4, 2, 7, 3, 5, 9, 0, 2, 2 }).view(2, 5);
        Func<Tensor, Tensor> metric = o => o[.., -1, 3];
        var gradient = new FeatureAttribution().Attribute(Context(model, tokens, sae, "blocks.0.hook_resid_pre", new FeatureAttributionOptions(), metric));
        var integrated = new FeatureAttribution().Attribute(Context(model, tokens, sae, "blocks.0.hook_resid_pre",
            new FeatureAttributionOptions { Method = FeatureAttributionMethod.Integrated, Steps = 32 }, metric));
        var change = (integrated.MetricValue! - integrated.ReferenceMetricValue!).abs().max().item<float>();
        Assert.True(change > 0.1, $"the metric changes ({change})");
        Assert.Equal([2L, 5L, 24L], integrated.Scores.shape);
        Assert.Equal([2L, 5L], integrated.Parts["error"].shape);
        Assert.True(integrated.CompletenessError < 1e-3 * Math.Max(1, change), $"integrated: {integrated.CompletenessError}");
        Assert.True(gradient.CompletenessError > 10 * integrated.CompletenessError, $"gradient: {gradient.CompletenessError}");
        // The splice with its error node reproduces the clean metric.
        Assert.True((integrated.MetricValue! - metric(model.Run(tokens))).abs().max().item<float>() < 1e-4);
    }

    [Fact]
    public void A_decomposition_whose_d_in_does_not_match_the_site_is_an_input_error()
    {
        using var scope = NewDisposeScope();
        using var model = new TinyTokenModel();
        using var sae = StandardSae.FromSignedLinear(eye(5), eye(5), zeros(5));
        var tokens = tensor(new long[] { 1, 2, 3 }).view(1, 3);
        var e = Assert.Throws<MechanistInputException>(() => new FeatureAttribution().Attribute(
            Context(model, tokens, sae, "blocks.0.mlp.hook_post", new FeatureAttributionOptions(), o => o[.., -1, 0])));
        Assert.Contains("d_in is 5", e.Message);
        Assert.Contains("width 16", e.Message);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Causal_ablation_passes_the_planted_feature_and_flags_a_spread_behaviour()
    {
        using var planted = new PlantedFeature();
        var options = new CausalAblationOptions { TopK = 1, RandomDraws = 8 };
        var outcome = CausalAblation.Run(planted.Model, planted.Sae, "hook_mid", planted.Behaviour, options, seed: 1)!.Value;
        Assert.Equal([PlantedFeature.Planted], outcome.Credited);
        Assert.Equal(1.0, outcome.CreditedFraction, 4);
        Assert.Equal(8, outcome.RandomFractions.Count);
        Assert.All(outcome.RandomFractions, f => Assert.Equal(0.0, f, 4));
        Assert.Empty(Validate(planted, options));

        // When every feature carries an equal share, one credited feature removes only a sixth.
        using var spread = new PlantedFeature(spread: true);
        var findings = Validate(spread, options);
        var finding = Assert.Single(findings);
        Assert.Equal("MECH3001", finding.Id);
        Assert.InRange(finding.Value!.Value, 0.05, 0.45);
        Assert.Equal(0, spread.Model.ActiveHookCount);
    }

    [Fact]
    public void Causal_ablation_flags_random_sets_that_remove_as_much()
    {
        // The behaviour is spread evenly and the threshold for random sets is low: random sets remove as much.
        using var spread = new PlantedFeature(spread: true);
        var settings = new CheckSettings(Thresholds: new Dictionary<string, double> { ["MECH3001"] = 0.1, ["MECH3002"] = 0.1 });
        var findings = Validate(spread, new CausalAblationOptions { TopK = 1, RandomDraws = 5 }, settings);
        Assert.Equal(["MECH3002"], findings.Select(f => f.Id));
    }

    static List<Finding> Validate(PlantedFeature planted, CausalAblationOptions options, CheckSettings? settings = null)
    {
        var findings = new List<Finding>();
        new CausalAblation().Validate(new ValidationContext(findings.Add)
        {
            Options = options, Model = planted.Model, Decomposition = planted.Sae, Site = "hook_mid", Behaviour = planted.Behaviour,
            Settings = settings ?? CheckSettings.Default, Seed = 3,
        });
        return findings;
    }
}
