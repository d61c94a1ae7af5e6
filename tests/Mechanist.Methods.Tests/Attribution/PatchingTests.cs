using Mechanist.Attribution;
using Mechanist.Methods.Attribution;
using Mechanist.Methods.Evaluation;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Attribution;

public class PatchingTests
{
    static AttributionContext Context(HookedModel model, Tensor clean, Tensor corrupted, Mechanist.Options.MethodOptions options, IReadOnlyList<string>? sites = null) => new()
    {
        Model = model, Input = clean, Baseline = corrupted, Metric = o => o[.., -1, 2] - o[.., -1, 4],
        MetricDescription = "logit difference 2 − 4 at the last position", Sites = sites, Options = options,
    };

    [Theory]
    [InlineData(PatchGranularity.Site, PatchDirection.Denoising)]
    [InlineData(PatchGranularity.Position, PatchDirection.Denoising)]
    [InlineData(PatchGranularity.Position, PatchDirection.Noising)]
    [InlineData(PatchGranularity.Element, PatchDirection.Denoising)]
    [InlineData(PatchGranularity.Element, PatchDirection.Noising)]
    public void Attribution_patching_equals_activation_patching_on_a_linear_model(PatchGranularity granularity, PatchDirection direction)
    {
        using var scope = NewDisposeScope();
        using var model = new LinearSequenceModel();
        var clean = randn(3, 4, 5, ScalarType.Float64, generator: new Generator(1));
        var corrupted = randn(3, 4, 5, ScalarType.Float64, generator: new Generator(2));
        var ap = new ActivationPatching().Attribute(Context(model, clean, corrupted,
            new ActivationPatchingOptions { Granularity = granularity, Direction = direction, UnitsPerPass = 3 }));
        var atp = new AttributionPatching().Attribute(Context(model, clean, corrupted,
            new PatchingOptions { Granularity = granularity, Direction = direction }));
        Assert.Equal(ap.UnitLabels, atp.UnitLabels);
        Assert.Equal(ap.Scores.shape, atp.Scores.shape);
        long units = granularity switch { PatchGranularity.Site => 3, PatchGranularity.Position => 12, _ => 60 };
        Assert.Equal([3L, units], ap.Scores.shape);
        Assert.True(ap.Scores.abs().max().item<double>() > 0.1, "patching moves the metric");
        Assert.True((ap.Scores - atp.Scores).abs().max().item<double>() < 1e-10,
            $"max |AP − AtP| = {(ap.Scores - atp.Scores).abs().max().item<double>()}");
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Patching_the_whole_input_site_restores_the_clean_metric()
    {
        // Independent check of activation patching's definition: with the input site patched whole, the corrupted
        // run becomes the clean run, so the score is M(clean) − M(corrupted).
        using var scope = NewDisposeScope();
        using var model = new LinearSequenceModel();
        var clean = randn(2, 3, 5, ScalarType.Float64, generator: new Generator(3));
        var corrupted = randn(2, 3, 5, ScalarType.Float64, generator: new Generator(4));
        var ap = new ActivationPatching().Attribute(Context(model, clean, corrupted,
            new ActivationPatchingOptions { Granularity = PatchGranularity.Site }, ["blocks.0.hook_resid_pre"]));
        var expected = (model.Run(clean)[.., -1, 2] - model.Run(clean)[.., -1, 4]) - (model.Run(corrupted)[.., -1, 2] - model.Run(corrupted)[.., -1, 4]);
        Assert.True((ap.Scores.squeeze(1) - expected).abs().max().item<double>() < 1e-12);
        // resid_post at position 0 feeds only the logits at position 0, so patching it cannot move the metric.
        var perPosition = new ActivationPatching().Attribute(Context(model, clean, corrupted,
            new ActivationPatchingOptions(), ["blocks.0.hook_resid_post"]));
        Assert.Equal(0.0, perPosition.Scores[.., 0].abs().max().item<double>(), 12);
    }

    [Fact]
    public void On_a_nonlinear_model_attribution_patching_is_only_an_estimate()
    {
        using var scope = NewDisposeScope();
        using var model = new TinyTokenModel();
        var clean = tensor(new long[] { 1, 4, 2, 7, 3, 5 }).view(1, 6);
        var corrupted = tensor(new long[] { 9, 4, 2, 7, 3, 8 }).view(1, 6);
        var ap = new ActivationPatching().Attribute(Context(model, clean, corrupted, new ActivationPatchingOptions()));
        var atp = new AttributionPatching().Attribute(Context(model, clean, corrupted, new PatchingOptions()));
        var gap = (ap.Scores - atp.Scores).abs().max().item<float>();
        Assert.True(gap > 1e-3, "the first-order estimate differs from the causal effect on a nonlinear model");
        Assert.Equal(4, ap.Parts.Count);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void A_site_the_metric_does_not_depend_on_scores_zero_in_both()
    {
        using var scope = NewDisposeScope();
        using var model = new SmoothModel();
        var clean = randn(2, 4, ScalarType.Float64, generator: new Generator(5));
        var corrupted = randn(2, 4, ScalarType.Float64, generator: new Generator(6));
        AttributionContext Context(Mechanist.Options.MethodOptions o) => new()
        {
            Model = model, Input = clean, Baseline = corrupted, Metric = o => o.select(1, 0), MetricDescription = "output 0",
            Sites = ["hook_unused", "hook_out"], Options = o,
        };
        var ap = new ActivationPatching().Attribute(Context(new ActivationPatchingOptions { Granularity = PatchGranularity.Element }));
        var atp = new AttributionPatching().Attribute(Context(new PatchingOptions { Granularity = PatchGranularity.Element }));
        Assert.Equal(0.0, Num.MaxAbs(ap.Parts["hook_unused"]));
        Assert.Equal(0.0, Num.MaxAbs(atp.Parts["hook_unused"]));
        // hook_out is the output itself: the metric is linear in it, so the two agree exactly there.
        Assert.True(Num.MaxAbs(ap.Parts["hook_out"] - atp.Parts["hook_out"]) < 1e-12);
        Assert.True(Num.MaxAbs(ap.Parts["hook_out"]) > 0.01);
    }

    [Fact]
    public void A_missing_corrupted_input_or_a_shape_mismatch_is_an_input_error()
    {
        using var model = new LinearSequenceModel();
        using var clean = randn(2, 3, 5, ScalarType.Float64);
        var e = Assert.Throws<MechanistInputException>(() => new ActivationPatching().Attribute(new AttributionContext
        {
            Model = model, Input = clean, Metric = o => o[.., -1, 0], MetricDescription = "m", Options = new ActivationPatchingOptions(),
        }));
        Assert.Contains("corrupted input", e.Message);
        using var wrong = randn(2, 4, 5, ScalarType.Float64);
        e = Assert.Throws<MechanistInputException>(() => new AttributionPatching().Attribute(new AttributionContext
        {
            Model = model, Input = clean, Baseline = wrong, Metric = o => o[.., -1, 0], MetricDescription = "m", Options = new PatchingOptions(),
        }));
        Assert.Contains("shape", e.Message);
    }

    [Fact]
    public void Spearman_handles_ties_and_matches_known_values()
    {
        Assert.Equal(1.0, RankCorrelation.Spearman([1, 2, 3, 4], [10, 20, 30, 40]), 12);
        Assert.Equal(-1.0, RankCorrelation.Spearman([1, 2, 3, 4], [4, 3, 2, 1]), 12);
        Assert.Equal([1.5, 1.5, 3.0], RankCorrelation.Ranks([5, 5, 7]));
        // x = [1, 2, 3, 4, 5], y = [2, 1, 4, 3, 5]: d² = 1+1+1+1+0 = 4, ρ = 1 − 6·4/(5·24) = 0.8.
        Assert.Equal(0.8, RankCorrelation.Spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 12);
    }
}
