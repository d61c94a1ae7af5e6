using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Mechanist.Methods.Decomposers;

/// <summary>
/// Principal component analysis as a dictionary: the top eigenvectors of the activations' covariance. The
/// baseline that fails under superposition (it can find at most d orthogonal directions), kept so comparisons are
/// honest. Saved as a SAELens <c>standard</c> SAE with 2·components latents (each component split into its
/// positive and negative half), which reconstructs exactly like the linear projection.
/// </summary>
[Decomposer("pca",
    Title = "Principal component analysis",
    Summary = "Top eigenvectors of the activation covariance (streamed, float64). Signed codes stored as +/- latent pairs of a standard SAE; d_sae = 2 x components.",
    Reference = "Pearson 1901, On lines and planes of closest fit; Hotelling 1933.",
    HelpLink = "docs/methods/pca.md")]
public sealed class Pca : Decomposer<PcaOptions>
{
    protected override Decomposition Fit(DecomposeContext context, PcaOptions options)
    {
        var source = context.Activations;
        if (options.Components > source.Dimension)
            throw new MechanistInputException(
                $"option 'components' of method 'pca' is {options.Components}, more than the activation dimension {source.Dimension} of {source.Name}.");
        using var scope = NewDisposeScope();
        var (mean, covariance) = ActivationStatistics.MeanAndCovariance(source, options.BatchSize, context.Device, context.CancellationToken);
        var (_, eigenvectors) = linalg.eigh(covariance);
        // eigh sorts ascending: take the last k columns, largest first.
        var top = eigenvectors.narrow(1, source.Dimension - options.Components, options.Components).flip(1).t();
        top = FixSigns(top);
        var components = top.to(ScalarType.Float32);
        return StandardSae.FromSignedLinear(components, components, mean.to(ScalarType.Float32));
    }

    /// <summary>Makes each row's largest-magnitude entry positive, so results do not depend on the solver's sign choice.</summary>
    internal static Tensor FixSigns(Tensor rows)
    {
        var index = rows.abs().argmax(1, keepdim: true);
        var signs = rows.gather(1, index).sign();
        signs = where(signs == 0, ones_like(signs), signs);
        return rows * signs;
    }
}

public sealed record PcaOptions : MethodOptions
{
    [Option("Number of principal components kept (the SAE has twice as many latents).")]
    public int Components { get; init; } = 16;

    [Option("Rows per batch while accumulating the covariance.")]
    public int BatchSize { get; init; } = 4096;

    public override IEnumerable<OptionError> Validate()
    {
        if (Components < 1) yield return new("components", $"must be at least 1, got {Components}");
        if (BatchSize < 1) yield return new("batch_size", $"must be at least 1, got {BatchSize}");
    }
}
