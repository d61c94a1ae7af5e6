using CsCheck;
using Mechanist.Decomposers;
using Mechanist.Host.Formats;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Host.Tests;

/// <summary>
/// Property: any SAELens-layout folder the project writes, for any architecture, sizes and settings, loads back as a
/// decomposition that encodes and decodes exactly as the original (bit for bit), with the same tensors and settings.
/// </summary>
public sealed class SaeLensRoundTripPropertyTests
{
    /// <summary>What one generated decomposition is made of; <see cref="Build"/> turns it into the object.</summary>
    public sealed record Spec(string Architecture, int DIn, int DSae, int DOut, int Sites, int K, bool ApplyBDec, bool Rescale, int Seed, string Hook)
    {
        public override string ToString() =>
            $"{Architecture} d_in {DIn} d_sae {DSae} d_out {DOut} sites {Sites} k {K} apply_b_dec {ApplyBDec} rescale {Rescale} seed {Seed} hook '{Hook}'";
    }

    static readonly string[] Architectures = ["standard", "topk", "jumprelu", "gated", "transcoder", "skip_transcoder", "crosscoder"];

    static readonly Gen<Spec> Specs =
        Gen.SelectMany(Gen.OneOf(Architectures), Gen.Int[1, 6], Gen.Int[1, 9], Gen.Int[1, 5], Gen.Int[1, 3], Gen.Bool, Gen.Bool, Gen.Int[0, 1000],
            (arch, dIn, dSae, dOut, sites, applyBDec, rescale, seed) =>
                Gen.Select(Gen.Int[1, dSae], Gen.OneOf("", "blocks.0.hook_resid_post", "hook 'q\" ü\n"))
                    .Select((k, hook) => new Spec(arch, dIn, dSae, arch.Contains("transcoder") ? dOut : dIn, arch == "crosscoder" ? sites : 1, k, applyBDec, rescale, seed, hook)));

    static Decomposition Build(Spec s)
    {
        var g = new Generator((ulong)s.Seed);
        Tensor R(params long[] shape) => randn(shape, generator: g);
        int dIn = s.DIn * s.Sites;
        Decomposition d = s.Architecture switch
        {
            "standard" => new StandardSae(R(dIn, s.DSae), R(s.DSae), R(s.DSae, dIn), R(dIn), s.ApplyBDec),
            "topk" => new TopKSae(R(dIn, s.DSae), R(s.DSae), R(s.DSae, dIn), R(dIn), s.K, s.ApplyBDec, s.Rescale),
            "jumprelu" => new JumpReluSae(R(dIn, s.DSae), R(s.DSae), R(s.DSae, dIn), R(dIn), R(s.DSae).abs(), s.ApplyBDec),
            "gated" => new GatedSae(R(dIn, s.DSae), R(s.DSae), R(s.DSae), R(s.DSae), R(s.DSae, dIn), R(dIn), s.ApplyBDec),
            "transcoder" => new Transcoder(R(dIn, s.DSae), R(s.DSae), R(s.DSae, s.DOut), R(s.DOut)),
            "skip_transcoder" => new Transcoder(R(dIn, s.DSae), R(s.DSae), R(s.DSae, s.DOut), R(s.DOut), R(s.DOut, dIn)),
            "crosscoder" => new Crosscoder(R(dIn, s.DSae), R(s.DSae), R(s.DSae, dIn), R(dIn), s.Sites, Enumerable.Range(0, s.Sites).Select(i => $"blocks.{i}.hook_resid_post").ToList()),
            _ => throw new ArgumentException(s.Architecture),
        };
        d.Metadata = new DecompositionMetadata { Method = "property-test", HookName = s.Hook };
        return d;
    }

    [Fact]
    public void Any_folder_the_project_writes_reloads_to_identical_encode_and_decode()
    {
        using var temp = new TempDir();
        int folder = 0;
        Specs.Sample(spec =>
        {
            using var scope = NewDisposeScope();
            using var original = Build(spec);
            var path = temp.File($"sae{folder++}");
            DecompositionFolder.Save(path, original);
            using var loaded = DecompositionFolder.Load(path);

            Assert.Equal(original.GetType(), loaded.GetType());
            Assert.Equal((original.Architecture, original.DIn, original.DSae, original.DOut), (loaded.Architecture, loaded.DIn, loaded.DSae, loaded.DOut));
            Assert.Equal(original.StateDict().Keys.Order(), loaded.StateDict().Keys.Order());
            foreach (var (name, t) in original.StateDict())
                Assert.True(TensorAssert.Identical(t, loaded.StateDict()[name]), $"tensor {name}");
            Assert.Equal(original.ConfigEntries().Keys.Order(), loaded.ConfigEntries().Keys.Order());
            Assert.Equal(spec.Hook, loaded.Metadata.HookName);

            var x = randn([5, original.DIn], generator: new Generator((ulong)spec.Seed + 1)) * 2;
            var latents = original.Encode(x);
            Assert.True(TensorAssert.Identical(latents, loaded.Encode(x)), "encode");
            Assert.True(TensorAssert.Identical(original.Decode(latents, x), loaded.Decode(latents, x)), "decode");
            Assert.True(TensorAssert.Identical(original.DecoderDirections, loaded.DecoderDirections), "decoder directions");
        }, iter: 150, threads: 1);
    }
}
