using Mechanist.Models.Training;
using Parameter = TorchSharp.Modules.Parameter;
using AdamW = Mechanist.Models.Training.AdamW;
using static TorchSharp.torch;

namespace Mechanist.Models.Tests;

public class AdamWTests
{
    /// <summary>Runs 30 steps of a least-squares problem with <paramref name="step"/> and returns the final weights.</summary>
    static Tensor Run(Func<Parameter, Action> makeStep)
    {
        var g = new Generator(4);
        var x = randn(64, 8, generator: g);
        var y = randn(64, 3, generator: g);
        var w = new Parameter(randn(8, 3, generator: g));
        var step = makeStep(w);
        for (int i = 0; i < 30; i++)
        {
            w.grad?.zero_();
            (x.matmul(w) - y).square().mean().backward();
            step();
        }
        return w.detach().clone();
    }

    [Theory]
    [InlineData(1e-2, 0.9, 0.98, 1.0)]
    [InlineData(3e-3, 0.8, 0.999, 0.0)]
    public void Matches_TorchSharp_AdamW(double lr, double beta1, double beta2, double weightDecay)
    {
        var ours = Run(w =>
        {
            var opt = new AdamW([("w", w)], new AdamWSettings(lr, beta1, beta2, 1e-8, weightDecay));
            return opt.Step;
        });
        var reference = Run(w =>
        {
            var opt = optim.AdamW([w], lr, beta1, beta2, 1e-8, weightDecay);
            return () => opt.step();
        });
        Assert.True(ours.allclose(reference, rtol: 1e-5, atol: 1e-6), $"max difference {(ours - reference).abs().max().item<float>()}");
    }

    [Fact]
    public void State_round_trips_so_a_resumed_optimizer_continues_identically()
    {
        var g = new Generator(8);
        var x = randn(32, 4, generator: g);
        var w1 = new Parameter(randn(4, 2, generator: g));
        var w2 = new Parameter(w1.detach().clone());
        var a = new AdamW([("w", w1)], new AdamWSettings(1e-2, 0.9, 0.98, 1e-8, 1.0));
        void Step(AdamW opt, Parameter w)
        {
            w.grad?.zero_();
            x.matmul(w).sin().sum().backward();
            opt.Step();
        }
        for (int i = 0; i < 5; i++) Step(a, w1);
        var b = new AdamW([("w", w2)], a.Settings);
        using (no_grad()) w2.copy_(w1);
        b.LoadState(a.StepCount, a.StateTensors().ToDictionary(s => s.Name, s => s.Value.clone()));
        Assert.Equal(["exp_avg.w", "exp_avg_sq.w"], b.StateTensors().Select(s => s.Name));
        for (int i = 0; i < 5; i++)
        {
            Step(a, w1);
            Step(b, w2);
        }
        Assert.True(Testing.TensorAssert.Identical(w1, w2));
    }
}
