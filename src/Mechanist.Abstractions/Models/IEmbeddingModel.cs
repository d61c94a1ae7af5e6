namespace Mechanist.Models;

/// <summary>
/// A token model that knows its token embedding and how a hook site's space reads out to the logits. Interpreters use
/// them (output effects: a feature's decoder direction through the unembedding; feature synthesis: the real tokens
/// nearest to soft tokens); a model without this capability gets those parts reported as missing, not guessed from
/// weight names.
/// </summary>
public interface IEmbeddingModel
{
    /// <summary>The token embedding [vocab, d_model] (float32, on the CPU); null when the model has none.</summary>
    TorchSharp.torch.Tensor? TokenEmbedding();

    /// <summary>
    /// The linear map from <paramref name="site"/>'s space to the logits [d_site, vocab] (float32, on the CPU): the
    /// unembedding [d_model, vocab] for residual-stream sites (and when <paramref name="site"/> is null), composed with
    /// the MLP's output weights for <c>blocks.L.mlp.hook_post</c>. Final layer norms are left out. Null when the model
    /// has no unembedding.
    /// </summary>
    TorchSharp.torch.Tensor? Unembedding(string? site);
}
