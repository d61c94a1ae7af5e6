using Mechanist.Decomposers;
using static TorchSharp.torch;

namespace Mechanist.Models.Runtime;

/// <summary>
/// Hook functions for the usual edits of an activation, to install with
/// <see cref="HookedModelExtensions.RunWithHooks"/> (several sites at once) or through the one-site helpers there.
/// A hook receives the activation and returns its replacement (same shape) or null to keep it.
/// </summary>
public static class Hooks
{
    /// <summary>Replaces the activation by zeros.</summary>
    public static Func<Tensor, Tensor?> Zero() => x => zeros_like(x);

    /// <summary>
    /// Replaces the activation by <paramref name="value"/> broadcast to its shape (a mean for mean ablation, a cached
    /// activation of another run for patching). The tensor is not consumed.
    /// </summary>
    public static Func<Tensor, Tensor?> Replace(Tensor value, string? site = null) => x =>
    {
        if (!Broadcasts(value.shape, x.shape))
            throw new MechanistInputException(
                $"cannot replace the activation{At(site)} of shape {Shape(x.shape)} by a tensor of shape {Shape(value.shape)}: the shapes do not broadcast.");
        return value.to(x.dtype, x.device).expand(x.shape).contiguous();
    };

    /// <summary>
    /// Replaces each batch row b of the activation by row <c>indices[b]</c> of <paramref name="donors"/>
    /// (resample ablation). <paramref name="donors"/> has the activation's shape except for its first dimension.
    /// </summary>
    public static Func<Tensor, Tensor?> Resample(Tensor donors, Tensor indices, string? site = null) => x =>
    {
        if (donors.ndim != x.ndim || !donors.shape.Skip(1).SequenceEqual(x.shape.Skip(1)))
            throw new MechanistInputException(
                $"resample ablation{At(site)}: donor activations of shape {Shape(donors.shape)} do not match the activation's shape {Shape(x.shape)} beyond the batch dimension.");
        if (indices.ndim != 1 || indices.shape[0] != x.shape[0])
            throw new MechanistInputException(
                $"resample ablation{At(site)}: expected one donor index per batch row ({x.shape[0]}), got indices of shape {Shape(indices.shape)}.");
        using var idx = indices.to(ScalarType.Int64, donors.device);
        if (idx.numel() > 0 && (idx.min().item<long>() < 0 || idx.max().item<long>() >= donors.shape[0]))
            throw new MechanistInputException($"resample ablation{At(site)}: donor indices must lie in [0, {donors.shape[0]}).");
        return donors.index_select(0, idx).to(x.dtype, x.device);
    };

    /// <summary>
    /// Replaces the activation x [..., d_in] by the decomposition's reconstruction x̂ (applied to every position).
    /// With <paramref name="withErrorTerm"/>, returns x̂ + (x − x̂): the downstream computation then sees x exactly
    /// (bit for bit; computed as x − (x̂ₛ − x̂) with x̂ₛ = x̂ detached, so the sum is not rounded), while gradients
    /// still reach the latents through x̂ and the error term (x − x̂ₛ) — the SAELens / sparse-feature-circuits
    /// convention. <paramref name="observe"/>, when given, receives (latents [N, d_sae], reconstruction [..., d_in])
    /// for the run; the tensors belong to the run's dispose scope.
    /// </summary>
    public static Func<Tensor, Tensor?> Splice(Decomposition decomposition, bool withErrorTerm = false, string? site = null,
        Action<Tensor, Tensor>? observe = null) => x =>
    {
        long d = x.shape[^1];
        if (d != decomposition.DIn)
            throw new MechanistInputException(
                $"cannot splice a decomposition with d_in = {decomposition.DIn} into the activation{At(site)} of shape {Shape(x.shape)}: its last dimension is {d}.");
        var flat = x.reshape(-1, d);
        var latents = decomposition.Encode(flat);
        var reconstruction = decomposition.Decode(latents).to(x.dtype).reshape(x.shape);
        observe?.Invoke(latents, reconstruction);
        if (!withErrorTerm) return reconstruction;
        return x - (reconstruction.detach() - reconstruction);
    };

    /// <summary>Stores a detached copy of the activation under <paramref name="site"/> in <paramref name="cache"/>; keeps the activation.</summary>
    public static Func<Tensor, Tensor?> Cache(IDictionary<string, Tensor> cache, string site) => x =>
    {
        if (cache.TryGetValue(site, out var previous)) previous.Dispose();
        cache[site] = x.detach().clone().DetachFromDisposeScope();
        return null;
    };

    static bool Broadcasts(long[] from, long[] to)
    {
        if (from.Length > to.Length) return false;
        for (int i = 1; i <= from.Length; i++)
            if (from[^i] != 1 && from[^i] != to[^i]) return false;
        return true;
    }

    static string At(string? site) => site is null ? "" : $" at {site}";

    internal static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";
}
