namespace Mechanist.Sae;

/// <summary>
/// The target_l0 rule: one step of the sparsity coefficient's adaptation from the batch L0, on the state the trainer
/// checkpoints ([λ, smoothed log L0, smoothed slope of log L0 per step, gain], float64). After the sparsity warm-up
/// it aims at the error expected <see cref="Horizon"/> steps ahead, p = clamp(log(L0 / K) + H · s, −1, 1):
/// <list type="bullet">
/// <item>a coefficient that must stay positive (an L1 penalty) moves in log space: log λ ← log λ + g γ p, within a
/// factor of 100 of its start λ₀, with a gain g that halves (to at least <see cref="MinGain"/>) each time the smoothed
/// L0 crosses the target and recovers by <see cref="GainRecovery"/> a step towards 1 while it stays on one side;</item>
/// <item>a coefficient that may change sign (a penalty that counts firings) moves additively, λ ← λ + g γ p ·
/// max(|λ|, λ₀), between −10 λ₀ and 100 λ₀, with a gain g that grows by <see cref="GainGrowth"/> a step (to at most
/// <see cref="MaxGain"/>) while L0 is below the target and not closing on it, or above it and not closing while λ is
/// negative (a reward for firing to withdraw), and halves towards 1 otherwise.</item>
/// </list>
/// The steps are small so the weights can follow (L0 answers a new λ over tens of steps). Looking ahead brakes before
/// L0 arrives: a threshold that moves at the learning rate's pace keeps moving after λ changes, and reacting to the
/// present error alone wound λ up past the value that holds L0 at K (L0 then overshot and latents died).
/// An integral rule holds L0 off the target by (the drift of the λ that would hold L0 at K) / (its gain). JumpReLU's
/// thresholds keep rising as the dictionary improves, so that λ falls all through training; at g = 1 that left L0 at
/// 4.8 for a target of 6 on 512 features in 128 dimensions (λ falling at 0.0023 a step against a gain of 0.01 per unit
/// of log error: a lag of 0.23, e^−0.23 · 6 = 4.8). The growing gain removes the lag while it lasts. Above the target
/// it grows only while λ is negative: a positive λ raises thresholds at once, and growing there too made L0 swing by
/// ±20% around the target with a period of about 200 steps; a negative one, left at g = 1, came back so slowly that L0
/// overshot a target of 9 to 13.7 and ended at 10.0.
/// A ReLU SAE's L0 answers λ steeply and within about ten steps (its b_enc learns at ten times the learning rate); at a
/// fixed gain the look-ahead's slope, smoothed over about twenty steps, came too late, p sat at its clamp and λ swung
/// by a factor of 1.6 each way with L0 between 2.7 and 9.9 every 50 steps for a target of 6 (256 features in 64
/// dimensions), ending wherever the learning-rate decay froze it. Halving the gain at each crossing damps that swing.
/// </summary>
internal static class SparsityTarget
{
    /// <summary>γ: the step per unit of predicted log error.</summary>
    public const double Gain = 0.02;

    /// <summary>H: the steps ahead at which the rule aims (it brakes before L0 arrives).</summary>
    public const double Horizon = 50;

    /// <summary>Growth per step of a signed coefficient's gain while L0 is stuck below the target.</summary>
    public const double GainGrowth = 1.02;

    /// <summary>Largest gain g.</summary>
    public const double MaxGain = 10;

    /// <summary>Smallest gain of a positive coefficient (it halves each time the smoothed L0 crosses the target).</summary>
    public const double MinGain = 1.0 / 16;

    /// <summary>Recovery per step of a positive coefficient's gain towards 1 while the smoothed L0 stays on one side.</summary>
    public const double GainRecovery = 1.01;

    /// <summary>The state before the first step: λ₀, no smoothed L0 yet, no slope, gain 1.</summary>
    public static double[] Initial(double start) => [start, double.NaN, 0, 1];

    /// <summary>
    /// Updates <paramref name="state"/> in place from the batch's L0: the smoothed log L0 and slope always, λ and the
    /// gain only when <paramref name="adapting"/> (after the sparsity warm-up).
    /// </summary>
    public static void Step(double[] state, double l0, double target, double start, bool signed, bool adapting)
    {
        double logL0 = Math.Log(Math.Max(l0, 1e-3));
        if (double.IsNaN(state[1])) state[1] = logL0;
        double smoothed = 0.9 * state[1] + 0.1 * logL0;
        bool crossed = Math.Sign(smoothed - Math.Log(target)) != Math.Sign(state[1] - Math.Log(target));
        state[2] = 0.9 * state[2] + 0.1 * (smoothed - state[1]);
        state[1] = smoothed;
        if (!adapting) return;
        double error = Math.Log(Math.Max(l0, 1e-3) / target);
        double predicted = error + Horizon * state[2];
        if (signed)
        {
            state[3] = StuckBelow(error, predicted) || state[0] < 0 && StuckBelow(-error, -predicted) ? Math.Min(state[3] * GainGrowth, MaxGain) : Math.Max(state[3] / 2, 1);
            double push = Gain * state[3] * Math.Clamp(predicted, -1, 1);
            state[0] = Math.Clamp(state[0] + push * Math.Max(Math.Abs(state[0]), start), -start * 10, start * 100);
        }
        else
        {
            state[3] = crossed ? Math.Max(state[3] / 2, MinGain) : Math.Min(state[3] * GainRecovery, 1);
            state[0] = Math.Clamp(state[0] * Math.Exp(Gain * state[3] * Math.Clamp(predicted, -1, 1)), start / 100, start * 100);
        }
    }

    /// <summary>
    /// L0 is below the target, within a factor of 1.5 of it (far off, p is clamped anyway), more than 5% below it and
    /// expected to be still at least half as far below <see cref="Horizon"/> steps ahead. With the signs turned: the
    /// same above the target.
    /// </summary>
    static bool StuckBelow(double error, double predicted) =>
        error < 0 && error > -Math.Log(1.5) && predicted < -Math.Log(1.05) && predicted <= error / 2;
}
