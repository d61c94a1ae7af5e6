using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Mechanist.Models.Training;

/// <summary>Hyperparameters of <see cref="AdamW"/>.</summary>
public sealed record AdamWSettings(double Lr = 1e-3, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8, double WeightDecay = 0.0);

/// <summary>
/// AdamW (Loshchilov &amp; Hutter 2019) with exactly PyTorch's single-tensor update:
/// θ ← θ(1 − lr·λ); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
/// With λ = 0 it is Adam. Its state (step count, m, v per named parameter) is exposed by name so a training run
/// can checkpoint it and resume bit for bit.
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly List<(string Name, Parameter Param, Tensor ExpAvg, Tensor ExpAvgSq)> _state = [];

    public AdamW(IEnumerable<(string Name, Parameter Param)> parameters, AdamWSettings settings)
    {
        Settings = settings;
        foreach (var (name, p) in parameters)
            _state.Add((name, p, zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope()));
    }

    public AdamWSettings Settings { get; }

    /// <summary>Updates taken so far (t in the bias corrections).</summary>
    public long StepCount { get; private set; }

    public IEnumerable<string> ParameterNames => _state.Select(s => s.Name);

    public void ZeroGrad()
    {
        foreach (var (_, p, _, _) in _state) p.grad?.zero_();
    }

    /// <summary>One update from the current gradients (a parameter without a gradient is skipped, as in PyTorch).</summary>
    public void Step() => Step(1.0);

    /// <summary>One update with the learning rate multiplied by <paramref name="lrScale"/> for this step only (a schedule).</summary>
    public void Step(double lrScale)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        StepCount++;
        var (lr, beta1, beta2, eps, weightDecay) = Settings;
        lr *= lrScale;
        double biasCorrection1 = 1 - Math.Pow(beta1, StepCount);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, StepCount));
        foreach (var (_, p, m, v) in _state)
        {
            var g = p.grad;
            if (g is null) continue;
            if (weightDecay != 0) p.mul_(1 - lr * weightDecay);
            m.lerp_(g, 1 - beta1);
            v.mul_(beta2).addcmul_(g, g, value: 1 - beta2);
            var denom = (v.sqrt() / biasCorrection2Sqrt).add_(eps);
            p.addcdiv_(m, denom, value: -lr / biasCorrection1);
        }
    }

    /// <summary>The moment estimates by name: <c>exp_avg.NAME</c> and <c>exp_avg_sq.NAME</c> (live tensors, do not dispose).</summary>
    public IEnumerable<(string Name, Tensor Value)> StateTensors() =>
        _state.SelectMany(s => new[] { ($"exp_avg.{s.Name}", s.ExpAvg), ($"exp_avg_sq.{s.Name}", s.ExpAvgSq) });

    /// <summary>Restores the step count and the moment estimates written by <see cref="StateTensors"/>.</summary>
    public void LoadState(long stepCount, IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var _ = no_grad();
        foreach (var (name, t) in StateTensors()) t.copy_(tensors[name]);
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var (_, _, m, v) in _state)
        {
            m.Dispose();
            v.Dispose();
        }
        _state.Clear();
    }
}
