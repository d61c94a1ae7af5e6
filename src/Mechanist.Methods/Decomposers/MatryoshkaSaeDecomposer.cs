using System.Globalization;
using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Sae;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Methods.Decomposers;

/// <summary>
/// Matryoshka BatchTopK SAE (Bussmann et al. 2025; Nabeshima 2024): the BatchTopK latents, and a reconstruction loss
/// for each nested prefix of the dictionary: L = Σ_m FVU(x, b_dec + Σ_{i &lt; m} f_i W_dec,i) over the widths m, the
/// last being d_sae. Early latents must reconstruct on their own, which keeps general features from being absorbed
/// into specific ones. Saved as SAELens <c>jumprelu</c> with the BatchTopK threshold.
/// </summary>
[Decomposer("sae.matryoshka",
    Title = "Matryoshka BatchTopK sparse autoencoder (nested prefix losses)",
    Summary = "BatchTopK latents; loss = sum over nested widths m of the FVU of the reconstruction from latents [0, m), plus AuxK. Saved as JumpReLU.",
    Reference = "Bussmann et al. 2025, Learning Multi-Level Features with Matryoshka Sparse Autoencoders; Nabeshima 2024, Matryoshka Sparse Autoencoders.",
    HelpLink = "docs/methods/sae.matryoshka.md")]
public sealed class MatryoshkaSaeDecomposer : SaeDecomposer<MatryoshkaSaeOptions>
{
    protected internal override bool UnitNormDecoder => true;

    protected internal override void Check(SaeShape shape, MatryoshkaSaeOptions options)
    {
        TopKChecks.RequireKWithin(shape, options);
        options.Levels(shape.DSae);
    }

    protected internal override IReadOnlyDictionary<string, Tensor> InitialBuffers(SaeShape shape, MatryoshkaSaeOptions options) =>
        new Dictionary<string, Tensor> { [BatchTopKTraining.ThresholdBuffer] = zeros(1, ScalarType.Float64) };

    protected internal override StepOutput Loss(SaeParameters p, TrainingBatch batch, StepState state, MatryoshkaSaeOptions options) =>
        BatchTopKTraining.Step(p, batch, state, options, options.ThresholdLr, options.Levels(p.Latents), CentersInput);

    protected internal override Decomposition Export(SaeWeights w, SaeShape shape, MatryoshkaSaeOptions options) =>
        BatchTopKTraining.AsJumpRelu(w, shape);
}

public sealed record MatryoshkaSaeOptions : TopKFamilyOptions
{
    [Option("Nested prefix widths, comma-separated and increasing (d_sae is added as the last); empty means d_sae/16, d_sae/8, d_sae/4, d_sae/2, d_sae.")]
    public string MatryoshkaWidths { get; init; } = "";

    [Option("Rate r of the threshold's moving average theta <- (1 - r) theta + r min(selected positive activation).")]
    public double ThresholdLr { get; init; } = 0.01;

    public override IEnumerable<OptionError> Validate()
    {
        foreach (var e in base.Validate()) yield return e;
        if (ThresholdLr is <= 0 or > 1) yield return new("threshold_lr", $"must be in (0, 1], got {ThresholdLr}");
        string? problem = null;
        try { ParseWidths(); }
        catch (FormatException e) { problem = e.Message; }
        if (problem is not null) yield return new("matryoshka_widths", problem);
    }

    List<int> ParseWidths()
    {
        var widths = new List<int>();
        foreach (var part in MatryoshkaWidths.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var w) || w < 1)
                throw new FormatException($"expects positive integers separated by commas, got '{part}'");
            if (widths.Count > 0 && w <= widths[^1])
                throw new FormatException($"widths must increase, got {w} after {widths[^1]}");
            widths.Add(w);
        }
        return widths;
    }

    /// <summary>The prefix widths for a dictionary of <paramref name="dSae"/> latents, ending with d_sae.</summary>
    public IReadOnlyList<int> Levels(int dSae)
    {
        var widths = ParseWidths();
        if (widths.Count == 0)
            widths = new[] { 16, 8, 4, 2 }.Select(f => Math.Max(1, dSae / f)).Distinct().Where(w => w < dSae).ToList();
        if (widths.Count > 0 && widths[^1] > dSae)
            throw new MechanistInputException($"option 'matryoshka_widths' has width {widths[^1]}, larger than d_sae = {dSae}.");
        if (widths.Count == 0 || widths[^1] != dSae) widths.Add(dSae);
        return widths;
    }
}
