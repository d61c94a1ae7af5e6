using Mechanist.Attribution;
using Mechanist.Methods.Attribution;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Attribution;

/// <summary>Gradient methods against central finite differences, in float64.</summary>
public class GradientTests
{
    const double H = 1e-6;

    static double MetricAt(SmoothModel model, Tensor x, int example) =>
        model.Run(x).select(1, 0)[example].item<double>();

    /// <summary>∂M_b/∂x_{b,i} by central differences, example by example.</summary>
    static Tensor FiniteDifferenceInputGradient(SmoothModel model, Tensor x)
    {
        using var noGrad = no_grad();
        var grad = zeros_like(x);
        for (int b = 0; b < x.shape[0]; b++)
            for (int i = 0; i < x.shape[1]; i++)
            {
                var plus = x.clone(); plus[b, i] += H;
                var minus = x.clone(); minus[b, i] -= H;
                grad[b, i] = (MetricAt(model, plus, b) - MetricAt(model, minus, b)) / (2 * H);
            }
        return grad;
    }

    static AttributionContext Context(SmoothModel model, Tensor x, Mechanist.Options.MethodOptions options, string? site = null) => new()
    {
        Model = model, Input = x, Metric = o => o.select(1, 0), MetricDescription = "output 0", Site = site, Options = options,
    };

    [Fact]
    public void Saliency_and_input_x_gradient_match_finite_differences_at_the_input()
    {
        using var scope = NewDisposeScope();
        using var model = new SmoothModel();
        var x = randn(3, 4, ScalarType.Float64, generator: new Generator(5));
        var fd = FiniteDifferenceInputGradient(model, x);
        var signed = new Saliency().Attribute(Context(model, x, new SaliencyOptions { Abs = false })).Scores;
        var magnitude = new Saliency().Attribute(Context(model, x, new SaliencyOptions())).Scores;
        var ixg = new InputXGradient().Attribute(Context(model, x, new Mechanist.Options.NoOptions())).Scores;
        Assert.True((signed - fd).abs().max().item<double>() < 1e-8, "signed saliency = FD gradient");
        Assert.True((magnitude - fd.abs()).abs().max().item<double>() < 1e-8, "saliency = |FD gradient|");
        Assert.True((ixg - x * fd).abs().max().item<double>() < 1e-8, "input × gradient = x ⊙ FD gradient");
    }

    [Fact]
    public void Gradients_at_a_hook_site_match_finite_differences_through_a_patch()
    {
        using var scope = NewDisposeScope();
        using var model = new SmoothModel();
        var x = randn(2, 4, ScalarType.Float64, generator: new Generator(8));
        const string site = "mlp.hook_post";
        var (_, cache) = model.RunWithCache(x, [site]);
        var a = cache[site];
        var fd = zeros_like(a);
        using (no_grad())
            for (int b = 0; b < a.shape[0]; b++)
                for (int i = 0; i < a.shape[1]; i++)
                {
                    var plus = a.clone(); plus[b, i] += H;
                    var minus = a.clone(); minus[b, i] -= H;
                    var mPlus = model.RunPatched(x, site, _ => plus).select(1, 0)[b].item<double>();
                    var mMinus = model.RunPatched(x, site, _ => minus).select(1, 0)[b].item<double>();
                    fd[b, i] = (mPlus - mMinus) / (2 * H);
                }
        var signed = new Saliency().Attribute(Context(model, x, new SaliencyOptions { Abs = false }, site)).Scores;
        var ixg = new InputXGradient().Attribute(Context(model, x, new Mechanist.Options.NoOptions(), site)).Scores;
        Assert.True((signed - fd).abs().max().item<double>() < 1e-8);
        Assert.True((ixg - a * fd).abs().max().item<double>() < 1e-8);
        Assert.Equal(0, model.ActiveHookCount);
    }

    [Fact]
    public void Integrated_gradients_with_one_right_point_is_input_x_gradient()
    {
        // One right-Riemann step evaluates the gradient at α = 1: IG = (x − 0) ⊙ ∇M(x).
        using var scope = NewDisposeScope();
        using var model = new SmoothModel();
        var x = randn(3, 4, ScalarType.Float64, generator: new Generator(9));
        var ig = new IntegratedGradients().Attribute(Context(model, x, new IntegratedGradientsOptions { Steps = 1, Rule = IntegrationRule.RiemannRight })).Scores;
        var fd = FiniteDifferenceInputGradient(model, x);
        Assert.True((ig - x * fd).abs().max().item<double>() < 1e-8);
    }

    [Fact]
    public void Gauss_legendre_nodes_integrate_polynomials_exactly()
    {
        foreach (var n in new[] { 1, 2, 5, 17, 50 })
        {
            var (alphas, weights) = IntegrationRules.Nodes(IntegrationRule.GaussLegendre, n);
            Assert.Equal(1.0, weights.Sum(), 12);
            for (int degree = 0; degree <= 2 * n - 1; degree++)
            {
                double integral = alphas.Select((a, k) => weights[k] * Math.Pow(a, degree)).Sum();
                Assert.Equal(1.0 / (degree + 1), integral, 11);
            }
        }
    }
}
