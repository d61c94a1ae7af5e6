using static TorchSharp.torch;

namespace Mechanist.Models.Runtime;

/// <summary>How the built-in token models answer <see cref="IEmbeddingModel"/> from their own weights.</summary>
public static class Unembeddings
{
    /// <summary>A copy of <paramref name="weight"/> as float32 on the CPU, apart from the model's parameters.</summary>
    public static Tensor Copy(Tensor weight) => weight.detach().to(ScalarType.Float32).cpu().clone();

    /// <summary>
    /// <paramref name="unembed"/> [d_model, vocab] for residual sites; for <c>blocks.L.mlp.hook_post</c>, the layer's MLP
    /// output weights [d_mlp, d_model] (from <paramref name="mlpOut"/>, null when the model has no such layer) times it.
    /// </summary>
    public static Tensor ForSite(string? site, Tensor unembed, Func<int, Tensor?> mlpOut)
    {
        using var scope = NewDisposeScope();
        var wU = unembed.detach().to(ScalarType.Float32).cpu();
        if (site is not null && site.StartsWith("blocks.", StringComparison.Ordinal) && site.EndsWith(".mlp.hook_post", StringComparison.Ordinal)
            && int.TryParse(site["blocks.".Length..^".mlp.hook_post".Length], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var layer)
            && mlpOut(layer) is { } wOut)
            return wOut.detach().to(ScalarType.Float32).cpu().matmul(wU).MoveToOuterDisposeScope();
        return wU.clone().MoveToOuterDisposeScope();
    }
}
