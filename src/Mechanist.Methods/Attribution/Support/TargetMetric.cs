using Mechanist.Models;
using static TorchSharp.torch;

namespace Mechanist.Methods.Attribution;

/// <summary>
/// The scalar an attribution explains, read from a model's logits: the logit, log-probability or probability of a
/// target class or token, or the difference of two logits, at one sequence position for [batch, pos, vocab] outputs.
/// One value per batch row, with a sentence that defines it for reports.
/// </summary>
public sealed record TargetMetric(Func<Tensor, Tensor> Of, string Description)
{
    /// <summary>The kinds of metric, as <c>--metric</c> names them.</summary>
    public static readonly string[] Kinds = ["logit", "logprob", "prob", "logit-diff"];

    /// <summary>
    /// Runs the model once on <paramref name="input"/> to check the output's shape, the target, the contrast and the
    /// position (input errors name them), then builds the metric. <paramref name="position"/> counts from the end when
    /// negative.
    /// </summary>
    public static TargetMetric Build(IHookedModel model, Tensor input, string kind, long target, long? contrast, int position)
    {
        long[] shape;
        using (no_grad())
        {
            try
            {
                using var output = model.Run(input);
                shape = output.shape;
            }
            catch (Exception e) when (e is not MechanistInputException)
            {
                throw new MechanistInputException(
                    $"the model '{model.ModelType}' cannot run on the input of shape [{string.Join(", ", input.shape)}] ({input.dtype}): {e.Message}");
            }
        }
        if (shape.Length is not (2 or 3))
            throw new MechanistInputException(
                $"the model's output has shape [{string.Join(", ", shape)}]; a target metric needs logits [batch, classes] or [batch, pos, vocab].");
        long vocab = shape[^1];
        foreach (var (name, id) in new[] { ("target", target), ("contrast", contrast ?? 0) })
            if (id >= vocab)
                throw new MechanistInputException($"--{name} {id} is out of range: the model's output has {vocab} classes (0 … {vocab - 1}).");
        long pos = position;
        if (shape.Length == 3)
        {
            pos = position < 0 ? shape[1] + position : position;
            if (pos < 0 || pos >= shape[1])
                throw new MechanistInputException($"--position {position} is out of range for sequences of length {shape[1]}.");
        }
        string at = shape.Length == 3 ? $" at position {pos}{(position < 0 ? $" ({position} from the end)" : "")}" : "";
        Tensor Logits(Tensor o) => o.ndim == 3 ? o.select(1, pos) : o;
        switch (kind)
        {
            case "logit":
                return new(o => Logits(o).select(1, target), $"logit of {target}{at}");
            case "logprob":
                return new(o => Logits(o).log_softmax(1).select(1, target), $"log-probability of {target}{at} (log_softmax over {vocab})");
            case "prob":
                return new(o => Logits(o).softmax(1).select(1, target), $"probability of {target}{at} (softmax over {vocab})");
            case "logit-diff":
                if (contrast is not { } c) throw new MechanistInputException("--metric logit-diff needs --contrast T2.");
                return new(o => Logits(o).select(1, target) - Logits(o).select(1, c), $"logit of {target} minus logit of {c}{at}");
            default:
                throw new MechanistInputException($"unknown target metric '{kind}'; expected one of {string.Join(", ", Kinds)}.");
        }
    }
}
