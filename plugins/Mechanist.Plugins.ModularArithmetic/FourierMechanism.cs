using System.Collections.Immutable;
using System.Globalization;
using Mechanist.Discovery;
using Mechanist.Models;
using Mechanist.Options;
using Mechanist.Validators;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Mechanist.Plugins.ModularArithmetic;

/// <summary>
/// Whether a modular-addition model computes (a + b) mod p with the Fourier mechanism Nanda et al. (2023) found in
/// models that grokked: its embedding of the residues lives on a few key frequencies (MODA4001), and those
/// frequencies alone carry the answer — with the MLP's activation at "=" restricted to its components on the key
/// frequencies, the model still answers every pair (MODA4002). A model that memorised its training pairs has neither.
/// Read through the model's hooks only (<c>hook_embed</c>, the MLP site), so any architecture with those sites and
/// inputs [a, b, p] works.
/// </summary>
[Validator("modular-addition.fourier",
    Title = "Fourier mechanism of modular addition",
    Summary = "Embedding power on the key frequencies (MODA4001) and the accuracy over all p² pairs with the MLP activation at '=' restricted to the key frequencies (MODA4002): the mechanism of a model that grokked modular addition, absent from one that memorised.",
    Reference = "Nanda, Chan, Lieberum, Smith, Steinhardt 2023, Progress measures for grokking via mechanistic interpretability (ICLR): key frequencies and restricted loss.",
    HelpLink = "docs/methods/modular-addition.fourier.md",
    Requires = ValidationInputs.Model)]
public sealed class FourierMechanism : Validator<FourierMechanismOptions>
{
    public static readonly CheckDescriptor NotSparse = new(
        "MODA4001", "Embedding not sparse in the Fourier basis",
        "the {0} strongest of {1} frequencies hold {2:0.#%} of the embedding's non-constant Fourier power, below the threshold {3:0.#%} (strongest: {4})",
        "Interpretation", Severity.Warning, "docs/checks/MODA4001.md",
        "share = Σ_{k in top K} P_k / Σ_{k≥1} P_k, P_k = Σ_d (C[cos k, d]² + C[sin k, d]²), C = F · E, E [p, d_model] the activation at hook_embed of residues 0 … p−1, F the orthonormal Fourier basis of Z_p; K = key_frequencies",
        DefaultThreshold: 0.6, Direction: MetricDirection.HigherIsBetter);

    public static readonly CheckDescriptor KeyFrequenciesDoNotCarryTheAnswer = new(
        "MODA4002", "The key frequencies do not carry the answer",
        "with the MLP activation at '=' restricted to the key frequencies {0}, the model answers {1:0.#%} of the {2} pairs (unrestricted {3:0.#%}), below the threshold {4:0.#%}",
        "Interpretation", Severity.Warning, "docs/checks/MODA4002.md",
        "restricted accuracy = fraction of all p² pairs (a, b) whose argmax logit at '=' is (a + b) mod p when the activation at the MLP site and the '=' position, as a function A(a, b) of the pair, is replaced by F_Kᵀ (F_K A F_Kᵀ) F_K per unit, F_K the Fourier basis rows of the constant and of the key frequencies (the K strongest in the embedding)",
        DefaultThreshold: 0.9, Direction: MetricDirection.HigherIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [NotSparse, KeyFrequenciesDoNotCarryTheAnswer];

    protected override void Validate(ValidationContext context, FourierMechanismOptions options)
    {
        if (context.Model is not ILanguageModel model)
        {
            context.CannotRun("it needs a modular-addition model that reads token ids [a, b, p].");
            return;
        }
        int p = model.VocabSize - 1;
        if (p < 3 || p % 2 == 0 || model.ContextLength < 3 || !model.HookSites.Contains("hook_embed") || !model.HookSites.Contains(options.MlpSite))
        {
            context.CannotRun($"model '{model.ModelType}' is not a modular-addition model over an odd p with sites hook_embed and {options.MlpSite} (vocabulary {model.VocabSize}, context {model.ContextLength}).");
            return;
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = context.Device;
        var basis = Basis(p).to(device);

        // All pairs [a, b, p]; row i = (i / p, i mod p).
        var i = arange(p * p, ScalarType.Int64, device: device);
        var a = i.div(p, RoundingMode.floor);
        var b = i.remainder(p);
        var tokens = stack([a, b, full_like(i, p)], 1);
        var labels = (a + b).remainder(p);

        // The embedding of each residue: hook_embed at position 0 of the inputs [x, 0, p].
        Tensor? embedding = null;
        var first = stack([arange(p, ScalarType.Int64, device: device), zeros(p, ScalarType.Int64, device: device), full(p, (long)p, ScalarType.Int64, device: device)], 1);
        using (model.AddHook("hook_embed", e => { embedding = e.select(1, 0).to(ScalarType.Float64).clone(); return null; }))
            model.Run(first);
        if (embedding is null)
        {
            context.CannotRun("the hook at hook_embed did not fire.");
            return;
        }
        var coefficients = basis.matmul(embedding);                      // [p, d]
        var rowPower = coefficients.pow(2).sum(dim: 1).cpu().data<double>().ToArray();
        var power = new double[(p - 1) / 2 + 1];
        for (int r = 0; r < p; r++) power[(r + 1) / 2] += rowPower[r];
        var key = Enumerable.Range(1, power.Length - 1).OrderByDescending(k => power[k]).Take(options.KeyFrequencies).ToArray();
        double share = key.Sum(k => power[k]) / Math.Max(power.Skip(1).Sum(), 1e-300);
        var keyText = string.Join(", ", key.Select(k => k.ToString(CultureInfo.InvariantCulture)));
        context.Measure(NotSparse, share);
        if (context.ThresholdOf(NotSparse) is double minShare && !(share >= minShare))
            context.Report(NotSparse, [key.Length, power.Length - 1, share, minShare, keyText], share);

        // Restricted to the key frequencies: the MLP activation at '=' over the p × p grid, per unit, projected.
        var rows = new List<long> { 0 };
        foreach (var k in key) { rows.Add(2 * k - 1); rows.Add(2 * k); }
        var fk = basis.index_select(0, tensor(rows.ToArray(), device: device));   // [r, p]
        Tensor Restrict(Tensor activation)
        {
            var last = activation.select(1, activation.shape[1] - 1).to(ScalarType.Float64);     // [p², d]
            var grid = last.reshape(p, p, -1).permute(2, 0, 1);                                  // [d, a, b]
            var restricted = fk.t().matmul(fk.matmul(grid).matmul(fk.t())).matmul(fk);            // [d, a, b]
            var replaced = activation.clone();
            replaced.select(1, activation.shape[1] - 1).copy_(restricted.permute(1, 2, 0).reshape(p * p, -1).to(activation.dtype));
            return replaced;
        }
        double Accuracy(Tensor logits) =>
            (logits.ndim == 3 ? logits.select(1, logits.shape[1] - 1) : logits).argmax(-1).eq(labels).to(ScalarType.Float64).mean().item<double>();
        double clean = Accuracy(model.Run(tokens));
        double restrictedAccuracy;
        using (model.AddHook(options.MlpSite, Restrict))
            restrictedAccuracy = Accuracy(model.Run(tokens));
        context.Logger.LogInformation("key frequencies {Key} hold {Share:0.#%} of the embedding's power; accuracy {Clean:0.#%}, restricted to them {Restricted:0.#%}",
            keyText, share, clean, restrictedAccuracy);
        context.Measure(KeyFrequenciesDoNotCarryTheAnswer, restrictedAccuracy);
        if (context.ThresholdOf(KeyFrequenciesDoNotCarryTheAnswer) is double need && !(restrictedAccuracy >= need))
            context.Report(KeyFrequenciesDoNotCarryTheAnswer, [keyText, restrictedAccuracy, p * p, clean, need], restrictedAccuracy);
    }

    /// <summary>The orthonormal Fourier basis of Z_p [p, p] (float64): the constant, then cos and sin of frequencies 1 … (p − 1)/2.</summary>
    static Tensor Basis(int p)
    {
        var x = arange(p, dtype: ScalarType.Float64);
        var rows = new List<Tensor> { full(p, 1 / Math.Sqrt(p), ScalarType.Float64) };
        for (int k = 1; k <= (p - 1) / 2; k++)
        {
            var angle = x * (2 * Math.PI * k / p);
            rows.Add(angle.cos() * Math.Sqrt(2.0 / p));
            rows.Add(angle.sin() * Math.Sqrt(2.0 / p));
        }
        return stack(rows);
    }
}

public sealed record FourierMechanismOptions : MethodOptions
{
    [Option("how many of the strongest frequencies count as key frequencies")]
    public int KeyFrequencies { get; init; } = 6;

    [Option("the MLP site whose activation at '=' is restricted (MODA4002)")]
    public string MlpSite { get; init; } = "blocks.0.mlp.hook_post";

    public override IEnumerable<OptionError> Validate()
    {
        if (KeyFrequencies < 1) yield return new("key_frequencies", "must be at least 1");
    }
}
