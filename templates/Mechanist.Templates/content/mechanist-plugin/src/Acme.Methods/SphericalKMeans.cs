using Mechanist.Decomposers;
using Mechanist.Discovery;
using Mechanist.Options;
using static TorchSharp.torch;

namespace Acme.Methods;

public sealed record SphericalKMeansOptions : MethodOptions
{
    [Option("number of centroids (latents)")]
    public int Clusters { get; init; } = 16;

    [Option("Lloyd iterations")]
    public int Iterations { get; init; } = 20;
}

/// <summary>
/// Spherical k-means as a dictionary: centroids c_k (unit vectors) of the centred activations, fitted by Lloyd iterations on
/// cosine similarity; latent k = ReLU(c_k · (x − mean)), decoder row k = c_k. Saved as a standard SAE in SAELens layout.
/// </summary>
[Decomposer("acme.kmeans",
    Title = "Spherical k-means",
    Summary = "Centroids of the centred activations on the unit sphere (Lloyd iterations on cosine similarity); latent k = ReLU(c_k · (x − mean)), decoder row k = c_k.",
    Reference = "Dhillon & Modha 2001, Concept decompositions for large sparse text data using clustering.",
    HelpLink = "docs/methods/acme.kmeans.md")]
public sealed class SphericalKMeans : Decomposer<SphericalKMeansOptions>
{
    protected override Decomposition Fit(DecomposeContext context, SphericalKMeansOptions options)
    {
        if (options.Clusters < 1) throw new Mechanist.MechanistInputException($"acme.kmeans: clusters must be at least 1, got {options.Clusters}.");
        using var scope = NewDisposeScope();
        var x = cat(context.Activations.ReadBatches(4096).ToList(), 0).to(float32);
        var mean = x.mean([0]);
        var unit = nn.functional.normalize(x - mean, dim: 1);
        // Seeded from the context: two fits with one seed give the same centroids.
        var pick = randperm(unit.shape[0], generator: context.CreateGenerator()).narrow(0, 0, Math.Min(options.Clusters, unit.shape[0]));
        var centroids = unit.index_select(0, pick);
        for (int i = 0; i < options.Iterations; i++)
        {
            var assignment = unit.matmul(centroids.t()).argmax(1);
            var sums = zeros_like(centroids).index_add(0, assignment, unit, 1);
            // An empty cluster keeps its centroid.
            var empty = sums.norm(1).eq(0).unsqueeze(1);
            centroids = nn.functional.normalize(where(empty, centroids, sums), dim: 1);
        }
        // The SAE owns copies of these tensors (the scope may dispose the originals).
        return new StandardSae(centroids.t(), zeros(centroids.shape[0]), centroids, mean);
    }
}
