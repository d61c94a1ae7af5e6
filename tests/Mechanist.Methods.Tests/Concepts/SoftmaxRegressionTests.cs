using Mechanist.Methods.Concepts;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Concepts;

public class SoftmaxRegressionTests
{
    [Fact]
    public void Without_penalty_the_binary_fit_is_the_maximum_likelihood_log_odds()
    {
        // x = +1: 3 of 4 rows positive; x = −1: 1 of 4. The maximum-likelihood logistic model has log-odds
        // log(3)·x exactly (the data are balanced, so the intercept is 0).
        var x = tensor(new float[] { 1, 1, 1, 1, -1, -1, -1, -1 }).view(8, 1);
        var y = tensor(new long[] { 1, 1, 1, 0, 1, 0, 0, 0 });
        using var fit = SoftmaxRegression.Fit(x, y, 2, l2: 0, tolerance: 1e-12);
        Assert.True(fit.GradientNorm < 1e-9, $"gradient {fit.GradientNorm}");
        Assert.Equal(Math.Log(3), fit.Direction(1, 0).item<double>(), 6);
        using var logits = fit.Logits(tensor(new float[] { 1 }).view(1, 1));
        Assert.Equal(Math.Log(3), (logits[0, 1] - logits[0, 0]).item<double>(), 6);
    }

    [Fact]
    public void The_penalised_fit_is_a_stationary_point_of_its_objective()
    {
        // KKT: at the optimum the analytic gradient vanishes; check it against a finite difference of the loss too.
        var g = new Generator(3);
        var x = randn(300, 5, generator: g);
        var w = randn(5, 3, generator: g);
        var y = (x.matmul(w) + randn(300, 3, generator: g)).argmax(1);
        using var fit = SoftmaxRegression.Fit(x, y, 3, l2: 0.05, tolerance: 1e-10);
        Assert.True(fit.GradientNorm < 1e-8, $"gradient {fit.GradientNorm}");
        double Loss(Tensor weight)
        {
            var z = ((x.to(ScalarType.Float64) - fit.Mean) / fit.Scale).matmul(weight) + fit.Bias;
            return nn.functional.cross_entropy(z, y).item<double>() + 0.025 * weight.pow(2).sum().item<double>();
        }
        double f0 = Loss(fit.Weight);
        Assert.Equal(fit.Loss, f0, 9);
        for (int i = 0; i < 5; i++)
        {
            var bumped = fit.Weight.clone();
            bumped[i, 1] += 1e-3;
            double f1 = Loss(bumped);
            Assert.True(f1 >= f0 - 1e-12, $"no coordinate step lowers the loss: {f1} < {f0}, bumped {bumped[i, 1].item<double>()} from {fit.Weight[i, 1].item<double>()}");
        }
        Assert.True(fit.Accuracy(x, y) > 0.5, "better than chance (1/3)");
    }

    [Fact]
    public void Separable_classes_are_recovered_on_held_out_rows()
    {
        var g = new Generator(5);
        var centers = tensor(new float[] { 3, 0, 0, 3, -3, -3 }).view(3, 2);
        var y = randint(0, 3, [600], generator: g);
        var x = centers.index_select(0, y) + randn(600, 2, generator: g) * 0.5;
        using var fit = SoftmaxRegression.Fit(x.narrow(0, 0, 400), y.narrow(0, 0, 400), 3);
        Assert.True(fit.Accuracy(x.narrow(0, 400, 200), y.narrow(0, 400, 200)) > 0.98);
    }
}
