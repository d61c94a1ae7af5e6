using Mechanist.Decomposers;
using Mechanist.Models;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Methods.Evaluation;

/// <summary>
/// Downstream quality of a decomposition: how much of a language model's next-token loss survives when the
/// activation at a hook site is replaced by its reconstruction (spliced in), compared with replacing it by zeros.
/// Every value comes with its definition (<see cref="Definitions"/>).
/// </summary>
public sealed record SpliceMetrics(
    long Tokens,
    double CeClean,
    double CeSpliced,
    double CeZeroAblation,
    double CeLossScore,
    double KlSpliced,
    double KlZeroAblation,
    double KlScore)
{
    public static readonly IReadOnlyDictionary<string, string> Definitions = new Dictionary<string, string>
    {
        ["tokens"] = "number of predicted positions: (sequence length - 1) per sequence for the cross-entropy; every position for the KL divergences",
        ["ce_clean"] = "mean next-token cross-entropy -log p(t_{i+1} | t_<=i) of the unmodified model",
        ["ce_spliced"] = "the same with the activation at the site replaced by the decomposition's reconstruction",
        ["ce_zero_ablation"] = "the same with the activation at the site replaced by zeros",
        ["ce_loss_score"] = "(ce_zero_ablation - ce_spliced) / (ce_zero_ablation - ce_clean): 1 = the reconstruction loses nothing, 0 = no better than zeros",
        ["kl_spliced"] = "mean over positions of KL(p_clean || p_spliced) of the next-token distributions",
        ["kl_zero_ablation"] = "mean over positions of KL(p_clean || p_zero_ablation)",
        ["kl_score"] = "(kl_zero_ablation - kl_spliced) / kl_zero_ablation",
    };

    /// <summary>
    /// Runs <paramref name="model"/> on each batch of token ids [B, T] (its output being logits [B, T, vocab]) three
    /// times: clean, with the activation at <paramref name="site"/> replaced by the reconstruction, and with it
    /// zeroed. For a transcoder, <paramref name="outputSite"/> names the site it reconstructs (the MLP output): the
    /// input is read at <paramref name="site"/> and the reconstruction replaces <paramref name="outputSite"/>. Hooks
    /// are removed after every run, also on error.
    /// </summary>
    public static SpliceMetrics Compute(IHookedModel model, string site, Decomposition decomposition, IEnumerable<Tensor> tokenBatches,
        string? outputSite = null, CancellationToken cancellation = default)
    {
        var target = outputSite ?? site;
        // An unknown site fails here, before any run, with the model's message naming the closest valid site.
        foreach (var name in new[] { site, target }.Distinct())
            if (!model.HookSites.Contains(name)) model.AddHook(name, _ => null).Dispose();
        double ceClean = 0, ceSpliced = 0, ceZero = 0, klSpliced = 0, klZero = 0;
        long predicted = 0, positions = 0;
        using var _ = no_grad();
        foreach (var tokens in tokenBatches)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            if (tokens.ndim != 2 || tokens.shape[1] < 2)
                throw new MechanistInputException($"token batches must be [batch, positions] with at least 2 positions, got [{string.Join(", ", tokens.shape)}].");
            var clean = model.Run(tokens);
            var spliced = outputSite is null
                ? model.RunPatched(tokens, site, x => Splice(decomposition, x, x))
                : RunTranscoderSplice(model, tokens, site, outputSite, decomposition);
            var zero = model.RunZeroAblated(tokens, target);
            if (clean.ndim != 3)
                throw new MechanistInputException($"the model's output has shape [{string.Join(", ", clean.shape)}]; expected logits [batch, positions, vocab].");
            ceClean += NextTokenCrossEntropy(clean, tokens);
            ceSpliced += NextTokenCrossEntropy(spliced, tokens);
            ceZero += NextTokenCrossEntropy(zero, tokens);
            klSpliced += KlDivergence(clean, spliced);
            klZero += KlDivergence(clean, zero);
            predicted += tokens.shape[0] * (tokens.shape[1] - 1);
            positions += tokens.shape[0] * tokens.shape[1];
        }
        if (predicted == 0) throw new MechanistInputException("no token batches to evaluate the splice on.");
        ceClean /= predicted; ceSpliced /= predicted; ceZero /= predicted;
        klSpliced /= positions; klZero /= positions;
        return new SpliceMetrics(predicted, ceClean, ceSpliced, ceZero, Ratio(ceZero - ceSpliced, ceZero - ceClean), klSpliced, klZero,
            Ratio(klZero - klSpliced, klZero));
    }

    static double Ratio(double numerator, double denominator) =>
        denominator != 0 ? numerator / denominator : numerator == 0 ? 1.0 : double.NaN;

    static Tensor RunTranscoderSplice(IHookedModel model, Tensor tokens, string inputSite, string outputSite, Decomposition decomposition)
    {
        Tensor? input = null;
        return model.RunWithHooks(tokens,
            (inputSite, x => { input = x; return null; }),
            (outputSite, y => input is null
                ? throw new InvalidOperationException($"site {outputSite} ran before {inputSite}; a transcoder's input site must come first.")
                : Splice(decomposition, input, y)));
    }

    /// <summary>The reconstruction from <paramref name="input"/>, shaped like <paramref name="replaced"/> (sites may be [B, T, d]).</summary>
    static Tensor Splice(Decomposition decomposition, Tensor input, Tensor replaced)
    {
        var flat = input.reshape(-1, input.shape[^1]);
        if (flat.shape[1] != decomposition.DIn)
            throw new MechanistInputException(
                $"the decomposition has d_in = {decomposition.DIn} but the site's activation has width {flat.shape[1]}.");
        var reconstruction = decomposition.Reconstruct(flat);
        if (reconstruction.shape[1] != replaced.shape[^1])
            throw new MechanistInputException(
                $"the decomposition reconstructs d_out = {decomposition.DOut} but the replaced site has width {replaced.shape[^1]}.");
        return reconstruction.to(replaced.dtype).reshape(replaced.shape);
    }

    /// <summary>Σ over positions i &lt; T−1 of −log softmax(logits_i)[t_{i+1}], in float64.</summary>
    static double NextTokenCrossEntropy(Tensor logits, Tensor tokens)
    {
        long t = tokens.shape[1];
        var logProbs = nn.functional.log_softmax(logits.narrow(1, 0, t - 1).to(ScalarType.Float64), -1);
        var next = tokens.narrow(1, 1, t - 1).unsqueeze(-1).to(ScalarType.Int64);
        return -logProbs.gather(-1, next).sum().item<double>();
    }

    /// <summary>Σ over positions of KL(p ‖ q) = Σ_v p_v (log p_v − log q_v), in float64.</summary>
    static double KlDivergence(Tensor clean, Tensor patched)
    {
        var logP = nn.functional.log_softmax(clean.to(ScalarType.Float64), -1);
        var logQ = nn.functional.log_softmax(patched.to(ScalarType.Float64), -1);
        return (logP.exp() * (logP - logQ)).sum().item<double>();
    }

    public IReadOnlyList<KeyValuePair<string, double>> Values() =>
    [
        new("tokens", Tokens), new("ce_clean", CeClean), new("ce_spliced", CeSpliced), new("ce_zero_ablation", CeZeroAblation),
        new("ce_loss_score", CeLossScore), new("kl_spliced", KlSpliced), new("kl_zero_ablation", KlZeroAblation), new("kl_score", KlScore),
    ];
}
