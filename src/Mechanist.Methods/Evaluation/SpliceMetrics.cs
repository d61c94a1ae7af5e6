using Mechanist.Decomposers;
using Mechanist.Models;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Methods.Evaluation;

/// <summary>
/// Downstream quality of a decomposition: how much of a model's loss survives when the activation at a hook site is
/// replaced by its reconstruction (spliced in), compared with replacing it by zeros. For a language model the loss is
/// next-token cross-entropy; for a task model (<see cref="ITaskModel"/>, e.g. modular addition) it is the task's loss,
/// the cross-entropy of the label at each scored (answer) position, and the KL divergences are taken there too.
/// Every value comes with its definition (<see cref="DefinitionsOf"/>).
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
    /// <summary>"next-token" for a language model, "task" for an <see cref="ITaskModel"/>.</summary>
    public string Loss { get; init; } = NextTokenLoss;

    public const string NextTokenLoss = "next-token";
    public const string TaskLoss = "task";

    /// <summary>The definitions of the values for the loss kind the metrics were computed with.</summary>
    public IReadOnlyDictionary<string, string> DefinitionsOf() => Loss == TaskLoss ? TaskDefinitions : Definitions;

    /// <summary>Definitions for a task model: only the answer positions the task scores count.</summary>
    public static readonly IReadOnlyDictionary<string, string> TaskDefinitions = new Dictionary<string, string>
    {
        ["tokens"] = "number of scored answer positions (the positions the task model labels, e.g. the '=' of 'a b =')",
        ["ce_clean"] = "mean task cross-entropy -log p(label | input) at the answer positions of the unmodified model",
        ["ce_spliced"] = "the same with the activation at the site replaced by the decomposition's reconstruction",
        ["ce_zero_ablation"] = "the same with the activation at the site replaced by zeros",
        ["ce_loss_score"] = "(ce_zero_ablation - ce_spliced) / (ce_zero_ablation - ce_clean): 1 = the reconstruction loses nothing, 0 = no better than zeros",
        ["kl_spliced"] = "mean over answer positions of KL(p_clean || p_spliced) of the output distributions",
        ["kl_zero_ablation"] = "mean over answer positions of KL(p_clean || p_zero_ablation)",
        ["kl_score"] = "(kl_zero_ablation - kl_spliced) / kl_zero_ablation",
    };

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
    /// times (a task model's loss is read at its answer positions, see the class summary): clean, with the activation at <paramref name="site"/> replaced by the reconstruction, and with it
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
        var task = model as ITaskModel;
        using var _ = no_grad();
        foreach (var tokens in tokenBatches)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            if (tokens.ndim != 2 || tokens.shape[1] < (task is null ? 2 : 1))
                throw new MechanistInputException($"token batches must be [batch, positions] with at least {(task is null ? 2 : 1)} positions, got [{string.Join(", ", tokens.shape)}].");
            var answers = task?.Answers(tokens);
            var clean = model.Run(tokens);
            var spliced = outputSite is null
                ? model.RunPatched(tokens, site, x => Splice(decomposition, x, x))
                : RunTranscoderSplice(model, tokens, site, outputSite, decomposition);
            var zero = model.RunZeroAblated(tokens, target);
            if (clean.ndim != 3)
                throw new MechanistInputException($"the model's output has shape [{string.Join(", ", clean.shape)}]; expected logits [batch, positions, vocab].");
            if (answers is not null)
            {
                var scored = tensor(answers.Positions.ToArray(), device: clean.device);
                Tensor At(Tensor logits) => logits.index_select(1, scored);
                CheckLabels(answers, clean);
                ceClean += TaskCrossEntropy(At(clean), answers.Labels);
                ceSpliced += TaskCrossEntropy(At(spliced), answers.Labels);
                ceZero += TaskCrossEntropy(At(zero), answers.Labels);
                klSpliced += KlDivergence(At(clean), At(spliced));
                klZero += KlDivergence(At(clean), At(zero));
                predicted += tokens.shape[0] * answers.Positions.Count;
                positions += tokens.shape[0] * answers.Positions.Count;
                continue;
            }
            if (tokens.max().item<long>() >= clean.shape[2])
                throw new MechanistInputException(
                    $"the model's outputs cover {clean.shape[2]} ids but the inputs hold id {tokens.max().item<long>()}: next-token loss needs every next token to be an output; " +
                    $"model '{model.ModelType}' is not a next-token language model (a task model says which positions and labels count by implementing ITaskModel).");
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
            Ratio(klZero - klSpliced, klZero)) { Loss = task is null ? NextTokenLoss : TaskLoss };
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

    static void CheckLabels(TaskAnswers answers, Tensor logits)
    {
        long vocab = logits.shape[^1];
        if (answers.Labels.NumberOfElements > 0 && (answers.Labels.min().item<long>() < 0 || answers.Labels.max().item<long>() >= vocab))
            throw new InvalidOperationException($"the task's labels fall outside the model's {vocab} outputs.");
    }

    /// <summary>Σ over examples and scored positions of −log softmax(logits)[label], in float64; logits [B, k, vocab], labels [B, k].</summary>
    static double TaskCrossEntropy(Tensor logits, Tensor labels)
    {
        var logProbs = nn.functional.log_softmax(logits.to(ScalarType.Float64), -1);
        return -logProbs.gather(-1, labels.to(ScalarType.Int64).to(logits.device).unsqueeze(-1)).sum().item<double>();
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
