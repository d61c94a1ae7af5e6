using System.Collections.Immutable;
using Mechanist.Discovery;
using Mechanist.Options;
using Mechanist.Validators;
using static TorchSharp.torch;

namespace Acme.Methods;

public sealed record DuplicateFeaturesOptions : MethodOptions
{
    [Option("latents compared at most (the first N)")]
    public int MaxLatents { get; init; } = 4096;
}

/// <summary>
/// Latents that duplicate an earlier one: a latent whose decoder direction has cosine similarity with an earlier latent's
/// at or above the threshold of ACME1001 adds nothing the earlier one does not (a sign of a dictionary trained too wide).
/// </summary>
[Validator("acme.duplicates",
    Title = "Duplicate latents",
    Summary = "Reports each latent whose decoder direction is a near copy (cosine ≥ threshold) of an earlier latent's (ACME1001).",
    Reference = "Bricken et al. 2023, Towards Monosemanticity (feature splitting and duplicates).",
    HelpLink = "docs/methods/acme.duplicates.md",
    Requires = ValidationInputs.Decomposition)]
public sealed class DuplicateFeatures : Validator<DuplicateFeaturesOptions>
{
    public static readonly CheckDescriptor Duplicate = new(
        "ACME1001", "Duplicate latent",
        "latent {0} duplicates latent {1} (decoder cosine {2:0.000}, threshold {3:0.000})",
        "Quality", Severity.Warning, "docs/checks/ACME1001.md",
        "cos(d_i, d_j) = d_i · d_j / (|d_i| |d_j|) of decoder rows, for latent i and the earlier latent j < i most similar to it",
        DefaultThreshold: 0.99, Direction: MetricDirection.LowerIsBetter);

    public override ImmutableArray<CheckDescriptor> SupportedChecks { get; } = [Duplicate];

    protected override void Validate(ValidationContext context, DuplicateFeaturesOptions options)
    {
        if (context.Decomposition is not { } decomposition)
        {
            context.CannotRun("it needs a decomposition.", Duplicate);
            return;
        }
        if (context.ThresholdOf(Duplicate) is not double threshold) return;
        using var scope = NewDisposeScope();
        int n = Math.Min(decomposition.DSae, options.MaxLatents);
        var directions = nn.functional.normalize(decomposition.DecoderDirections.narrow(0, 0, n).to(float32), dim: 1);
        // Cosine with every earlier latent; the diagonal and the later ones masked out.
        var cosine = directions.matmul(directions.t()).masked_fill(ones(n, n, dtype: ScalarType.Bool).triu(), float.NegativeInfinity);
        var (best, index) = cosine.max(1);
        var similarity = best.data<float>().ToArray();
        var earlier = index.data<long>().ToArray();
        for (int i = 1; i < n; i++)
            if (similarity[i] >= threshold)
                context.Report(Duplicate, [i, earlier[i], similarity[i], threshold], value: similarity[i], feature: i);
    }
}
