using Mechanist.Decomposers;
using Mechanist.Methods.Evaluation;
using Mechanist.Models.Tasks;
using Mechanist.Testing;
using static TorchSharp.torch;

namespace Mechanist.Methods.Tests;

public class SaeTrainingTests
{
    static readonly Lazy<(ActivationMatrix Data, Tensor Directions)> Superposition = new(() =>
    {
        var (x, directions) = SuperpositionData.Generate(new SuperpositionSettings(Features: 64, Dimension: 32, ActivePerSample: 5, Samples: 20_000, Seed: 1));
        return (new ActivationMatrix("superposition-64-in-32", x), directions);
    });

    static Dictionary<string, string> Settings(params string[] pairs) =>
        pairs.Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    /// <summary>
    /// 64 ground-truth features in 32 dimensions, about 5 active per row: sparse dictionaries recover them
    /// (MMCS ≥ 0.95), PCA cannot (at most 32 orthogonal directions).
    /// </summary>
    [Theory]
    [InlineData("sae.topk", "k=5")]
    [InlineData("sae.relu", "sparsity_coefficient=2")]
    public void Recovers_superposed_features_where_pca_cannot(string method, string setting)
    {
        var (data, directions) = Superposition.Value;
        using var sae = SaeTraining.Fit(method, data, Settings("d_sae=128", "steps=1500", "batch_size=256", "lr=0.003", setting));
        var mmcs = DecompositionMetrics.ComputeMmcs(directions, sae.DecoderDirections);
        Assert.True(mmcs >= 0.95, $"{method}: mmcs {mmcs}");
        using var pca = SaeTraining.Fit("pca", data, Settings("components=32"));
        var pcaMmcs = DecompositionMetrics.ComputeMmcs(directions, pca.DecoderDirections);
        Assert.True(pcaMmcs < 0.7, $"pca: mmcs {pcaMmcs}");
    }

    public static TheoryData<string, string> Variants() => new()
    {
        { "sae.relu", "sparsity_coefficient=2;resample_every=50;dead_after_rows=2000" },
        { "sae.topk", "k=4;dead_after_rows=2000" },
        { "sae.batchtopk", "k=4;dead_after_rows=2000" },
        { "sae.jumprelu", "steps=1000" },
        { "sae.gated", "" },
        { "sae.matryoshka", "k=4;matryoshka_widths=16,32" },
    };

    /// <summary>Every autoencoder variant learns: a better reconstruction than the mean, and finite weights.</summary>
    [Theory]
    [MemberData(nameof(Variants))]
    public void Every_variant_learns_the_data(string method, string extra)
    {
        var (data, directions) = Superposition.Value;
        using var sae = SaeTraining.Fit(method, data, Settings(["d_sae=64", "batch_size=256", "lr=0.003",
            .. (extra.Contains("steps=") ? Array.Empty<string>() : ["steps=300"]), .. extra.Split(';', StringSplitOptions.RemoveEmptyEntries)]));
        var metrics = DecompositionMetrics.Compute(sae, data, directions);
        Assert.True(metrics.ExplainedVariance > 0.5, $"{method}: explained variance {metrics.ExplainedVariance}");
        Assert.True(metrics.L0 < 32, $"{method}: l0 {metrics.L0}");
        Assert.True(metrics.Mmcs > 0.6, $"{method}: mmcs {metrics.Mmcs}");
        Assert.True(sae.Training.ContainsKey("activation_scale"));
    }

    /// <summary>
    /// Data generated with a seed and an SAE trained with the same seed: the SAE must not start at the answer. Its
    /// initial decoder was once randn(d_sae, d) from a generator seeded with the seed, the same stream the data's
    /// directions are drawn from, so the first rows were the true features and MMCS was 1.0 before any training.
    /// </summary>
    [Fact]
    public void An_sae_does_not_start_from_the_directions_of_data_generated_with_its_seed()
    {
        var (x, directions) = SuperpositionData.Generate(new SuperpositionSettings(Features: 64, Dimension: 32, Samples: 512, Seed: 5));
        using var data = new ActivationMatrix("seed-5", x);
        using var sae = SaeTraining.Fit("sae.topk", data, Settings("d_sae=128", "steps=1", "batch_size=64", "k=4"), seed: 5);
        var mmcs = DecompositionMetrics.ComputeMmcs(directions, sae.DecoderDirections);
        Assert.True(mmcs < 0.8, $"MMCS {mmcs} after one step: the initial decoder holds the data's directions");
    }

    /// <summary>Same data, options and seed: the same weights, bit for bit.</summary>
    [Fact]
    public void Training_is_deterministic_for_a_seed()
    {
        var (data, _) = Superposition.Value;
        var settings = Settings("d_sae=64", "steps=30", "batch_size=128", "k=4");
        using var a = SaeTraining.Fit("sae.topk", data, settings, seed: 7);
        using var b = SaeTraining.Fit("sae.topk", data, settings, seed: 7);
        using var c = SaeTraining.Fit("sae.topk", data, settings, seed: 8);
        foreach (var (name, t) in a.StateDict()) Assert.True(TensorAssert.Identical(t, b.StateDict()[name]), name);
        Assert.False(TensorAssert.Identical(a.DecoderDirections, c.DecoderDirections));
    }

    public static TheoryData<string, string> ResumeCases() => new()
    {
        { "sae.topk", "k=4;dead_after_rows=512" },
        { "sae.batchtopk", "k=4;dead_after_rows=512" },
        { "sae.relu", "resample_every=7;dead_after_rows=512" },
        { "sae.jumprelu", "" },
        { "sae.gated", "target_l0=3" },
        { "sae.jumprelu", "target_l0=12" },
    };

    /// <summary>
    /// A run stopped half-way (after its checkpoint at step 20) and started again with the same options resumes
    /// and ends with exactly the weights of a run that was never interrupted.
    /// </summary>
    [Theory]
    [MemberData(nameof(ResumeCases))]
    public void A_run_killed_half_way_resumes_to_the_same_weights(string method, string extra)
    {
        var (data, _) = Superposition.Value;
        using var temp = new TempDir();
        var common = new[] { "d_sae=64", "steps=40", "batch_size=96", "shuffle_buffer=3" }.Concat(extra.Split(';', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        using var uninterrupted = SaeTraining.Fit(method, data, Settings(common), seed: 3);

        var checkpointed = Settings([.. common, "checkpoint_every=10", $"checkpoint_dir={temp.File("ckpt")}"]);
        using var cts = new CancellationTokenSource();
        var progress = new SaeTraining.SyncProgress(p => { if (p.Step >= 25) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => SaeTraining.Fit(method, data, checkpointed, seed: 3, cancellation: cts.Token, progress: progress));
        Assert.Equal(["step-000000020"], Directory.GetDirectories(temp.File("ckpt")).Select(Path.GetFileName));

        long firstStep = -1;
        using var resumed = SaeTraining.Fit(method, data, checkpointed, seed: 3,
            progress: new SaeTraining.SyncProgress(p => { if (firstStep < 0) firstStep = p.Step; }));
        Assert.Equal(21, firstStep);
        foreach (var (name, t) in uninterrupted.StateDict())
            Assert.True(TensorAssert.Identical(t, resumed.StateDict()[name]), $"{method}: {name} differs after resuming");
    }

    /// <summary>
    /// A streamed source (shards of 777 rows, batches cut at shard boundaries, each batch a fresh tensor) trains to
    /// exactly the weights of the same rows held in memory: batches depend only on the rows, the seed and the step.
    /// </summary>
    [Fact]
    public void Streaming_source_trains_exactly_like_the_same_rows_in_memory()
    {
        var (data, _) = Superposition.Value;
        var settings = Settings("d_sae=64", "steps=40", "batch_size=200", "k=4", "shuffle_buffer=3");
        using var fromMemory = SaeTraining.Fit("sae.topk", data, settings, seed: 2);
        using var fromShards = SaeTraining.Fit("sae.topk", new ShardedSource(data.Data, 777), settings, seed: 2);
        foreach (var (name, t) in fromMemory.StateDict())
            Assert.True(TensorAssert.Identical(t, fromShards.StateDict()[name]), name);
    }

    /// <summary>An activation store stand-in: rows in shards, read one bounded batch at a time, never all at once.</summary>
    sealed class ShardedSource(Tensor rows, int shardRows) : IActivationSource
    {
        public string Name => "sharded-store";
        public long Count => rows.shape[0];
        public int Dimension => (int)rows.shape[1];

        public IEnumerable<Tensor> ReadBatches(int batchSize)
        {
            for (long shard = 0; shard < Count; shard += shardRows)
            {
                long end = Math.Min(Count, shard + shardRows);
                for (long start = shard; start < end; start += batchSize)
                    yield return rows.narrow(0, start, Math.Min(batchSize, end - start)).clone();
            }
        }
    }

    [Fact]
    public void A_checkpoint_of_another_run_is_an_input_error()
    {
        var (data, _) = Superposition.Value;
        using var temp = new TempDir();
        var dir = $"checkpoint_dir={temp.File("ckpt")}";
        using (SaeTraining.Fit("sae.topk", data, Settings("d_sae=64", "steps=4", "batch_size=64", "k=4", "checkpoint_every=2", dir))) { }
        var e = Assert.Throws<MechanistInputException>(() => SaeTraining.Fit("sae.topk", data, Settings("d_sae=64", "steps=4", "batch_size=64", "k=5", "checkpoint_every=2", dir)));
        Assert.Contains("option.k was '4', now '5'", e.Message);
    }

    /// <summary>
    /// A strong L1 penalty kills latents; resampling at the last step points them at badly reconstructed inputs, so
    /// they fire again on the data.
    /// </summary>
    [Fact]
    public void Resampling_revives_dead_latents()
    {
        var (data, _) = Superposition.Value;
        string[] common = ["d_sae=64", "steps=100", "batch_size=128", "lr=0.01", "sparsity_coefficient=50", "sparsity_warmup_fraction=0", "dead_after_rows=512"];
        using var plain = SaeTraining.Fit("sae.relu", data, Settings(common));
        using var resampled = SaeTraining.Fit("sae.relu", data, Settings([.. common, "resample_every=100"]));
        var deadPlain = DecompositionMetrics.Compute(plain, data).DeadFraction;
        var deadResampled = DecompositionMetrics.Compute(resampled, data).DeadFraction;
        Assert.True(deadPlain > 0.2, $"the penalty should kill latents: dead fraction {deadPlain}");
        Assert.True(deadResampled < deadPlain / 2, $"resampled dead fraction {deadResampled} vs {deadPlain} without");
    }

    [Fact]
    public void K_larger_than_the_dictionary_is_an_input_error()
    {
        var (data, _) = Superposition.Value;
        var e = Assert.Throws<MechanistInputException>(() => SaeTraining.Fit("sae.topk", data, Settings("expansion_factor=1", "k=40")));
        Assert.Contains("'k' is 40", e.Message);
        Assert.Contains("d_sae = 32", e.Message);
    }

    [Fact]
    public void Nan_in_streamed_activations_is_an_input_error_naming_the_source()
    {
        var x = randn(300, 8);
        x[123, 5] = tensor(float.NaN);
        using var data = new ActivationMatrix("stream-with-nan", x);
        var e = Assert.Throws<MechanistInputException>(() => SaeTraining.Fit("sae.relu", data, Settings("steps=3", "batch_size=64")));
        Assert.Contains("stream-with-nan", e.Message);
        Assert.Contains("row 123, column 5", e.Message);
    }

    [Fact]
    public void Normalisation_is_folded_into_the_saved_weights()
    {
        // The same data at two scales: the normalised model's latents match after folding (up to float rounding),
        // and the decoder of the scaled copy is 1000 times larger.
        var (data, _) = Superposition.Value;
        var settings = Settings("d_sae=64", "steps=20", "batch_size=128", "k=4");
        using var scaled = new ActivationMatrix("scaled", data.Data * 1000);
        using var a = SaeTraining.Fit("sae.topk", data, settings);
        using var b = SaeTraining.Fit("sae.topk", scaled, settings);
        var scaleA = ((double[])a.Training["activation_scale"])[0];
        var scaleB = ((double[])b.Training["activation_scale"])[0];
        Assert.Equal(1000, scaleA / scaleB, 2);
        var sample = data.Data.narrow(0, 0, 200);
        var fa = a.Encode(sample);
        var fb = b.Encode(sample * 1000);
        Assert.True((fa - fb).abs().max().item<float>() < 1e-3 * fa.abs().max().item<float>());
        Assert.True(((b.Reconstruct(sample * 1000) / 1000) - a.Reconstruct(sample)).abs().max().item<float>() < 1e-3);
    }
}
