using Mechanist.Decomposers;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Acme.Methods.Tests;

public class DuplicateFeaturesTests
{
    /// <summary>Descriptor, checks, MECH0013 without a decomposition, a real check of a tiny model, determinism.</summary>
    [Fact]
    public void Conforms() => ValidatorVerifier<DuplicateFeatures>.Verify();

    /// <summary>A dictionary of 6 orthogonal latents, with latent 3 a copy of latent 1: exactly one finding, at latent 3.</summary>
    [Fact]
    public void Reports_a_copied_latent_and_nothing_else()
    {
        var directions = eye(6, TinyModel.MlpWidth);
        directions[3] = directions[1];
        string folder;
        using (var sae = new StandardSae(directions.t(), zeros(6), directions, zeros(TinyModel.MlpWidth)))
            folder = TestDecompositions.Save(sae, TinyModel.MlpSite);
        try
        {
            ValidatorVerifier<DuplicateFeatures>.VerifyFindings($$"""
                {
                  "model": "{MODEL}",
                  "dataset": { "task": "modular-addition", "options": { "samples": 32 } },
                  "decompositions": { "sae": { "site": "{{TinyModel.MlpSite}}", "path": "{{folder.Replace('\\', '/')}}" } }
                }
                """, ExpectedFinding.Check("ACME1001").At(decomposition: "sae", feature: 3).WithMessage("duplicates latent 1"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
