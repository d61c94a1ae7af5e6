using Mechanist.Decomposers;
using Mechanist.Methods.Analysis;
using Mechanist.Methods.Decomposers;
using Mechanist.Models.Runtime;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests.Analysis;

/// <summary>
/// A stand-in for a grokked modular-addition model, built by hand from known frequencies (3 and 7, mod 23): the
/// embedding holds cos/sin of the key frequencies plus noise; at the last position the MLP computes
/// cos(w_k(a + b) + φ_j) + 1.5 for four phases per key frequency (amplitudes 1 and 0.7) and two distractor
/// neurons at frequency 5 that the readout ignores; logits_c = 5 Σ_k A_k cos(w_k(a + b − c)).
/// </summary>
sealed class FourierStandIn : HookedModel
{
    public const int P = 23;
    public static readonly int[] Key = [3, 7];
    static readonly double[] Amplitude = [1.0, 0.7];
    const int Phases = 4;
    readonly HookPoint _post;

    public FourierStandIn() : base("fourier-stand-in")
    {
        _post = Site("blocks.0.mlp.hook_post");
        var g = new Generator(9);
        var x = arange(P, dtype: ScalarType.Float64);
        var columns = Key.SelectMany(k => new[] { (x * (2 * Math.PI * k / P)).cos(), (x * (2 * Math.PI * k / P)).sin() }).ToList();
        var numbers = cat([stack(columns, 1), randn(P, 4, ScalarType.Float64, generator: g) * 0.05], 1);
        Embedding = cat([numbers, randn(1, 8, ScalarType.Float64, generator: g)], 0).DetachFromDisposeScope();
        RegisterComponents();
    }

    public Tensor Embedding { get; }

    public override string ModelType => "fourier-stand-in";

    public override Tensor forward(Tensor tokens)
    {
        var sum = (tokens.select(1, 0) + tokens.select(1, 1)).to(ScalarType.Float64);
        var neurons = new List<Tensor>();
        for (int i = 0; i < Key.Length; i++)
            for (int j = 0; j < Phases; j++)
                neurons.Add(Amplitude[i] * (sum * (2 * Math.PI * Key[i] / P) + 2 * Math.PI * j / Phases).cos() + 1.5);
        var a = tokens.select(1, 0).to(ScalarType.Float64);
        neurons.Add(0.3 * (a * (2 * Math.PI * 5 / P)).cos());
        neurons.Add(0.3 * (a * (2 * Math.PI * 5 / P)).sin());
        var last = stack(neurons, 1);                                           // [B, 10]
        var post = _post.call(stack([zeros_like(last), zeros_like(last), last], 1)).select(1, -1);
        var c = arange(P, dtype: ScalarType.Float64);
        var readout = new List<Tensor>();
        for (int i = 0; i < Key.Length; i++)
            for (int j = 0; j < Phases; j++)
                readout.Add((c * (2 * Math.PI * Key[i] / P) + 2 * Math.PI * j / Phases).cos() * (2.0 / Phases));
        readout.Add(zeros(P, ScalarType.Float64));
        readout.Add(zeros(P, ScalarType.Float64));
        var logits = 5 * post.matmul(stack(readout, 0));                        // [B, P]
        return stack([zeros_like(logits), zeros_like(logits), logits], 1);
    }
}

public class ModularFourierTests
{
    [Fact]
    public void The_basis_is_orthonormal_and_a_pure_frequency_has_all_its_power_there()
    {
        using var scope = NewDisposeScope();
        var b = ModularFourier.Basis(23);
        Assert.True((b.matmul(b.t()) - eye(23, dtype: ScalarType.Float64)).abs().max().item<double>() < 1e-12);
        Assert.Equal("cos 4", ModularFourier.Label(7));
        Assert.Equal("sin 4", ModularFourier.Label(8));
        var x = arange(23, dtype: ScalarType.Float64);
        var table = stack([(x * (2 * Math.PI * 5 / 23) + 0.3).cos(), full(23, 2.0, ScalarType.Float64)], 1);
        var power = ModularFourier.FrequencyPower(table);
        Assert.Equal(12, power.Length);
        Assert.Equal(1.0, ModularFourier.Share(power, [5]), 12);
        Assert.Equal(23 * 4.0, power[0], 9);                 // the constant column: ‖2·1‖² = 4p
        Assert.Equal([5], ModularFourier.KeyFrequencies(power));
    }

    [Fact]
    public void Ablation_is_an_orthogonal_projection_that_removes_exactly_the_chosen_frequencies()
    {
        using var scope = NewDisposeScope();
        const int p = 23;
        var a = arange(p, dtype: ScalarType.Float64).view(p, 1, 1);
        var b = arange(p, dtype: ScalarType.Float64).view(1, p, 1);
        var key = (2 * Math.PI * 3 / p * (a + b)).cos();                    // frequency 3 in a + b
        var other = (2 * Math.PI * 5 / p * a).sin() * 0.5;                  // frequency 5 in a
        var grid = (key + other + 1).expand(p, p, 1).contiguous();
        Assert.True((ModularFourier.Ablate(grid, [3]) - (other + 1)).abs().max().item<double>() < 1e-12);
        Assert.True((ModularFourier.Ablate(grid, [5]) - (key + 1)).abs().max().item<double>() < 1e-12);
        var once = ModularFourier.Ablate(grid, [3, 9]);
        Assert.True((ModularFourier.Ablate(once, [3, 9]) - once).abs().max().item<double>() < 1e-12);
        Assert.Equal(0.8, ModularFourier.Share2D(grid, [3]), 9);           // power 1/2 vs 1/8 over the grid
        var (freq, share) = ModularFourier.ChannelFrequencies(cat([key, other.expand(p, p, 1), zeros(p, p, 1, ScalarType.Float64)], 2));
        Assert.Equal([3, 5, 0], freq);
        Assert.Equal(1.0, share[0], 9);
        Assert.Equal(1.0, share[1], 9);
        Assert.Equal(0.0, share[2]);
    }

    [Fact]
    public void The_analysis_finds_the_key_frequencies_and_ablating_them_destroys_accuracy()
    {
        using var scope = NewDisposeScope();
        using var model = new FourierStandIn();
        var result = ModularAdditionAnalysis.Run(model, model.Embedding, FourierStandIn.P, new ModularAdditionAnalysis.Settings { Seed = 1 },
            acts => ("pca", new Pca().Fit(new DecomposeContext { Activations = acts, Options = new PcaOptions { Components = 4 } })));
        Assert.Equal(FourierStandIn.Key, result.KeyFrequencies);
        Assert.True(result.EmbeddingKeyShare > 0.95, $"{result.EmbeddingKeyShare}");
        Assert.True(result.MlpKeyShare > 0.95 && result.MlpKeyShare < 1, $"{result.MlpKeyShare}");
        Assert.Equal(4, result.NeuronsPerFrequency[3]);
        Assert.Equal(4, result.NeuronsPerFrequency[7]);
        Assert.Equal(2, result.NeuronsPerFrequency[5]);
        Assert.Equal(0.8, result.NeuronsOnKeyFraction, 9);

        Assert.Equal(1.0, result.Clean.Accuracy);
        // Without the key frequencies the logits are constant up to rounding: chance accuracy, loss log p.
        Assert.True(result.KeyAblated.Accuracy < 2.0 / FourierStandIn.P, $"{result.KeyAblated.Accuracy}");
        Assert.Equal(Math.Log(FourierStandIn.P), result.KeyAblated.Loss, 6);
        Assert.Equal(1.0, result.OthersAblated.Accuracy);
        Assert.Equal(result.Clean.Loss, result.OthersAblated.Loss, 9);
        Assert.Equal(5, result.RandomAblated.Count);
        Assert.All(result.RandomAblated, r => Assert.Equal(1.0, r.Score.Accuracy));

        var features = result.Features!;
        Assert.Equal(8, features.Total);
        Assert.Equal(8, features.Alive);
        Assert.Equal(8, features.TiedToKey);
        Assert.Equal(4, features.PerKeyFrequency[3]);
        Assert.Equal(4, features.PerKeyFrequency[7]);
        var text = result.Describe();
        Assert.Contains("key frequencies (embedding, 2 covering", text);
        Assert.Contains(": 3, 7", text);
        Assert.Equal(0, model.ActiveHookCount);
    }

    /// <summary>
    /// The definition of a feature's tie, justified on features whose answer is known, mod 31: localised features
    /// that fire in a narrow window of the phase k(a + b) (ReLU(cos(2πk(a + b)/p − θ) − 0.9), as a sparse latent
    /// does) are tied to k; features that fire on random pairs, or on the pairs of one sum (a + b ≡ c, every
    /// frequency alike), are tied to nothing. One frequency's share misses every localised feature; the share of its
    /// first four harmonics finds each, at the right k, and none of the others. The decoder-direction share — the
    /// tie the analysis reports — agrees on all of them, and random directions stay below it.
    /// </summary>
    [Fact]
    public void A_localised_feature_is_tied_to_its_frequency_through_its_harmonics_and_random_ones_are_not()
    {
        using var scope = NewDisposeScope();
        const int p = 31;
        var a = arange(p, dtype: ScalarType.Float64).view(p, 1);
        var b = arange(p, dtype: ScalarType.Float64).view(1, p);
        Tensor Phase(int k) => (a + b) * (2 * Math.PI * k / p);
        var features = new List<Tensor>();
        var truth = new List<int>();
        foreach (var k in new[] { 3, 7 })
            foreach (var theta in new[] { 0.0, 1.1, 2.5, 4.0 })
            {
                features.Add((Phase(k) - theta).cos().sub(0.9).relu());
                truth.Add(k);
            }
        var g = new Generator(4);
        for (int i = 0; i < 4; i++)
        {
            features.Add(rand(p, p, ScalarType.Float64, generator: g).lt(0.05).to(ScalarType.Float64) * rand(p, p, ScalarType.Float64, generator: g));
            truth.Add(0);
        }
        foreach (var c in new[] { 0, 5, 17 })
        {
            features.Add((a + b).remainder(p).eq(c).to(ScalarType.Float64));
            truth.Add(0);
        }
        var grid = stack(features, 2);                                                       // [p, p, 15]

        var (oneFrequency, oneShare) = ModularFourier.ChannelFrequencies(grid);
        var (frequency, share) = ModularFourier.HarmonicFrequencies(grid, 4);
        for (int f = 0; f < truth.Count; f++)
        {
            if (truth[f] != 0)
            {
                Assert.True(oneShare[f] < 0.5, $"feature {f}: one frequency holds only {oneShare[f]:0.###} of a localised feature");
                Assert.Equal(truth[f], frequency[f]);
                Assert.True(share[f] >= 0.5, $"feature {f}: its harmonics hold {share[f]:0.###}");
            }
            else Assert.True(share[f] < 0.5 && oneShare[f] < 0.5, $"feature {f} (not localised in any phase) holds {share[f]:0.###}");
        }
        // One harmonic is the one-frequency share exactly.
        var (sameFrequency, sameShare) = ModularFourier.HarmonicFrequencies(grid, 1);
        Assert.Equal(oneFrequency, sameFrequency);
        for (int f = 0; f < truth.Count; f++) Assert.Equal(oneShare[f], sameShare[f], 12);
        Assert.Equal([3, 6, 9, 12], ModularFourier.Harmonics(3, p, 4).ToArray());
        Assert.Equal([3, 7, 10, 14], ModularFourier.Harmonics(7, p, 4).ToArray());    // 7, 14, 21 ≡ −10, 28 ≡ −3

        // Decoder directions over neurons of frequencies 3, 7 (keys) and 5, 11: each localised feature's direction (its
        // mean activation pattern over the pairs it fires on, minus the overall mean) lies on its own frequency's neurons.
        var neurons = new List<Tensor>();
        var neuronFrequency = new List<int>();
        foreach (var k in new[] { 3, 7, 5, 11 })
            for (int j = 0; j < 16; j++)
            {
                neurons.Add((Phase(k) + 2 * Math.PI * j / 16).cos().relu());
                neuronFrequency.Add(k);
            }
        var acts = stack(neurons, 2).reshape(p * p, -1);                                    // [p², 64]
        var (measured, _) = ModularFourier.ChannelFrequencies(stack(neurons, 2));
        Assert.Equal(neuronFrequency, measured);
        var weights = grid.reshape(p * p, -1);
        var decoder = (weights.t().matmul(acts) / weights.sum(dim: 0).unsqueeze(1)) - acts.mean([0]);   // [15, 64]
        // Against chance: Gaussian directions over the 64 neurons (a quarter of the norm per frequency on average).
        var random = randn(20, 64, ScalarType.Float64, generator: new Generator(8));
        var (decoderFrequency, decoderShare) = ModularFourier.DecoderFrequencies(cat([decoder, random], 0), measured);
        for (int f = 0; f < truth.Count; f++)
            if (truth[f] != 0)
            {
                Assert.Equal(truth[f], decoderFrequency[f]);
                Assert.True(decoderShare[f] >= 0.5, $"feature {f}: decoder share {decoderShare[f]:0.###}");
            }
            else if (f >= 12) Assert.True(decoderShare[f] < 0.5, $"feature {f} (one sum a + b, every frequency alike): decoder share {decoderShare[f]:0.###}");
        // Features 8-11 fire on 5% of the pairs at random: their mean activation pattern is a handful of phases per
        // frequency, and can by chance lean on one frequency's neurons. The decoder tie is blind to that; the
        // activation tie above rejects them.
        for (int r = truth.Count; r < truth.Count + 20; r++)
            Assert.True(decoderShare[r] < 0.5, $"a random direction puts {decoderShare[r]:0.###} on one frequency's neurons");
    }
}
