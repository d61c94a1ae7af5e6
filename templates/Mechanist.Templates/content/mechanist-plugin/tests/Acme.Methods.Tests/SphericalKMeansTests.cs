using Mechanist.Testing;

namespace Acme.Methods.Tests;

public class SphericalKMeansTests
{
    /// <summary>Descriptor, options, a fit on a tiny input, determinism under a seed, SAELens round trip.</summary>
    [Fact]
    public void Conforms() => DecomposerVerifier<SphericalKMeans>.Verify(new ConformanceOptions
    {
        Options = new Dictionary<string, string> { ["clusters"] = "8", ["iterations"] = "5" },
    });
}
