namespace Mechanist.Models;

/// <summary>
/// A hooked model that reads token ids: <see cref="IHookedModel.Run"/> takes an int64 tensor [batch, pos] of ids in
/// [0, <see cref="VocabSize"/>) with pos ≤ <see cref="ContextLength"/>, and returns logits [batch, pos, vocab].
/// Harvesting needs this to check token files before running anything.
/// </summary>
public interface ILanguageModel : IHookedModel
{
    /// <summary>Number of token ids the model accepts (ids are 0 … VocabSize − 1).</summary>
    int VocabSize { get; }

    /// <summary>Longest sequence the model accepts (its number of positions).</summary>
    int ContextLength { get; }
}
