using Mechanist.Decomposers;
using Mechanist.Host.Formats;
using Mechanist.IO;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

/// <summary>
/// Folders in SAELens's (and sparsify's) layout written by an independent Python script with the latents and
/// reconstructions their encode/decode equations give (tests/Fixtures/saelens/make_fixtures.py): Mechanist must load
/// them and compute the same values.
/// </summary>
public class SaeLensFixtureTests
{
    static string Fixture(string name) => Path.Combine(Repo.Root, "tests", "Fixtures", "saelens", name);

    [Theory]
    [InlineData("standard", "standard")]
    [InlineData("topk", "topk")]
    [InlineData("topk_legacy", "topk")]
    [InlineData("jumprelu", "jumprelu")]
    [InlineData("gated", "gated")]
    [InlineData("skip_transcoder", "skip_transcoder")]
    [InlineData("sparsify", "topk")]
    public void Loads_and_encodes_as_the_reference_equations(string folder, string architecture)
    {
        using var sae = DecompositionFolder.Load(Fixture(folder));
        Assert.Equal(architecture, sae.Architecture);
        var expected = Safetensors.ReadAll(Path.Combine(Fixture(folder), "expected.safetensors"));
        var x = expected["activations"];
        var latents = sae.Encode(x);
        Assert.Equal(expected["latents"].shape, latents.shape);
        var latentError = (latents - expected["latents"]).abs().max().item<float>();
        Assert.True(latentError <= 1e-5, $"{folder}: max latent error {latentError}");
        // Same active set, not just close values.
        Assert.True(TensorAssert.Identical(latents != 0, expected["latents"] != 0), $"{folder}: active latents differ");
        var reconstructionError = (sae.Reconstruct(x) - expected["reconstruction"]).abs().max().item<float>();
        Assert.True(reconstructionError <= 1e-5, $"{folder}: max reconstruction error {reconstructionError}");
    }

    [Fact]
    public void Fixture_metadata_is_read_from_both_config_generations()
    {
        using var current = DecompositionFolder.Load(Fixture("topk"));
        using var legacy = DecompositionFolder.Load(Fixture("topk_legacy"));
        Assert.Equal("blocks.3.hook_resid_post", current.Metadata.HookName);
        Assert.Equal("blocks.3.hook_resid_post", legacy.Metadata.HookName);
        Assert.Equal(5, ((TopKSae)legacy).K);
        Assert.False(((JumpReluSae)DecompositionFolder.Load(Fixture("jumprelu"))).ApplyBDecToInput);
    }

    /// <summary>A folder SAELens wrote, saved again by Mechanist, loads back bit for bit.</summary>
    [Theory]
    [InlineData("standard")]
    [InlineData("topk")]
    [InlineData("jumprelu")]
    [InlineData("gated")]
    [InlineData("skip_transcoder")]
    [InlineData("sparsify")]
    public void Fixtures_round_trip_through_Mechanist_bit_for_bit(string folder)
    {
        using var temp = new TempDir();
        using var sae = DecompositionFolder.Load(Fixture(folder));
        DecompositionFolder.Save(temp.File("again"), sae);
        using var again = DecompositionFolder.Load(temp.File("again"));
        Assert.Equal(sae.Architecture, again.Architecture);
        foreach (var (name, t) in sae.StateDict()) Assert.True(TensorAssert.Identical(t, again.StateDict()[name]), name);
        var x = Safetensors.ReadAll(Path.Combine(Fixture(folder), "expected.safetensors"))["activations"];
        Assert.True(TensorAssert.Identical(sae.Encode(x), again.Encode(x)));
        Assert.True(TensorAssert.Identical(sae.Reconstruct(x), again.Reconstruct(x)));
    }
}
