namespace Mechanist.Models;

/// <summary>
/// A language model trained on a task rather than on next-token prediction: only some positions are scored, against
/// labels the task derives from the inputs (modular addition scores the "=" position against (a + b) mod p). Its
/// loss, and every splice metric built on it, is the task's loss at those positions, not next-token loss.
/// </summary>
public interface ITaskModel : ILanguageModel
{
    /// <summary>
    /// The positions of <paramref name="tokens"/> [batch, pos] whose outputs the task scores, and the correct output id
    /// at each: <see cref="TaskAnswers.Labels"/> [batch, positions.Count] (int64, on the tokens' device). Throws
    /// <see cref="MechanistInputException"/> for inputs the task cannot label.
    /// </summary>
    TaskAnswers Answers(TorchSharp.torch.Tensor tokens);
}

/// <summary>Scored positions (0-based, ascending) and their labels [batch, positions].</summary>
public sealed record TaskAnswers(IReadOnlyList<long> Positions, TorchSharp.torch.Tensor Labels);
