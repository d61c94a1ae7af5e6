using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Sae;

/// <summary>
/// The trainable tensors of an SAE during training, in training orientation: the encoder as rows W_encᵀ [d_sae, d_in]
/// (so a latent's gradient is one contiguous row), the decoder W_dec [d_sae, d_out], the biases, and each variant's
/// extra parameters (thresholds, gates, skip weights). <see cref="Buffers"/> holds state that is not trained but is
/// checkpointed (BatchTopK's threshold). Owns everything.
/// </summary>
public sealed class SaeParameters : IDisposable
{
    readonly List<(string Name, Tensor Tensor)> _trainable = [];

    internal SaeParameters(Tensor encoderRows, Tensor? encoderBias, Tensor decoderRows, Tensor decoderBias,
        IReadOnlyDictionary<string, Tensor> extra)
    {
        EncoderRows = Leaf("W_enc_T", encoderRows);
        EncoderBias = encoderBias is null ? null : Leaf("b_enc", encoderBias);
        DecoderRows = Leaf("W_dec", decoderRows);
        DecoderBias = Leaf("b_dec", decoderBias);
        Extra = extra.ToDictionary(kv => kv.Key, kv => Leaf(kv.Key, kv.Value));
    }

    Tensor Leaf(string name, Tensor t)
    {
        var leaf = t.detach().contiguous().clone().requires_grad_(true).DetachFromDisposeScope();
        _trainable.Add((name, leaf));
        return leaf;
    }

    /// <summary>W_encᵀ [d_sae, d_in].</summary>
    public Tensor EncoderRows { get; }

    /// <summary>b_enc [d_sae], or null for an architecture without one (gated).</summary>
    public Tensor? EncoderBias { get; }

    /// <summary>W_dec [d_sae, d_out].</summary>
    public Tensor DecoderRows { get; }

    /// <summary>b_dec [d_out].</summary>
    public Tensor DecoderBias { get; }

    public IReadOnlyDictionary<string, Tensor> Extra { get; }

    /// <summary>Non-trained state, checkpointed with the parameters (owned; replace entries through <see cref="SetBuffer"/>).</summary>
    public IReadOnlyDictionary<string, Tensor> Buffers => _buffers;

    readonly Dictionary<string, Tensor> _buffers = new();

    public void SetBuffer(string name, Tensor value)
    {
        var owned = value.detach().clone().DetachFromDisposeScope();
        if (_buffers.TryGetValue(name, out var old)) old.Dispose();
        _buffers[name] = owned;
    }

    readonly Dictionary<string, Tensor> _workspace = new();

    /// <summary>
    /// A scratch tensor kept between steps (not checkpointed): reusing it instead of allocating a fresh one each step
    /// saves the kernel's zeroing of new pages, about 100 ms per 256 MiB.
    /// </summary>
    public Tensor Workspace(string name, long[] shape, ScalarType dtype, Device device)
    {
        if (_workspace.TryGetValue(name, out var t) && t.shape.SequenceEqual(shape) && t.dtype == dtype && t.device == device) return t;
        t?.Dispose();
        var created = empty(shape, dtype, device).DetachFromDisposeScope();
        _workspace[name] = created;
        return created;
    }

    /// <summary>
    /// The last BatchTopK step's (k·B)-th largest pre-activation, where the next selection starts looking. Not
    /// checkpointed: the selection is exact whatever it is, so a resumed run selects the same latents.
    /// </summary>
    internal float? BatchThresholdHint { get; set; }

    /// <summary>Every trained tensor with its checkpoint name, in a fixed order.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> Trainable => _trainable;

    public int Latents => (int)DecoderRows.shape[0];

    public void Dispose()
    {
        foreach (var (_, t) in _trainable) t.Dispose();
        foreach (var t in _buffers.Values) t.Dispose();
        foreach (var t in _workspace.Values) t.Dispose();
    }
}

/// <summary>
/// The trained weights in SAELens orientation with the activation normalisation folded in: W_enc = diag(s_in) W
/// [d_in, d_sae], W_dec and b_dec divided by the output scale s_out. Extra parameters are given as trained, with the
/// scales, for the variant to fold (only a transcoder's W_skip depends on them).
/// </summary>
public sealed record SaeWeights(Tensor WEnc, Tensor? BEnc, Tensor WDec, Tensor BDec, IReadOnlyDictionary<string, Tensor> Extra,
    IReadOnlyDictionary<string, Tensor> Buffers, Tensor InputScale, Tensor OutputScale);

/// <summary>The sizes of the SAE being trained; <see cref="HookNames"/> names the input sites when known.</summary>
public sealed record SaeShape(int DIn, int DSae, int DOut, IReadOnlyList<int> InputSites)
{
    public IReadOnlyList<string> HookNames { get; init; } = [];
}

/// <summary>What a variant adds to the trainer's parameters: name and initial value.</summary>
public sealed record ExtraParameter(string Name, Func<SaeShape, Tensor> Initial);

/// <summary>One training batch: inputs and targets, normalised, on the training device.</summary>
public sealed record TrainingBatch(Tensor X, Tensor Y)
{
    /// <summary>Σ_b ‖y_b − ȳ‖² over the batch (the FVU denominator).</summary>
    public Tensor TotalVariance { get; } = (Y - Y.mean([0], keepdim: true)).Squared().sum();

    /// <summary>The fraction of variance unexplained by <paramref name="reconstruction"/>: Σ_b ‖y_b − ŷ_b‖² / <see cref="TotalVariance"/>.</summary>
    public Tensor Fvu(Tensor reconstruction) => (Y - reconstruction).Squared().sum() / TotalVariance.AtLeast(1e-12);
}

/// <summary>What the trainer knows at a step: position in the schedule, warmed-up coefficient, dead latents.</summary>
public sealed record StepState(long Step, long TotalSteps, double SparsityCoefficient, Tensor? DeadMask, int DeadCount, SaeShape Shape);

/// <summary>A variant's loss at one step: the total (with gradient), its detached parts, and what fired.</summary>
public sealed record StepOutput(Tensor Loss, Tensor Reconstruction, Tensor Fired, Tensor L0, IReadOnlyDictionary<string, Tensor> Terms);
