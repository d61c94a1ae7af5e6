using static TorchSharp.torch;

namespace Mechanist.Decomposers;

/// <summary>
/// A learned dictionary: encodes activations into latents and decodes them back. Saved in SAELens layout
/// (<c>cfg.json</c> + <c>sae_weights.safetensors</c>) under its <see cref="Architecture"/> name.
/// Owns its tensors.
/// </summary>
public abstract class Decomposition : IDisposable
{
    /// <summary>The SAELens architecture name written to <c>cfg.json</c> (<c>standard</c>, <c>topk</c>, …).</summary>
    public abstract string Architecture { get; }

    public abstract int DIn { get; }

    public abstract int DSae { get; }

    /// <summary>The width of the reconstruction: <see cref="DIn"/> for an autoencoder, the output site's width for a transcoder.</summary>
    public virtual int DOut => DIn;

    /// <summary>
    /// Whether the reconstruction approximates another site (targets, as a transcoder's MLP output) rather than the
    /// input itself: metrics then compare it with the targets.
    /// </summary>
    public virtual bool ReconstructsTargets => false;

    /// <summary>[N, d_in] → [N, d_sae] latents.</summary>
    public abstract Tensor Encode(Tensor x);

    /// <summary>[N, d_sae] → [N, d_out] reconstruction.</summary>
    public abstract Tensor Decode(Tensor latents);

    /// <summary>
    /// [N, d_sae] latents of the input <paramref name="x"/> [N, d_in] → [N, d_out] reconstruction. Equals
    /// <see cref="Decode(Tensor)"/> unless the architecture has a term in the input itself (a transcoder's skip
    /// connection W_skip x).
    /// </summary>
    public virtual Tensor Decode(Tensor latents, Tensor x) => Decode(latents);

    /// <summary>The decoder directions, [d_sae, d_out] (a view owned by the decomposition: do not dispose).</summary>
    public abstract Tensor DecoderDirections { get; }

    /// <summary>The tensors to save, under their SAELens names.</summary>
    public abstract IReadOnlyDictionary<string, Tensor> StateDict();

    /// <summary>Extra <c>cfg.json</c> entries the architecture needs (e.g. <c>k</c>).</summary>
    public virtual IReadOnlyDictionary<string, object> ConfigEntries() => new Dictionary<string, object>();

    /// <summary>Where this decomposition came from: method, options, seed, hook site (stamped by the host after fitting).</summary>
    public DecompositionMetadata Metadata { get; set; } = new();

    /// <summary>
    /// What training recorded (activation scale folded into the weights, steps, final loss, …): saved under
    /// <c>cfg.json</c>'s <c>training</c> object. Empty for methods without a training loop.
    /// </summary>
    public IReadOnlyDictionary<string, object> Training { get; set; } = new Dictionary<string, object>();

    /// <summary>[N, d_in] → [N, d_out]: encode, then decode.</summary>
    public Tensor Reconstruct(Tensor x)
    {
        using var f = Encode(x);
        return Decode(f, x);
    }

    protected abstract void DisposeTensors();

    public void Dispose()
    {
        DisposeTensors();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Provenance stored in <c>cfg.json</c>'s <c>metadata</c> object.</summary>
public sealed record DecompositionMetadata
{
    public string? Method { get; init; }
    public string? HookName { get; init; }
    public int? Seed { get; init; }
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
}
