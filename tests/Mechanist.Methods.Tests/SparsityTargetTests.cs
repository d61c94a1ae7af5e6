using Mechanist.Sae;

namespace Mechanist.Methods.Tests;

/// <summary>
/// The target_l0 rule in closed loop with a model of what it controls: L0 moves a fifth of the way a step (in log
/// space) towards 6 · e^{−(λ − c(t))}, where c(t), the coefficient that would hold L0 at 6, falls steadily, as
/// JumpReLU's does while its dictionary improves (its thresholds rise on their own). Started on target at λ = c(0) = λ₀.
/// </summary>
public class SparsityTargetTests
{
    const double Target = 6, Start = 0.5;

    static (double MeanL0, double MinL0, double MaxL0) Control(double driftPerStep, bool signed, int steps = 1_000, int last = 200)
    {
        var state = SparsityTarget.Initial(Start);
        double logL0 = Math.Log(Target);
        var tail = new List<double>();
        for (int t = 0; t < steps; t++)
        {
            double hold = Start - driftPerStep * t;
            logL0 += (Math.Log(Target) - (state[0] - hold) - logL0) / 5;
            SparsityTarget.Step(state, Math.Exp(logL0), Target, Start, signed, adapting: true);
            if (t >= steps - last) tail.Add(Math.Exp(logL0));
        }
        return (tail.Average(), tail.Min(), tail.Max());
    }

    /// <summary>
    /// With the coefficient falling 0.002 a step (about JumpReLU's on 512 features in 128 dimensions, where it fell
    /// 0.0023 a step while L0 sat at 4.8 for a target of 6) a fixed gain lags: the rule before the growing gain held L0
    /// at 5.37 on average here (a lag of 0.11 in log L0), down to 5.21. The gain that grows while L0 is stuck below the
    /// target holds the lag within the 5% band it leaves alone plus its swing (5.63, no lower than 5.58).
    /// </summary>
    [Fact]
    public void A_signed_coefficient_follows_a_drifting_balance_without_lagging_behind()
    {
        var (mean, min, max) = Control(driftPerStep: 0.002, signed: true);
        Assert.True(Math.Abs(Math.Log(mean / Target)) < 0.075, $"mean L0 over the last 200 steps {mean:F2} (min {min:F2}, max {max:F2})");
        Assert.True(min > 0.9 * Target && max < 1.1 * Target, $"L0 over the last 200 steps {min:F2} to {max:F2}");
    }

    /// <summary>Without drift the growing gain settles: no swing of more than 5% over the last 200 steps.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Without_drift_the_coefficient_holds_l0_at_the_target(bool signed)
    {
        var (mean, min, max) = Control(driftPerStep: 0, signed);
        Assert.True(min > 0.95 * Target && max < 1.05 * Target, $"L0 over the last 200 steps {min:F2} to {max:F2} (mean {mean:F2})");
    }

    /// <summary>
    /// A positive (L1) coefficient on a fast, sensitive response: L0 moves a third of the way a step towards
    /// 6 · (λ / 8)^−2.6, answering λ ten steps late (ReLU's thresholds, b_enc, learn at ten times the learning rate and
    /// its L0 answers λ steeply). The rule before the gain that halves at each crossing swung between L0 3.6 and 10.0
    /// here, at a period of about 50 steps, as training did (2.7 to 9.9 for a target of 6 on 256 features in 64
    /// dimensions, ending at 7.0); now it settles.
    /// </summary>
    [Fact]
    public void A_positive_coefficient_settles_instead_of_swinging_around_the_target()
    {
        var state = SparsityTarget.Initial(5);
        var applied = new Queue<double>();
        double logL0 = Math.Log(50);
        var tail = new List<double>();
        for (int t = 0; t < 1_000; t++)
        {
            applied.Enqueue(state[0]);
            double lambda = applied.Count > 10 ? applied.Dequeue() : 5;
            logL0 += (Math.Log(Target) - 2.6 * Math.Log(lambda / 8) - logL0) / 3;
            SparsityTarget.Step(state, Math.Exp(logL0), Target, 5, signed: false, adapting: true);
            if (t >= 800) tail.Add(Math.Exp(logL0));
        }
        Assert.True(tail.Min() > 0.95 * Target && tail.Max() < 1.05 * Target, $"L0 over the last 200 steps {tail.Min():F2} to {tail.Max():F2}");
    }
}
