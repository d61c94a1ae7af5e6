using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Sae;
using Mechanist.Options;
using static Mechanist.Sae.KeptScalars;
using static TorchSharp.torch;

namespace Mechanist.Methods.Decomposers;

/// <summary>
/// Transcoder (Dunefsky et al. 2024): a sparse dictionary that reads the MLP's input and writes its output, so its
/// latents replace the MLP in a circuit. f = ReLU(x W_enc + b_enc), ŷ = f W_dec + b_dec [+ x W_skipᵀ], trained on
/// L = ‖y − ŷ‖² + λ Σ_i f_i ‖W_dec,i‖ against the targets (the MLP output, <see cref="DecomposeContext.Targets"/>).
/// Starts from a random encoder and a zero decoder (input and output spaces differ). Saved as SAELens
/// <c>transcoder</c> (<c>skip_transcoder</c> with the skip connection).
/// </summary>
[Decomposer("transcoder",
    Title = "Transcoder (MLP input to MLP output), optional skip connection",
    Summary = "Sparse latents of the MLP input that reconstruct the MLP output: f = ReLU(x W_enc + b_enc), yhat = f W_dec + b_dec (+ x W_skip^T); decoder-norm-weighted L1. Needs targets (--targets). Saved as SAELens 'transcoder' / 'skip_transcoder'.",
    Reference = "Dunefsky, Chlenski & Nanda 2024, Transcoders Find Interpretable LLM Feature Circuits; Paulo et al. 2025 (skip transcoders).",
    HelpLink = "docs/methods/transcoder.md")]
public sealed class TranscoderDecomposer : SaeDecomposer<TranscoderOptions>
{
    const string Skip = "W_skip";

    protected internal override (IReadOnlyList<IActivationSource> Inputs, IActivationSource? Target) Data(DecomposeContext context) =>
        ([context.Activations], context.Targets ?? throw new MechanistInputException(
            $"method 'transcoder' needs targets (the MLP output, row-aligned with the MLP input in {context.Activations.Name}): pass --targets FILE."));

    protected internal override bool CentersInput => false;

    protected internal override bool TiedInit => false;

    protected internal override IEnumerable<ExtraParameter> ExtraParameters(SaeShape shape, TranscoderOptions options) =>
        options.SkipConnection ? [new(Skip, s => zeros(s.DOut, s.DIn))] : [];

    protected internal override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, TranscoderOptions options)
    {
        var latents = nn.functional.linear(batch.X, p.EncoderRows, p.EncoderBias).relu_();
        var reconstruction = DecodeDense(p, latents);
        if (options.SkipConnection) reconstruction = reconstruction.Plus(batch.X.matmul(p.Extra[Skip].t()));
        var mse = SquaredError(batch.Y, reconstruction);
        var l1 = WeightedL1(latents, p.DecoderRows.norm(dim: 1));
        var (fired, l0) = Activity(latents);
        return new StepOutput(mse.Plus(l1.Times(state.SparsityCoefficient)), reconstruction.detach(), fired, l0,
            new Dictionary<string, Tensor> { ["mse"] = mse.detach(), ["l1"] = l1.detach() });
    }

    /// <summary>W_skip trained on scaled data maps s_in x to s_out y: folded, W_skip' = diag(1/s_out) W_skip diag(s_in).</summary>
    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, TranscoderOptions options) =>
        new Transcoder(w.WEnc, w.BEnc!, w.WDec, w.BDec,
            options.SkipConnection ? w.Extra[Skip] * w.InputScale.unsqueeze(0) / w.OutputScale.unsqueeze(1) : null);
}

public sealed record TranscoderOptions : PenalizedSaeOptions
{
    public TranscoderOptions() => SparsityCoefficient = 5.0;

    [Option("Add a learned linear skip connection y = ... + x W_skip^T (saved as skip_transcoder).")]
    public bool SkipConnection { get; init; }
}
