using Mechanist.Attribution;
using Mechanist.Methods.Attribution;
using Mechanist.Methods.Tests.Attribution;
using Mechanist.Methods.Validators;
using Mechanist.Models;
using Mechanist.Models.Runtime;
using Mechanist.Validators;
using TorchSharp;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Validators;

/// <summary>M = Σ_p w_p tanh(k_p a_p) with a = hook_a = x [B, 5]: saturates where attribution patching's gradient vanishes.</summary>
sealed class SaturatingModel : HookedModel
{
    readonly HookPoint _a;
    readonly Tensor _w = tensor(new[] { 1.0, 2, 3, 4, 5 }, ScalarType.Float64);
    readonly Tensor _k = tensor(new[] { 1.0, 1.5, 2, 2.5, 3 }, ScalarType.Float64);

    public SaturatingModel() : base("saturating")
    {
        _a = Site("hook_a");
        RegisterComponents();
    }

    public override string ModelType => "test-saturating";

    public override Tensor forward(Tensor x) => (_w * (_k * _a.call(x)).tanh()).sum(dim: 1, keepdim: true);
}

/// <summary>hook_in → nn.Linear(4, 3) → hook_out: a model with real parameters.</summary>
sealed class LinearLayerModel : HookedModel
{
    readonly HookPoint _in, _out;
    readonly TorchSharp.Modules.Linear linear;

    public LinearLayerModel() : base("linear-layer")
    {
        linear = nn.Linear(4, 3);
        _in = Site("hook_in");
        _out = Site("hook_out");
        RegisterComponents();
    }

    public TorchSharp.Modules.Linear Layer => linear;

    public override string ModelType => "test-linear-layer";

    public override Tensor forward(Tensor x) => _out.call(linear.call(_in.call(x)));
}

public class AttributionFaithfulnessTests
{
    static List<Finding> Validate(IHookedModel model, Behaviour behaviour, AttributionFaithfulnessOptions? options = null, string? site = null)
    {
        var findings = new List<Finding>();
        new AttributionFaithfulness().Validate(new ValidationContext(findings.Add)
        {
            Options = options ?? new AttributionFaithfulnessOptions(), Model = model, Behaviour = behaviour, Site = site,
        });
        Assert.Equal(0, model.ActiveHookCount);
        return findings;
    }

    [Fact]
    public void A_linear_model_passes_every_check()
    {
        using var scope = NewDisposeScope();
        using var model = new LinearSequenceModel();
        var clean = randn(3, 4, 5, ScalarType.Float64, generator: new Generator(1));
        var behaviour = new Behaviour(clean, o => o[.., -1, 2], "logit 2") { Corrupted = randn(3, 4, 5, ScalarType.Float64, generator: new Generator(2)) };
        Assert.Empty(Validate(model, behaviour));
    }

    [Fact]
    public void Too_few_integration_steps_on_a_curved_metric_are_reported()
    {
        using var scope = NewDisposeScope();
        using var model = new SmoothModel();
        var behaviour = new Behaviour(randn(4, 4, ScalarType.Float64, generator: new Generator(3)) * 2, o => o.select(1, 0), "output 0");
        var findings = Validate(model, behaviour, new AttributionFaithfulnessOptions { Steps = 2, Rule = IntegrationRule.RiemannLeft });
        var finding = Assert.Single(findings, f => f.Id == "MECH2001");
        Assert.True(finding.Value > 0.05);
        // Without corrupted inputs MECH2002 does not pass silently: it says it could not run.
        var notRun = Assert.Single(findings, f => f.Id == "MECH0013");
        Assert.Contains("MECH2002", notRun.Message);
        Assert.DoesNotContain(Validate(model, behaviour), f => f.Id == "MECH2001");
    }

    [Fact]
    public void Attribution_patching_that_misranks_saturated_units_is_reported()
    {
        // AP_p = 2 w_p tanh(k_p) rises with p; AtP_p = 2 w_p k_p sech²(k_p) falls after p = 1: ρ = −0.7.
        using var scope = NewDisposeScope();
        using var model = new SaturatingModel();
        var behaviour = new Behaviour(ones(2, 5, ScalarType.Float64), o => o.squeeze(1), "Σ w tanh(k a)") { Corrupted = -ones(2, 5, ScalarType.Float64) };
        var findings = Validate(model, behaviour, new AttributionFaithfulnessOptions { Granularity = PatchGranularity.Element }, site: "hook_a");
        var finding = Assert.Single(findings, f => f.Id == "MECH2002");
        Assert.Equal(-0.7, finding.Value!.Value, 6);
        Assert.Contains("hook_a[4]", finding.Message);
    }

    [Fact]
    public void Non_finite_parameters_or_metrics_are_errors_and_stop_the_other_checks()
    {
        using var scope = NewDisposeScope();
        using var model = new LinearLayerModel();
        using (no_grad()) model.Layer.weight![0, 0] = double.NaN;
        var behaviour = new Behaviour(randn(2, 4), o => o.select(1, 0), "output 0") { Corrupted = randn(2, 4) };
        var findings = Validate(model, behaviour);
        Assert.All(findings, f => Assert.Equal("MECH2003", f.Id));
        Assert.Contains(findings, f => f.Message.Contains("parameter 'linear.weight'") && f.Severity == Severity.Error);

        using var fine = new LinearLayerModel();
        var nanMetric = new Behaviour(randn(2, 4), o => o.select(1, 0) / zeros(2) * 0, "0/0");
        var finding = Assert.Single(Validate(fine, nanMetric));
        Assert.Equal("MECH2003", finding.Id);
        Assert.Contains("metric", finding.Message);

        var infinite = randn(2, 4);
        infinite[1, 2] = double.PositiveInfinity;
        var atSite = Validate(fine, new Behaviour(infinite, o => o.select(1, 0), "output 0"), site: "hook_out");
        Assert.Contains(atSite, f => f.Message.StartsWith("the activation at hook_out on the behaviour's inputs contains 3"));
    }

    [Fact]
    public void Without_a_model_or_behaviour_it_says_it_could_not_run()
    {
        var findings = new List<Finding>();
        new AttributionFaithfulness().Validate(new ValidationContext(findings.Add) { Options = new AttributionFaithfulnessOptions(), MethodId = "attribution.faithfulness" });
        var finding = Assert.Single(findings);
        Assert.Equal(("MECH0013", Severity.Error), (finding.Id, finding.Severity));
        Assert.Equal("validator 'attribution.faithfulness' could not run: it needs a model and a behaviour (inputs and a metric).", finding.Message);
    }
}
