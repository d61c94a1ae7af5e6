using static TorchSharp.torch;

namespace Mechanist.Attribution;

/// <summary>
/// A behaviour a validator tests claims about: inputs on which the model shows it, a metric that measures it
/// (model output → [batch]), and optionally corrupted inputs on which it is absent (patching's reference run).
/// </summary>
/// <param name="Input">Inputs that exhibit the behaviour, [batch, …].</param>
/// <param name="Metric">Model output → one scalar per example [batch]; differentiable.</param>
/// <param name="Description">Human description ("logit of the correct answer at the last position").</param>
public sealed record Behaviour(Tensor Input, Func<Tensor, Tensor> Metric, string Description)
{
    /// <summary>Inputs on which the behaviour is absent, same shape as <see cref="Input"/>.</summary>
    public Tensor? Corrupted { get; init; }

    /// <summary>
    /// The metric for outputs of given examples (see <see cref="AttributionContext.ExampleMetric"/>): set when the
    /// metric depends on the example (a label per input); pass it on to every attribution context.
    /// </summary>
    public Func<Tensor, Tensor, Tensor>? ExampleMetric { get; init; }
}
